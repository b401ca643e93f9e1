"""What the suite measures on each device: sizes per kind, for a quick run and a full one.

GPU sizes measure the GPU: the smallest square GEMM is 2048^3 (17 GFLOP, ~25 us on an
H100; a 1024^3 GEMM takes ~3 us, the order of one kernel launch, so it times the host),
buffers are >= 4x the L2 (accel.L2_MULTIPLE), prefill and decode are timed as CUDA graphs.
The full GPU plan is meant to fit `bash benchmarks/run_gpu.sh`'s budget (about 3-4 minutes on
one H100/H200, by estimate: no GPU has run it yet); the suite's deadline (`--deadline-s`)
records whatever has not started by then as skipped, and the int8 points run last.
"""
from __future__ import annotations

from dataclasses import dataclass

from .measure.schema import INT8_WEIGHT_ONLY

MIB = 2**20


@dataclass(frozen=True)
class Plan:
    """Tuples: gemm (m, n, k, dtype); train (config, batch, seq_len); prefill and eager_prefill
    (config, batch, prompt_len); decode and eager_decode (config, batch, context_len)."""

    compute_dtype: str  # the dtype of models; fp32 on CPU, which has slow or no bf16 GEMM
    gemm: tuple = ()
    bandwidth_bytes: tuple = ()
    train: tuple = ()
    prefill: tuple = ()  # the device's real mode: CUDA graph on a GPU, eager on a CPU
    decode: tuple = ()  # the device's real decode mode: CUDA graph on a GPU, eager on a CPU
    eager_decode: tuple = ()  # GPU only: eager decode, a framework-overhead figure, never calibration
    eager_prefill: tuple = ()  # GPU only: eager prefill, the same kind of figure
    quantized_configs: tuple = ()  # configs whose decode points are repeated in each format
    quantized_prefill: bool = True  # repeat their prefill points too (compute-bound: no gain expected)
    formats: tuple = (INT8_WEIGHT_ONLY,)  # quantised formats, each measured only if its gate passes
    gate_windows: int = 32  # held-out windows of 256 tokens for the perplexity gate
    min_run_s: float = 1.0  # timed seconds per point, after warm-up (at least 10 repetitions)


PLANS = {
    ("cpu", True): Plan("float32", min_run_s=0.2, gate_windows=16,
                        gemm=((256, 256, 256, "float32"), (512, 512, 512, "float32"), (256, 256, 256, "bfloat16"),
                              (256, 256, 256, "float8_e4m3fn")),
                        bandwidth_bytes=(16 * MIB,), train=(("tiny", 4, 64),),
                        prefill=(("tiny", 1, 64), ("tiny", 2, 64)), decode=(("tiny", 1, 128), ("tiny", 4, 128)),
                        quantized_configs=("tiny",)),
    ("cpu", False): Plan("float32", min_run_s=1.5,
                         gemm=tuple((n, n, n, "float32") for n in (256, 512, 1024, 2048))
                         + ((8, 4096, 4096, "float32"), (256, 256, 256, "bfloat16"), (1024, 1024, 1024, "bfloat16"),
                            (1024, 1024, 1024, "float8_e4m3fn")),
                         bandwidth_bytes=(64 * MIB, 256 * MIB),
                         train=(("tiny", 8, 128), ("small", 4, 256)),
                         prefill=(("small", 1, 32), ("small", 1, 128), ("small", 1, 512), ("small", 4, 128),
                                  ("mid", 1, 128)),
                         decode=(("small", 1, 256), ("small", 4, 256), ("small", 16, 256),
                                 ("mid", 1, 512), ("mid", 8, 512)),
                         quantized_configs=("small", "mid")),
    ("cuda", True): Plan("bfloat16", min_run_s=0.2, gate_windows=32,
                         gemm=((4096, 4096, 4096, "bfloat16"), (4096, 4096, 4096, "float8_e4m3fn")),
                         bandwidth_bytes=(256 * MIB,), train=(("small", 8, 512),),
                         prefill=(("small", 1, 512),), decode=(("small", 1, 512), ("small", 16, 512)),
                         eager_decode=(("small", 1, 512),), quantized_configs=("small",), quantized_prefill=False),
    ("cuda", False): Plan("bfloat16", min_run_s=0.5, gate_windows=64,
                          gemm=tuple((n, n, n, "bfloat16") for n in (2048, 4096, 8192, 16384))
                          + ((8192, 8192, 8192, "float16"), (8192, 8192, 8192, "float32"),
                             (16, 8192, 8192, "bfloat16"), (4096, 4096, 4096, "float8_e4m3fn"),
                             (8192, 8192, 8192, "float8_e4m3fn")),
                          bandwidth_bytes=(256 * MIB, 1024 * MIB, 4096 * MIB),
                          train=(("mid", 8, 2048), ("1b", 4, 2048), ("1b", 8, 2048)),
                          prefill=tuple(("1b", 1, p) for p in (128, 512, 2048, 8192))
                          + (("1b", 8, 512), ("1b", 32, 512)),
                          decode=tuple(("1b", b, 1024) for b in (1, 8, 32, 128)) + (("1b", 8, 4096),),
                          eager_decode=(("1b", 1, 1024),), eager_prefill=(("1b", 1, 128),),
                          # Weight-only int8 speeds up memory-bound decode; prefill is compute-bound
                          # (and each prefill shape would cost one more compile of the int8 kernel).
                          quantized_configs=("1b",), quantized_prefill=False),
}
