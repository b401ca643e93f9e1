"""Model and GPU specifications: raw fields only; derived numbers live in arithmetic.py."""
from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass, field, fields

from ..core import limits as L
from ..core import arguments as A
from ..core import validate as V
from ..core.errors import InputError, PlannerError, UnknownNameError, show
from ..core.provenance import Source


@dataclass(frozen=True)
class MLASpec:
    """DeepSeek-V2/V3 multi-head latent attention (arXiv:2412.19437, Sec. 2.1.1).

    Keys and values are cached as one compressed latent of `kv_lora_rank` plus a
    shared rotary key of `qk_rope_head_dim` per token and layer.
    """

    q_lora_rank: int  # 0: queries projected directly (DeepSeek-V2-Lite)
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int


MLP_KINDS = ("swiglu", "geglu", "gelu", "relu")  # gated kinds have 3 matrices, plain ones 2
GATED_MLPS = ("swiglu", "geglu")
NORM_KINDS = ("rmsnorm", "layernorm", "layernorm_nobias")  # params per norm: dim, 2 dim, dim
POSITION_KINDS = ("rope", "alibi", "learned")  # learned adds a context_length x dim table
QK_NORM_KINDS = ("", "head", "full")  # "head": one head_dim norm each for q and k (Qwen3, Gemma 3);
#                                       "full": over all heads (OLMo 2: n_heads*hd and n_kv*hd)

# Upper bounds that catch a typo or unit slip (1e9 layers) before it reaches the arithmetic;
# ten times the largest published model in each dimension, a judgement.
_INT_BOUNDS = {
    "n_layers": (1, 10_000), "dim": (1, 1_000_000), "n_heads": (1, 100_000), "n_kv_heads": (1, 100_000),
    "ffn_dim": (1, 10_000_000), "vocab_size": (1, 10_000_000), "context_length": (1, 1_000_000_000),
    "head_dim": (0, 100_000), "n_experts": (0, 100_000), "n_experts_per_token": (0, 100_000),
    "n_shared_experts": (0, 1_000), "moe_ffn_dim": (0, 10_000_000), "shared_expert_ffn_dim": (0, 10_000_000),
    "n_dense_layers": (0, 10_000), "moe_layer_step": (1, 10_000),
    "sliding_window": (0, 1_000_000_000), "sliding_window_pattern": (0, 10_000),
    "norms_per_layer": (0, 8), "extra_params": (0, 10**14), "pretraining_context_length": (0, 1_000_000_000),
}
_MLA_BOUNDS = (0, 1_000_000)


@dataclass(frozen=True)
class ModelSpec:
    """A decoder-only transformer in Llama naming (dim, n_heads, n_kv_heads, ffn_dim).

    Every architecture choice that changes a parameter count, a FLOP or a cached byte is
    a field; the defaults describe a Llama (SwiGLU, RMSNorm, RoPE, no biases, untied).
    """

    name: str
    n_layers: int
    dim: int
    n_heads: int
    n_kv_heads: int  # == n_heads: MHA; 1: MQA; in between: GQA
    ffn_dim: int  # hidden size of a dense layer's MLP
    vocab_size: int
    context_length: int = 4096
    head_dim: int = 0  # 0: dim // n_heads (set in __post_init__)
    tied_embeddings: bool = False  # input embedding shared with the output head
    mlp: str = "swiglu"  # one of MLP_KINDS
    norm: str = "rmsnorm"  # one of NORM_KINDS
    norms_per_layer: int = 2  # pre-attention and pre-MLP; 1 for parallel blocks (GPT-J, phi); 4 for Gemma 2/3
    positions: str = "rope"  # one of POSITION_KINDS
    rotary_fraction: float = 1.0  # share of head_dim rotated (phi-2: 0.4, Pythia: 0.25); no effect on counts
    parallel_block: bool = False  # attention and MLP read the same input (GPT-J, Falcon, Cohere, phi)
    embedding_norm: bool = False  # a norm right after the embedding (BLOOM)
    qk_norm: str = ""  # one of QK_NORM_KINDS
    # Biases. qkv: q, k, v projections; attn_out: output projection; mlp: every MLP matrix (experts too).
    qkv_bias: bool = False
    attn_out_bias: bool = False
    mlp_bias: bool = False
    lm_head_bias: bool = False
    # Sliding-window attention: 0 means none. Pattern 0: every layer uses the window (Mistral v0.1);
    # k > 0: every k-th layer (1-based) attends globally, the rest locally (Gemma 2: 2, Gemma 3: 6).
    sliding_window: int = 0
    sliding_window_pattern: int = 0
    # Mixture of experts. n_experts == 0 means dense.
    n_experts: int = 0  # routed experts per MoE layer
    n_experts_per_token: int = 0
    n_shared_experts: int = 0  # always-on experts (DeepSeek; Qwen2-MoE has one)
    moe_ffn_dim: int = 0  # hidden size of one routed expert; 0: ffn_dim
    shared_expert_ffn_dim: int = 0  # hidden size of one shared expert; 0: moe_ffn_dim
    shared_expert_gate: bool = False  # Qwen2-MoE scales the shared expert by a dim -> 1 gate
    router_bias: bool = False  # gpt-oss
    n_dense_layers: int = 0  # leading layers that stay dense in an MoE model (DeepSeek: 3)
    moe_layer_step: int = 1  # after those, every k-th layer is MoE, the rest dense (Llama 4 Maverick: 2)
    mla: MLASpec | None = None
    extra_params: int = 0  # parameters outside the stack above (e.g. DeepSeek-V3's MTP module)
    published_params: float = 0.0  # total parameters the authors state, for tests
    published_active_params: float = 0.0
    pretraining_tokens: float = 0.0  # tokens the authors report pretraining on; 0: unknown
    pretraining_context_length: int = 0  # sequence length of (the main phase of) pretraining; 0: unknown
    pretraining_source: Source | None = None
    source: Source | None = None
    notes: str = ""

    def __post_init__(self):
        _validate(self)
        if self.head_dim == 0:
            if self.dim % self.n_heads:
                raise InputError(self._field("head_dim"),
                                 f"dim={self.dim} is not divisible by n_heads={self.n_heads}; give head_dim")
            object.__setattr__(self, "head_dim", self.dim // self.n_heads)
        if self.n_experts and self.moe_ffn_dim == 0:
            object.__setattr__(self, "moe_ffn_dim", self.ffn_dim)
        if self.n_experts and self.shared_expert_ffn_dim == 0:
            object.__setattr__(self, "shared_expert_ffn_dim", self.moe_ffn_dim)

    def _field(self, name: str) -> str:
        return f"model {show(self.name)} field {name}"

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 0

    def __hash__(self) -> int:
        """The dataclass hash of the fields, computed once per spec: every cached lookup on a model hashes it
        (about 1.5 us for its 42 fields), and an estimate asks a dozen of them."""
        h = _HASHES.get(id(self))
        if h is None:
            h = _HASHES[id(self)] = hash(tuple(getattr(self, f.name) for f in fields(self)
                                               if (f.compare if f.hash is None else f.hash)))
            weakref.finalize(self, _HASHES.pop, id(self), None)  # forgotten with the spec: ids are reused
        return h

    def to_dict(self) -> dict:
        return asdict(self)


_HASHES: dict[int, int] = {}  # id(ModelSpec) -> its hash (a frozen spec's fields never change)


def _validate(m: ModelSpec) -> None:
    """Refuse impossible or absurd fields with an InputError naming the field, value and range."""
    for name, (lo, hi) in _INT_BOUNDS.items():
        v = getattr(m, name)
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise InputError(m._field(name), f"must be an integer in {lo}..{hi:,}, got {show(v)}")
    for name, kinds in (("mlp", MLP_KINDS), ("norm", NORM_KINDS), ("positions", POSITION_KINDS),
                        ("qk_norm", QK_NORM_KINDS)):
        if not isinstance(getattr(m, name), str) or getattr(m, name) not in kinds:
            raise InputError(m._field(name), f"must be one of {', '.join(repr(k) for k in kinds)}, got {show(getattr(m, name))}")
    if not isinstance(m.rotary_fraction, (int, float)) or not 0.0 < m.rotary_fraction <= 1.0:
        raise InputError(m._field("rotary_fraction"), f"must be in (0, 1], got {show(m.rotary_fraction)}")
    for name in ("published_params", "published_active_params", "pretraining_tokens"):
        v = getattr(m, name)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.0 <= v < 1e16:
            raise InputError(m._field(name), f"must be a number in [0, 1e16), got {show(v)}")
    if m.n_heads % m.n_kv_heads:
        raise InputError(m._field("n_kv_heads"), f"{m.n_kv_heads} does not divide n_heads={m.n_heads}")
    if not m.n_experts and m.n_experts_per_token:
        raise InputError(m._field("n_experts_per_token"),
                         f"is {m.n_experts_per_token} but n_experts is 0 (dense): give n_experts, or 0 experts per token")
    if m.n_experts and not 0 < m.n_experts_per_token <= m.n_experts:
        raise InputError(m._field("n_experts_per_token"),
                         f"must be in 1..n_experts={m.n_experts}, got {m.n_experts_per_token}")
    if m.n_dense_layers > m.n_layers:
        raise InputError(m._field("n_dense_layers"), f"{m.n_dense_layers} exceeds n_layers={m.n_layers}")
    if m.moe_layer_step > 1 and not m.n_experts:
        raise InputError(m._field("moe_layer_step"), f"{m.moe_layer_step} needs n_experts > 0 (a dense model has no MoE layers)")
    if m.moe_layer_step > 1 and m.moe_layer_step > m.n_layers - m.n_dense_layers:
        raise InputError(m._field("moe_layer_step"), f"{m.moe_layer_step} leaves no MoE layer among the "
                         f"{m.n_layers - m.n_dense_layers} after the dense ones")
    if m.sliding_window_pattern and not m.sliding_window:
        raise InputError(m._field("sliding_window_pattern"), "needs sliding_window > 0")
    if m.mla is not None:
        V.instance(m._field("mla"), m.mla, MLASpec, "an MLASpec or None")
        for name in ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"):
            v = getattr(m.mla, name)
            hi = _MLA_BOUNDS[1]
            lo = 0 if name == "q_lora_rank" else 1  # q_lora_rank 0: queries projected directly; the rest size heads
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise InputError(m._field(f"mla.{name}"), f"must be an integer in {lo}..{hi:,}, got {show(v)}")


LINK_KINDS = ("nvlink", "pcie", "infinity-fabric", "ici", "ethernet")  # ethernet: Gaudi's on-chip RoCE


@dataclass(frozen=True)
class GPUSpec:
    """One accelerator. Peaks are dense (no 2:4 sparsity), in FLOP/s or OP/s."""

    name: str
    peak_flops: dict[str, float]  # dtype -> dense peak; a missing dtype is unsupported
    memory_bytes: float
    memory_bytes_per_s: float
    interconnect_bytes_per_s: float  # per GPU, vendor's aggregate of both directions (NVLink, Infinity Fabric, PCIe)
    tdp_watts: float
    usd_per_gpu_hour: float  # on-demand list price; TPUs per chip-hour
    vendor: str = ""
    link_kind: str = ""  # scale-up link: one of LINK_KINDS ("" unknown)
    scale_up_domain_size: int = 1  # accelerators one scale-up link joins (HGX: 8, GB200 NVL72: 72, PCIe card: 1)
    scale_out_bytes_per_s: float = 0.0  # per-accelerator network to other nodes (400 Gb/s = 50e9); 0 unknown
    sources: dict[str, Source] = field(default_factory=dict)  # field name -> citation
    launched: str = ""  # "YYYY-MM": first shipments to customers ("" unknown); catalog/generations.py
    successor: str = ""  # the catalog GPU that succeeds it ("" none listed); checked to be a GPU one can look up

    def __post_init__(self):
        _validate_gpu(self)

    @A.checked(dtype=V.Text(empty=False))
    def peak(self, dtype: str) -> float:
        """Dense peak FLOP/s (OP/s for int8) for `dtype`; a clear error if unsupported."""
        try:
            return self.peak_flops[dtype]
        except KeyError:
            have = ", ".join(sorted(self.peak_flops))
            raise PlannerError(f"{self.name} has no {dtype} tensor-core support (it has: {have})") from None

    @A.checked(usd_per_gpu_hour=V.Real(0.0, L.MAX_USD_PER_GPU_HOUR, lo_open=True, unit="$/GPU-hour"))
    def with_price(self, usd_per_gpu_hour: float) -> GPUSpec:
        """The same GPU at another price (a cloud quote, a reserved rate), in (0, MAX_USD_PER_GPU_HOUR]."""
        from dataclasses import replace
        return replace(self, usd_per_gpu_hour=usd_per_gpu_hour)

    def to_dict(self) -> dict:
        return asdict(self)


# Every number of a GPUSpec: (field, check). A custom GPU (catalog/custom_gpu.py) is held to the same.
GPU_CHECKS = {
    "memory_bytes": V.Real(0.0, L.MAX_GPU_MEMORY_BYTES, lo_open=True, unit="bytes"),
    "memory_bytes_per_s": V.Real(0.0, L.MAX_GPU_MEMORY_BYTES_PER_S, lo_open=True, unit="bytes/s"),
    "interconnect_bytes_per_s": V.Real(0.0, L.MAX_INTERCONNECT_BYTES_PER_S, unit="bytes/s"),  # 0: no link
    "tdp_watts": V.Real(0.0, L.MAX_TDP_WATTS, unit="W"),  # 0: unknown (a measured device); a datasheet has one
    "usd_per_gpu_hour": V.Real(0.0, L.MAX_USD_PER_GPU_HOUR, lo_open=True, unit="$/GPU-hour"),
    "scale_up_domain_size": V.Whole(1, 100_000, unit="accelerators"),
    "scale_out_bytes_per_s": V.Real(0.0, L.MAX_INTERCONNECT_BYTES_PER_S, unit="bytes/s"),
}
PEAK_FLOPS_CHECK = V.Real(0.0, L.MAX_PEAK_FLOPS, lo_open=True, unit="FLOP/s")


def _validate_gpu(g: GPUSpec) -> None:
    """Refuse a missing, non-numeric, non-finite, zero, negative or absurd figure, naming the field."""
    where = f"gpu {show(g.name)} field"
    V.name_text("gpu name", g.name)
    for name, check in GPU_CHECKS.items():
        object.__setattr__(g, name, check(f"{where} {name}", getattr(g, name)))
    if not isinstance(g.peak_flops, dict) or not g.peak_flops:
        raise InputError(f"{where} peak_flops", "needs at least one dtype -> dense peak")
    for dtype, value in g.peak_flops.items():
        V.name_text(f"{where} peak_flops key", dtype)
        PEAK_FLOPS_CHECK(f"{where} peak_flops.{dtype}", value)
    if g.launched:
        from .months import month_text
        month_text(f"{where} launched", g.launched)
    if not isinstance(g.successor, str) or g.successor and g.successor.strip().lower() == g.name.strip().lower():
        raise InputError(f"{where} successor", f"must be the name of another GPU, got {show(g.successor)}")
    if not isinstance(g.link_kind, str) or g.link_kind not in ("", *LINK_KINDS):
        raise InputError(f"{where} link_kind", f"must be one of {', '.join(LINK_KINDS)}, got {show(g.link_kind)}")


@dataclass(frozen=True)
class Precision:
    """How weights, activations and the matrix work are stored and run (the KV cache is separate)."""

    name: str
    bytes_per_weight: float  # linear-layer weights, scales included
    compute_dtype: str  # key into GPUSpec.peak_flops of the GEMMs (weight-only formats: bf16)
    description: str
    weight_only: bool = False  # weights dequantised into 16-bit GEMMs (W4A16, W8A16)
    embedding_bytes: float = 2.0  # embedding table and output head: kept 16-bit by quantisers
    activation_bytes: float = 2.0
    kernel: str = ""  # the format whose kernels run it (engines' weight_stream key); "": its own name

    @property
    def kernel_name(self) -> str:
        return self.kernel or self.name


# Group-quantised int4 (GPTQ, AWQ, Marlin; Frantar et al. 2022, Lin et al. 2023) stores one fp16
# scale per group of 128 weights: 0.5 + 2/128 B/weight (AWQ adds a 4-bit zero point per group,
# +0.4%, ignored). Per-channel int8 scales (one fp16 per output row: 2/dim B/weight, <0.1%) and
# fp8's per-tensor scales are ignored. The quantisers of vLLM, TensorRT-LLM ModelOpt and
# AutoAWQ/GPTQ keep the embedding table and the output head in 16 bits (vLLM's ParallelLMHead is
# never quantised); gpt-fast quantises its head too (bias: ~2% of a 7B model's bytes).
INT4_GROUP_SIZE = 128
INT4_BYTES_PER_WEIGHT = 0.5 + 2.0 / INT4_GROUP_SIZE
# gpt-fast's and torchao's tinygemm int4 (`_weight_int4pack_mm`) store a bf16 scale AND a bf16 zero
# per group (scales_and_zeros: (in // groupsize, out, 2) bf16, gpt-fast quantize.py), and gpt-fast's
# README figures use groupsize 32: 0.5 + 2 x 2/32 = 0.625 B/weight, 21% more than the g128 format.
# Check: gpt-fast's README reports 862.69 GB/s at 196.80 tok/s for Llama-2-7B int4 G=32, i.e.
# 4.38 GB read per token = 6.6e9 linear weights x 0.625 B + the 0.26 GB bf16 embedding.
INT4_G32_GROUP_SIZE = 32
INT4_G32_BYTES_PER_WEIGHT = 0.5 + 2 * 2.0 / INT4_G32_GROUP_SIZE

PRECISIONS: dict[str, Precision] = {
    "fp32": Precision("fp32", 4.0, "fp32", "full precision", embedding_bytes=4.0, activation_bytes=4.0),
    "bf16": Precision("bf16", 2.0, "bf16", "bf16 weights and matmuls"),
    "fp16": Precision("fp16", 2.0, "fp16", "fp16 weights and matmuls (the bf16 peak where no fp16 figure is listed)"),
    "fp8": Precision("fp8", 1.0, "fp8", "W8A8 fp8 (e4m3): fp8 weights and activations, fp8 GEMMs"),
    "int8": Precision("int8", 1.0, "int8", "W8A8 int8 (SmoothQuant, arXiv:2211.10438): int8 weights and activations, int8 GEMMs"),
    "int8-weight-only": Precision("int8-weight-only", 1.0, "bf16", "W8A16: int8 weights, per-channel scales, "
                                  "dequantised into bf16 GEMMs", weight_only=True),
    "int4-weight-only": Precision("int4-weight-only", INT4_BYTES_PER_WEIGHT, "bf16",
                                  f"W4A16 (GPTQ/AWQ-style): int4 weights, an fp16 scale per {INT4_GROUP_SIZE}-group, "
                                  "dequantised into bf16 GEMMs", weight_only=True),
    "int4-weight-only-g32": Precision("int4-weight-only-g32", INT4_G32_BYTES_PER_WEIGHT, "bf16",
                                      f"W4A16 as gpt-fast/torchao's tinygemm stores it: int4 weights, a bf16 scale "
                                      f"and zero per {INT4_G32_GROUP_SIZE}-group, dequantised into bf16 GEMMs",
                                      weight_only=True, kernel="int4-weight-only"),
}
# `int4` has always meant weight-only int4 here; kept as an alias of int4-weight-only.
PRECISION_ALIASES = {"int4": "int4-weight-only", "w4a16": "int4-weight-only", "w8a16": "int8-weight-only",
                     "int8-wo": "int8-weight-only", "int4-wo": "int4-weight-only",
                     "int4-g32": "int4-weight-only-g32"}


def precision(name: str) -> Precision:
    try:
        key = name.lower()
        return PRECISIONS[PRECISION_ALIASES.get(key, key)]
    except (KeyError, AttributeError):
        raise UnknownNameError("precision", str(name), [*PRECISIONS, *PRECISION_ALIASES]) from None


def compute_peak(g: GPUSpec, p: Precision) -> float:
    """Dense peak of the precision's GEMMs on `g`. fp16 and bf16 run at one tensor-core rate on every
    GPU that has both (A100, H100, MI300X datasheets), so fp16 falls back to the bf16 figure."""
    if p.compute_dtype == "fp16" and "fp16" not in g.peak_flops and "bf16" in g.peak_flops:
        return g.peak("bf16")
    return g.peak(p.compute_dtype)


# KV-cache element sizes. fp8 (e4m3) and int8 caches keep a per-tensor or per-head scale (negligible).
KV_CACHE_DTYPES: dict[str, float] = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0}


def kv_cache_dtype_bytes(name: str) -> float:
    """Bytes per cached K or V element for a KV-cache dtype name."""
    try:
        return KV_CACHE_DTYPES[name.lower()]
    except (KeyError, AttributeError):
        raise UnknownNameError("kv_cache_dtype", str(name), KV_CACHE_DTYPES) from None
