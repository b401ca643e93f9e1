"""The suite end to end on a tiny CPU plan, and the CLI around it: valid JSON written after every
point, skips with reasons, Ctrl-C keeps points and never clobbers a good file, --out checked
before the run, one-line errors with exit codes. No test asserts a speed."""
import json
import stat

import pytest

torch = pytest.importorskip("torch")

from benchmarks import __main__ as cli  # noqa: E402
from benchmarks import plans, suite  # noqa: E402
from benchmarks.measure import micro  # noqa: E402
from benchmarks.measure.env import environment, nvml_info  # noqa: E402
from benchmarks.measure.progress import Progress  # noqa: E402
from benchmarks.measure.schema import load_results, validate_results, write_results  # noqa: E402
from benchmarks.model.reference_model import CHECKPOINT  # noqa: E402

TINY = plans.Plan("float32", min_run_s=0.02, gate_windows=2,
                  gemm=((64, 64, 64, "float32"), (64, 64, 64, "float8_e4m3fn")),
                  bandwidth_bytes=(2**20,), train=(("tiny", 2, 16),), prefill=(("tiny", 1, 16),),
                  decode=(("tiny", 2, 16),), quantized_configs=("tiny",))
KERNEL_ONLY = plans.Plan("float32", min_run_s=0.02, gemm=((64, 64, 64, "float32"),), bandwidth_bytes=(2**20,))


@pytest.fixture(scope="module")
def doc():
    written = []
    d = suite.run_suite(device="cpu", quick=True, plan=TINY, progress=False,
                        on_point=lambda d: written.append(len(d["points"])))
    d["_written"] = written
    return d


def test_quick_suite_validates(doc):
    validate_results(json.loads(json.dumps({k: v for k, v in doc.items() if k != "_written"})))
    kinds = {p["kind"] for p in doc["points"] if "skipped" not in p}
    assert kinds == {"gemm", "bandwidth", "train", "prefill", "decode"}
    assert not doc["interrupted"] and all("other_cpu_fraction" in p for p in doc["points"])
    assert doc["_written"] == list(range(1, len(doc["points"]) + 1))  # the caller saw every point


def test_cpu_points_are_eager_and_calibrate(doc):
    model_points = [p for p in doc["points"] if p["kind"] in ("train", "prefill", "decode") and "skipped" not in p]
    assert all(p["mode"] == "eager" and p["calibration"] is True for p in model_points)
    assert all(p["timer"] == "perf_counter" and p["repeats"] >= 10 for p in doc["points"] if "skipped" not in p)


def test_quantised_points_follow_the_perplexity_gate(doc):
    gate = doc["quality"]["int8-weight-only"]
    int8 = [p for p in doc["points"] if p.get("quantized") == "int8-weight-only"]
    assert {p["kind"] for p in int8} == {"prefill", "decode"}
    if not CHECKPOINT.exists():
        assert all("could not run" in p["skipped"] for p in int8)
        return
    assert gate["passed"] and gate["ratio"] == pytest.approx(gate["perplexity"] / gate["reference_perplexity"])
    assert all("skipped" not in p and p["kernel"] in ("int8pack_mm", "dequant_matmul") for p in int8)
    assert set(doc["kernels"]) == {"tiny rows=16", "tiny rows=2"}


def test_fp8_is_skipped_with_a_reason_on_cpu(doc):
    (fp8,) = [p for p in doc["points"] if p.get("dtype") == "float8_e4m3fn"]
    assert "sm_89" in fp8["skipped"]


def test_cpu_fractions_use_the_runs_own_best_and_never_exceed_one(doc):
    assert "measured in this run" in doc["peaks"]["flops_source"]
    for p in (p for p in doc["points"] if "skipped" not in p and p["kind"] in ("train", "prefill")):
        assert p["mfu"] == pytest.approx(p["flops_per_s"] / doc["peaks"]["flops_per_s"]) and p["mfu"] <= 1
    decode = [p for p in doc["points"] if p["kind"] == "decode" and "skipped" not in p]
    assert all(p["bytes_per_s"] == pytest.approx(p["bytes_per_step"] / p["median_s"]) and p["mbu"] <= 1
               for p in decode)


def test_out_of_memory_becomes_a_skipped_point(monkeypatch):
    def oom(**_):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")
    monkeypatch.setattr(micro, "gemm", oom)
    d = suite.run_suite(device="cpu", quick=True, plan=KERNEL_ONLY, progress=False)
    assert "out of memory" in d["points"][0]["skipped"]
    validate_results(d)  # the bandwidth point still counts


def test_a_failed_gate_skips_quantised_points(monkeypatch):
    monkeypatch.setattr(suite.Context, "gate", lambda self, fmt: {"passed": False, "reason": "perplexity +3%"})
    plan = plans.Plan("float32", min_run_s=0.02, decode=(("tiny", 1, 8),), quantized_configs=("tiny",))
    d = suite.run_suite(device="cpu", quick=True, plan=plan, progress=False)
    ref, q = d["points"]
    assert "skipped" not in ref and "perplexity gate: perplexity +3%" in q["skipped"]
    assert q["quantized"] == "int8-weight-only"


def test_a_point_the_validator_refuses_is_kept_as_skipped(monkeypatch):
    real = micro.bandwidth
    monkeypatch.setattr(micro, "bandwidth", lambda **kw: real(**kw) | {"bytes_per_s": 1e16})
    d = suite.run_suite(device="cpu", quick=True, plan=KERNEL_ONLY, progress=False)
    assert "refused by the results validator" in d["points"][1]["skipped"] and "bytes_per_s" not in d["peaks"]
    validate_results(d)


def _interrupt_at(monkeypatch, name):
    def stop(**_):
        raise KeyboardInterrupt
    monkeypatch.setattr(micro, name, stop)
    monkeypatch.setitem(plans.PLANS, ("cpu", True), KERNEL_ONLY)
    monkeypatch.setattr(suite, "PLANS", plans.PLANS)


def test_ctrl_c_keeps_points_and_exits_130(monkeypatch, tmp_path):
    _interrupt_at(monkeypatch, "bandwidth")
    out = tmp_path / "r.json"
    assert cli.main(["--quick", "--device", "cpu", "--out", str(out), "--no-progress"]) == 130
    d = load_results(out)
    assert d["interrupted"] and [p["kind"] for p in d["points"]] == ["gemm"]


def test_ctrl_c_before_the_first_point_leaves_an_earlier_file_alone(monkeypatch, tmp_path, capsys):
    out = tmp_path / "r.json"
    good = write_results({"schema_version": 2, "env": {"device": "cpu"}, "settings": {}, "points": [
        micro.point("bandwidth", "float32", {"n_bytes": 8, "op": "copy"}, _timing(), bytes_per_s=16.0)]}, out)
    before = good.read_bytes()
    _interrupt_at(monkeypatch, "gemm")
    assert cli.main(["--quick", "--device", "cpu", "--out", str(out), "--no-progress"]) == 130
    assert out.read_bytes() == before and "was not written" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def _timing():
    from benchmarks.measure.timing import Timing
    return Timing(1.0, 0.0, 1.0, 1.0, 10, 1)


def test_the_results_file_is_rewritten_after_every_point_with_normal_permissions(monkeypatch, tmp_path):
    seen = []
    real = micro.bandwidth

    def bandwidth(**kw):  # the file already holds the GEMM when the second point starts
        seen.append([p["kind"] for p in load_results(tmp_path / "r.json")["points"]])
        return real(**kw)

    monkeypatch.setattr(micro, "bandwidth", bandwidth)
    monkeypatch.setitem(plans.PLANS, ("cpu", True), KERNEL_ONLY)
    assert cli.main(["--quick", "--device", "cpu", "--out", str(tmp_path / "r.json"), "--no-progress"]) == 0
    assert seen == [["gemm"]] and stat.S_IMODE((tmp_path / "r.json").stat().st_mode) & 0o644 == 0o644


def test_default_output_is_under_the_current_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(plans.PLANS, ("cpu", True), KERNEL_ONLY)
    assert cli.main(["--quick", "--device", "cpu", "--no-progress"]) == 0
    (written,) = (tmp_path / "bench-results").iterdir()
    assert written.name.startswith("cpu-") and written.name.endswith("-quick.json")


@pytest.mark.parametrize("argv, code, message", [
    (["--quick", "--frobnicate"], 2, "unrecognized arguments: --frobnicate"),
    (["run", "--wait-quiet", "soon"], 2, "invalid float value"),
    (["run", "--deadline-s", "0"], 2, "--deadline-s: must be a positive number of seconds"),
    (["run", "--deadline-s", "nan"], 2, "must be a positive number of seconds"),
    (["collectives"], 2, "--nproc"),
    (["--device", "tpu"], 1, "unknown device 'tpu'"),
    (["collectives", "--nproc", "1"], 1, "--nproc must be >= 2"),
    (["train-reference", "--steps", "0", "--out", "/tmp/x.pt"], 1, "--steps must be >= 1"),
])
def test_cli_errors_are_one_line_with_exit_codes(argv, code, message, capsys):
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_cli_passes_the_deadline_and_says_what_it_left(monkeypatch, tmp_path, capsys):
    seen, real = {}, suite.run_suite

    def fake_suite(**kw):  # a run whose deadline passed after its first point
        seen.update(kw)
        d = real(device="cpu", quick=True, plan=KERNEL_ONLY, progress=False, deadline_s=1e-9)
        d["points"].insert(0, micro.gemm(m=8, n=8, k=8, dtype="float32", device="cpu", min_run_s=0.001))
        d["deadline"]["points_not_run"] = [1, 2]
        return d

    monkeypatch.setattr(suite, "run_suite", fake_suite)
    assert cli.main(["run", "--device", "cpu", "--deadline-s", "90", "--out", str(tmp_path / "r.json")]) == 0
    assert seen["deadline_s"] == 90.0
    assert "deadline: 2 point(s) not run, recorded as skipped" in capsys.readouterr().err
    assert load_results(tmp_path / "r.json")["deadline"]["deadline_s"] == 1e-9


def test_an_unwritable_out_is_refused_before_the_suite_runs(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(suite, "run_suite", lambda **_: pytest.fail("the suite ran"))
    assert cli.main(["--quick", "--device", "cpu", "--out", str(tmp_path)]) == 1
    assert "is a directory" in capsys.readouterr().err
    (tmp_path / "f").write_text("")
    assert cli.main(["--quick", "--device", "cpu", "--out", str(tmp_path / "f" / "r.json")]) == 1


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setattr(suite, "run_suite", lambda **_: {}["boom"])
    with pytest.raises(KeyError):
        cli.main(["--quick", "--device", "cpu", "--debug", "--out", "/tmp/bench-debug-test.json"])


def test_cli_refuses_cuda_without_a_gpu(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert cli.main(["run", "--device", "cuda", "--quick"]) == 1
    assert "no CUDA GPU" in capsys.readouterr().err
    assert suite.default_device() == "cpu"


def test_environment_never_crashes_without_nvml():
    env = environment("cpu", torch.float32)
    assert env["cpu_cores"] >= 1 and env["threads"] >= 1 and "hostname" not in json.dumps(env).lower()
    assert nvml_info()["nvml"].startswith("no NVML")


def test_cli_summary_table_lists_every_point(doc):
    table = cli.summary_table(doc)
    assert len(table.splitlines()) == len(doc["points"]) + 1 and "skipped" in table


def test_progress_bar_draws_one_line_in_place_only_on_a_tty():
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = Progress(2, "x", stream=stream)
        bar.step("a")
        bar.step("b")
        bar.close()
    assert tty.getvalue().count("\r") == 2 and tty.getvalue().count("\n") == 1 and "2/2" in tty.getvalue()
    assert pipe.getvalue() == ""


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_graph_decode_on_a_real_gpu_beats_eager_and_stays_physical():
    from benchmarks.measure.accel import as_accel
    from benchmarks.measure.schema import check_point, limits_for
    from benchmarks.model import workloads
    from benchmarks.model.transformer import build, config
    accel = as_accel("cuda")
    model = build(config("small"), device=accel.tensor_device, dtype=torch.bfloat16)
    kw = dict(batch=1, context_len=256, device=accel, dtype="bfloat16", peak_bytes_per_s=None, min_run_s=0.1)
    graph, eager = workloads.decode(model, **kw), workloads.decode(model, **kw, mode="eager")
    assert graph["mode"] == "cuda-graph" and graph["timer"] == "cuda_events" and graph["repeats"] >= 10
    assert graph["median_s"] < eager["median_s"] and eager["calibration"] is False
    limits = limits_for({"device": "cuda", "device_name": accel.name()})
    for p in (graph, eager, micro.gemm(m=4096, n=4096, k=4096, dtype="bfloat16", device=accel, min_run_s=0.1),
              micro.bandwidth(n_bytes=2**28, device=accel, min_run_s=0.1)):
        assert check_point(p, limits=limits)
