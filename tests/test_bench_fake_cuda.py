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
                  eager_prefill=(("tiny-mha", 1, 16),),
                  quantized_configs=("tiny-mha",), quantized_prefill=False)
FLUSH = L2_MULTIPLE * fake_cuda.L2_BYTES


@pytest.fixture(scope="module")
def run():
    with pytest.MonkeyPatch.context() as mp:
        accel = fake_cuda.install(mp)
        mp.setattr(torch, "get_float32_matmul_precision", torch.get_float32_matmul_precision)  # restored after
        torch.set_float32_matmul_precision("medium")  # the caller's TF32-allowing setting
        precision_in_gemm = []
        real_gemm = micro.gemm
        mp.setattr(micro, "gemm", lambda **kw: precision_in_gemm.append(torch.get_float32_matmul_precision())
                   or real_gemm(**kw))
        doc = suite.run_suite(device=accel, quick=True, plan=PLAN, progress=False)
        doc["_precision"] = (precision_in_gemm, torch.get_float32_matmul_precision())
        torch.set_float32_matmul_precision("highest")
        yield doc, fake_cuda.Graph.captured, __import__("sys").modules["pynvml"].handles


def test_the_fake_gpu_run_writes_a_valid_file(run):
    doc, _, _ = run
    validate_results(json.loads(json.dumps({k: v for k, v in doc.items() if k != "_precision"})))
    assert doc["env"]["device"] == "cuda" and doc["env"]["device_name"] == fake_cuda.DEVICE_NAME
    skipped = [(p["kind"], p["params"], p["skipped"]) for p in doc["points"] if "skipped" in p]
    if not CHECKPOINT.exists():
        pytest.skip("no trained checkpoint")
    assert skipped == []


def test_every_point_is_timed_by_cuda_events_after_an_l2_flush(run):
    doc, _, _ = run
    for p in (p for p in doc["points"] if "skipped" not in p):
        assert p["timer"] == "cuda_events" and p["l2_flush_bytes"] == FLUSH and p["repeats"] >= 10, p["kind"]
        assert p["l2_flush"] == "read"


def test_fp32_matmuls_are_pinned_to_fp32_and_recorded(run):
    doc, _, _ = run
    in_gemm, after = doc["_precision"]
    assert in_gemm == ["highest"] * len(PLAN.gemm)  # no TF32 while the GEMMs ran, whatever the caller had
    assert doc["env"]["float32_matmul_precision"] == "highest" and after == "medium"  # the caller's, restored


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


@pytest.mark.parametrize("kind", ["prefill", "decode"])
def test_prefill_and_decode_are_cuda_graphs_and_the_eager_points_never_calibrate(run, kind):
    doc, captured, _ = run
    model_points = [p for p in doc["points"] if p["kind"] in ("prefill", "decode") and "skipped" not in p]
    assert captured == sum(p["mode"] == "cuda-graph" for p in model_points)  # every graph point captured one
    points = [p for p in model_points if p["kind"] == kind]
    graph = [p for p in points if p["mode"] == "cuda-graph"]
    (eager,) = [p for p in points if p["mode"] == "eager"]
    assert graph and all(p["calibration"] for p in graph)
    assert eager["calibration"] is False and eager not in calibration_points(doc, kind)
    assert all(p in calibration_points(doc, kind) for p in graph)


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
    # The compiled candidate (cold compiles) is raced at one row only.
    assert "median_s" in doc["kernels"]["tiny-mha rows=1"]["candidates"]["dequant_compiled"]
    assert "1 row" in doc["kernels"]["tiny-mha rows=2"]["candidates"]["dequant_compiled"]["skipped"]
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
    with pytest.raises(graphs.GraphMismatchError, match="differs from the eager step"):
        graphs.capture(lambda: torch.randn(4, 8), accel)


def test_cuda_event_timing_flushes_by_a_read_before_every_repetition(monkeypatch):
    accel = fake_cuda.install(monkeypatch)
    read, written = [], []
    real_sum = torch.Tensor.sum
    monkeypatch.setattr(torch.Tensor, "sum", lambda t, *a, **k: read.append(t.nbytes) or real_sum(t, *a, **k))
    for name in ("zero_", "fill_", "copy_", "add_", "mul_", "normal_"):  # a write leaves dirty lines in the L2
        real = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda t, *a, real=real, name=name, **k:
                            written.append(name) or real(t, *a, **k))
    t = timing.measure(lambda: None, device=accel, min_run_s=0.0, warmup=0)
    assert t.repeats == 10 and t.timer == "cuda_events" and read == [FLUSH] * 11  # 1 estimate + 10 timed
    assert written == [] and t.l2_flush == "read" and t.l2_flush_bytes == FLUSH


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


def test_the_deadline_records_the_points_left_as_skipped(monkeypatch):
    accel = fake_cuda.install(monkeypatch)
    real_gemm = micro.gemm
    monkeypatch.setattr(micro, "gemm", lambda **kw: __import__("time").sleep(0.6) or real_gemm(**kw))
    plan = plans.Plan("bfloat16", min_run_s=0.01, gemm=((64, 64, 64, "bfloat16"),), bandwidth_bytes=(2**16, 2**17))
    written = []
    doc = suite.run_suite(device=accel, quick=True, plan=plan, progress=False, deadline_s=0.5,
                          on_point=lambda d: written.append(len(d["points"])))
    first, *left = doc["points"]
    assert "skipped" not in first and first["kind"] == "gemm"  # started before the deadline: run to its end
    assert [p["kind"] for p in left] == ["bandwidth", "bandwidth"]
    assert all(p["deadline"] is True and "deadline of 0.5 s" in p["skipped"] for p in left)
    assert doc["deadline"] == {"deadline_s": 0.5, "points_not_run": [1, 2]} and doc["settings"]["deadline_s"] == 0.5
    assert written == [1, 2, 3] and not doc["interrupted"]  # the file is written with every point, skipped too
    validate_results(json.loads(json.dumps(doc)))


@pytest.mark.parametrize("deadline_s", [0, -1, float("nan"), float("inf"), "60"])
def test_a_deadline_that_is_not_a_positive_number_is_refused(deadline_s):
    with pytest.raises(ValueError, match="deadline_s must be a positive number"):
        suite.run_suite(device="cpu", quick=True, plan=PLAN, progress=False, deadline_s=deadline_s)


def test_the_compiled_int8_kernel_is_the_2d_graph_the_race_compiled(monkeypatch):
    from benchmarks.model import kernels, quantize
    accel = fake_cuda.install(monkeypatch)
    compiled = []

    def backend(gm, example_inputs):  # records each graph dynamo hands to the code generator
        compiled.append(sorted(tuple(t.shape) for t in example_inputs))  # the order of inputs is dynamo's
        return gm.forward

    monkeypatch.setattr(quantize, "COMPILE_BACKEND", backend)
    quantize._compiled.cache_clear()
    _reset_dynamo()
    try:
        cfg = config("tiny-mha")
        choice = kernels.choose_int8_kernel(rows=2, out_features=cfg.ffn_dim, in_features=cfg.dim,
                                            dtype=torch.float32, accel=accel, min_run_s=0.0,
                                            names=(quantize.DEQUANT_COMPILED,))
        race = sorted([(2, cfg.dim), (cfg.ffn_dim, cfg.dim), (cfg.ffn_dim,)])
        assert compiled == [race]  # the race compiled x as 2-D rows
        model = quantize.quantize_int8_weight_only(build(cfg), kernel=quantize.DEQUANT_COMPILED).eval()
        with torch.no_grad():
            model.setup_caches(2, 8)
            model(torch.zeros(2, 1, dtype=torch.long), 4)  # a decode step of batch 2: (2, 1, dim) activations
        assert all(len(max(shapes, key=len)) == 2 for shapes in compiled)  # every linear's x reached it as 2-D rows
        assert compiled.count(race) == 1  # w1 and w3 (w1's shape) reuse the race's compile
        assert choice.chosen == quantize.DEQUANT_COMPILED
    finally:
        quantize._compiled.cache_clear()
        _reset_dynamo()


def _reset_dynamo():
    """Forget compiled graphs (its first call imports inductor, which warns of torch.jit deprecations)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch._dynamo.reset()


@pytest.mark.parametrize("kind", ["prefill", "decode"])
def test_a_graph_that_cannot_be_captured_falls_back_to_a_labelled_eager_figure(monkeypatch, kind):
    accel = fake_cuda.install(monkeypatch)

    def refuse(graph, step):
        raise RuntimeError("operation not permitted when stream is capturing\nmore detail")

    monkeypatch.setattr(graphs, "record", refuse)
    c = suite.Context(accel=accel, plan=PLAN)
    rec = (suite._prefill if kind == "prefill" else suite._decode)(c, "tiny-mha", None, 1, 16)
    assert rec["mode"] == "eager" and rec["calibration"] is False and rec["timer"] == "cuda_events"
    assert rec["graph_failure"] == "RuntimeError: operation not permitted when stream is capturing"
    monkeypatch.setattr(workloads, kind, lambda *a, **k: (_ for _ in ()).throw(torch.OutOfMemoryError("CUDA oom")))
    with pytest.raises(torch.OutOfMemoryError):  # out of memory is not retried eagerly: the point is skipped
        (suite._prefill if kind == "prefill" else suite._decode)(c, "tiny-mha", None, 1, 16)
