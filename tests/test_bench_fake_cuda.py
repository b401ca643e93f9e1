"""Every GPU-only branch of the suite, run on the CPU with torch.cuda and NVML faked (fake_cuda.py).

These prove the code paths run and produce a valid file; timings here are CPU timings."""
import json
import math

import pytest

torch = pytest.importorskip("torch")

import fake_cuda  # noqa: E402
from benchmarks import plans, suite  # noqa: E402
from benchmarks.measure import graphs, micro, timing  # noqa: E402
from benchmarks.measure.accel import L2_MULTIPLE  # noqa: E402
from benchmarks.measure.schema import calibration_points, validate_results  # noqa: E402
from benchmarks.model import workloads  # noqa: E402
from benchmarks.model.reference_model import CHECKPOINT  # noqa: E402
from benchmarks.model.transformer import build, config  # noqa: E402

PLAN = plans.Plan("bfloat16", min_run_s=0.01, gate_windows=2,
                  gemm=((64, 64, 64, "bfloat16"), (64, 64, 64, "float8_e4m3fn")),
                  bandwidth_bytes=(2**16,), train=(("tiny-mha", 1, 16),), prefill=(("tiny-mha", 1, 16),),
                  decode=(("tiny-mha", 1, 16), ("tiny-mha", 2, 16)), eager_decode=(("tiny-mha", 1, 16),),
                  quantized_configs=("tiny-mha",), quantized_prefill=False)
FLUSH = L2_MULTIPLE * fake_cuda.L2_BYTES


@pytest.fixture(scope="module")
def run():
    with pytest.MonkeyPatch.context() as mp:
        accel = fake_cuda.install(mp)
        doc = suite.run_suite(device=accel, quick=True, plan=PLAN, progress=False)
        yield doc, fake_cuda.Graph.captured, __import__("sys").modules["pynvml"].handles


def test_the_fake_gpu_run_writes_a_valid_file(run):
    doc, _, _ = run
    validate_results(json.loads(json.dumps(doc)))
    assert doc["env"]["device"] == "cuda" and doc["env"]["device_name"] == fake_cuda.DEVICE_NAME
    skipped = [(p["kind"], p["params"], p["skipped"]) for p in doc["points"] if "skipped" in p]
    if not CHECKPOINT.exists():
        pytest.skip("no trained checkpoint")
    assert skipped == []


def test_every_point_is_timed_by_cuda_events_after_an_l2_flush(run):
    doc, _, _ = run
    for p in (p for p in doc["points"] if "skipped" not in p):
        assert p["timer"] == "cuda_events" and p["l2_flush_bytes"] == FLUSH and p["repeats"] >= 10, p["kind"]


def test_buffers_are_at_least_four_l2_caches(run):
    doc, _, _ = run
    (bw,) = [p for p in doc["points"] if p["kind"] == "bandwidth"]
    assert bw["params"]["n_bytes"] >= FLUSH  # the plan asked for 64 kB
    for g in (p for p in doc["points"] if p["kind"] == "gemm"):
        per_set = 64 * 64 * (3 * 2 if g["dtype"] == "bfloat16" else 4)
        assert g["params"]["operand_sets"] == math.ceil(FLUSH / per_set)


def test_fp8_runs_scaled_mm_with_fast_accumulation(run):
    doc, _, _ = run
    (fp8,) = [p for p in doc["points"] if p.get("dtype") == "float8_e4m3fn"]
    assert "skipped" not in fp8 and fp8["params"]["fast_accum"] is True


def test_decode_is_a_cuda_graph_and_the_eager_point_never_calibrates(run):
    doc, captured, _ = run
    decode = [p for p in doc["points"] if p["kind"] == "decode" and "skipped" not in p]
    graph = [p for p in decode if p["mode"] == "cuda-graph"]
    (eager,) = [p for p in decode if p["mode"] == "eager"]
    assert captured == len(graph) and all(p["calibration"] for p in graph)
    assert eager["calibration"] is False and eager not in calibration_points(doc, "decode")
    assert all(p in calibration_points(doc, "decode") for p in graph)


def test_gpu_fractions_divide_by_the_catalog_peaks(run):
    doc, _, _ = run
    assert doc["peaks"]["flops_source"] == "catalog H100 SXM dense bf16 peak"
    (train,) = [p for p in doc["points"] if p["kind"] == "train"]
    assert train["mfu"] == pytest.approx(train["flops_per_s"] / 989.4e12)


def test_int8_kernel_is_chosen_by_timing_among_all_candidates(run):
    doc, _, _ = run
    if not CHECKPOINT.exists():
        pytest.skip("no trained checkpoint")
    assert set(doc["kernels"]) == {"tiny-mha rows=1", "tiny-mha rows=2"}
    for choice in doc["kernels"].values():
        timed = {k: r["median_s"] for k, r in choice["candidates"].items() if "median_s" in r}
        assert "dequant_compiled" in choice["candidates"] and choice["chosen"] == min(timed, key=timed.get)
    int8 = [p for p in doc["points"] if p.get("quantized") == "int8-weight-only"]
    assert len(int8) == 2 and all(p["kernel"] == doc["kernels"][p["kernel_choice"]]["chosen"] for p in int8)


def test_nvml_reads_the_gpu_in_use_by_uuid_and_samples_each_point(run):
    doc, _, handles = run
    assert doc["env"]["nvml"] == "ok" and doc["env"]["nvml_device"] == f"uuid {fake_cuda.UUID}"
    assert handles and all(h == ("uuid", fake_cuda.UUID.encode()) for h in handles)
    tel = [p["telemetry"] for p in doc["points"] if "skipped" not in p]
    assert all(t["sm_clock_mhz"] == [1755, 1755, 1755] and t["power_w"][1] == 412.0 for t in tel)
    assert doc["env"]["telemetry"]["source"] == "nvml" and doc["env"]["telemetry"]["run"]["temperature_c"][2] == 51


def test_a_graph_that_replays_something_else_is_refused(monkeypatch):
    accel = fake_cuda.install(monkeypatch)
    with pytest.raises(graphs.GraphMismatchError, match="differs from eager"):
        graphs.capture(lambda: torch.randn(4, 8), accel)


def test_cuda_event_timing_flushes_before_every_repetition(monkeypatch):
    accel = fake_cuda.install(monkeypatch)
    zeroed = []
    real_zero = torch.Tensor.zero_
    monkeypatch.setattr(torch.Tensor, "zero_", lambda t: zeroed.append(t.numel()) or real_zero(t))
    t = timing.measure(lambda: None, device=accel, min_run_s=0.0, warmup=0)
    assert t.repeats == 10 and t.timer == "cuda_events" and zeroed == [FLUSH] * 11  # 1 estimate + 10 timed


def test_an_unexpected_error_in_one_point_is_recorded_and_the_run_goes_on(monkeypatch):
    accel = fake_cuda.install(monkeypatch)
    monkeypatch.setattr(micro, "gemm", lambda **_: {}["no such key"])
    plan = plans.Plan("bfloat16", min_run_s=0.01, gemm=((64, 64, 64, "bfloat16"),), bandwidth_bytes=(2**16,))
    doc = suite.run_suite(device=accel, quick=True, plan=plan, progress=False)
    assert doc["points"][0]["skipped"].startswith("KeyError") and "skipped" not in doc["points"][1]


def test_a_kernel_that_fails_in_the_point_falls_back_to_the_next_fastest(monkeypatch):
    accel = fake_cuda.install(monkeypatch)
    c = suite.Context(accel=accel, plan=PLAN)
    c.quality["int8-weight-only"] = {"passed": True}
    c.kernels["tiny-mha rows=1"] = {"chosen": "int8pack_mm", "candidates": {
        "int8pack_mm": {"median_s": 1e-6}, "dequant_matmul": {"median_s": 2e-6}, "dequant_compiled": {"failed": "x"}}}
    real = workloads.decode

    def decode(model, **kw):
        if model.kernel == "int8pack_mm":
            raise RuntimeError("operation not permitted when stream is capturing")
        return real(model, **kw)

    monkeypatch.setattr(workloads, "decode", decode)
    rec = suite._decode(c, "tiny-mha", "int8-weight-only", 1, 16)
    assert rec["kernel"] == "dequant_matmul" and "int8pack_mm: RuntimeError" in rec["kernel_failures"][0]


def test_decode_refuses_a_graph_on_a_cpu():
    with pytest.raises(ValueError, match="needs a CUDA device"):
        workloads.decode(build(config("tiny-mha")), batch=1, context_len=4, device="cpu", dtype="float32",
                         peak_bytes_per_s=None, min_run_s=0.01, mode="cuda-graph")
