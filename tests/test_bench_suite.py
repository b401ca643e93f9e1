"""The suite end to end on a tiny config: valid JSON, skips with reasons, Ctrl-C keeps points.
No test asserts a speed."""
import json

import pytest

torch = pytest.importorskip("torch")

from benchmarks import __main__ as cli  # noqa: E402
from benchmarks import micro, suite  # noqa: E402
from benchmarks.env import environment, nvml_info  # noqa: E402
from benchmarks.schema import load_results, validate_results  # noqa: E402

# The quick CPU plan with shorter timings, so the whole file stays well under a minute.
TINY = suite.Plan("float32", min_run_s=0.05, gemm=((64, 64, 64, "float32"), (64, 64, 64, "float8_e4m3fn")),
                  bandwidth_bytes=(2**20,), train=(("tiny", 2, 16),), prefill=(("tiny", 1, 16),),
                  decode=(("tiny", 2, 16),), int8_configs=("tiny",))


@pytest.fixture(scope="module")
def doc():
    return suite.run_suite(device="cpu", quick=True, plan=TINY, progress=False)


def test_quick_suite_validates(doc):
    validate_results(json.loads(json.dumps(doc)))
    kinds = {p["kind"] for p in doc["points"] if "skipped" not in p}
    assert kinds == {"gemm", "bandwidth", "train", "prefill", "decode"}
    assert not doc["interrupted"]
    assert all("other_cpu_fraction" in p for p in doc["points"])


def test_wait_for_quiet_gives_up_at_once_with_no_budget():
    assert suite.wait_for_quiet(0.0) is False


def test_int8_points_are_measured_after_the_gate(doc):
    assert doc["quality"]["tiny"]["passed"]
    int8 = [p for p in doc["points"] if p.get("quantized") == "int8"]
    assert {p["kind"] for p in int8} == {"prefill", "decode"}
    assert all("skipped" not in p and p["kernel"] != "dense" for p in int8)


def test_fp8_is_skipped_with_a_reason_on_cpu(doc):
    (fp8,) = [p for p in doc["points"] if p.get("dtype") == "float8_e4m3fn"]
    assert "sm_89" in fp8["skipped"]


def test_derived_figures_use_the_measured_peak(doc):
    (train,) = [p for p in doc["points"] if p["kind"] == "train"]
    assert train["mfu"] == pytest.approx(train["flops_per_s"] / doc["peaks"]["flops_per_s"])
    assert "measured" in doc["peaks"]["flops_source"]
    decode = [p for p in doc["points"] if p["kind"] == "decode"]
    assert all(p["bytes_per_s"] == pytest.approx(p["bytes_per_step"] / p["median_s"]) for p in decode)


def test_out_of_memory_becomes_a_skipped_point(monkeypatch):
    def oom(**_):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")
    monkeypatch.setattr(micro, "gemm", oom)
    plan = suite.Plan("float32", min_run_s=0.05, gemm=((64, 64, 64, "float32"),), bandwidth_bytes=(2**20,))
    d = suite.run_suite(device="cpu", quick=True, plan=plan, progress=False)
    assert "out of memory" in d["points"][0]["skipped"]
    validate_results(d)  # the bandwidth point still counts


def test_a_failed_gate_skips_int8_points(monkeypatch):
    monkeypatch.setattr(suite, "check_quality", lambda ref, q, **kw: _failed_report())
    plan = suite.Plan("float32", min_run_s=0.05, decode=(("tiny", 1, 8),), int8_configs=("tiny",))
    d = suite.run_suite(device="cpu", quick=True, plan=plan, progress=False)
    ref, int8 = d["points"]
    assert "skipped" not in ref and "quality gate" in int8["skipped"] and int8["quantized"] == "int8"


def _failed_report():
    from benchmarks.quantize import QualityReport
    return QualityReport(False, 0.5, 0.3, 0.5, "int8pack_mm", "top-1 agreement 0.5 < 0.99")


def test_ctrl_c_keeps_points_and_cli_exits_nonzero(monkeypatch, tmp_path):
    def interrupt(**_):
        raise KeyboardInterrupt
    monkeypatch.setattr(micro, "bandwidth", interrupt)
    monkeypatch.setitem(suite.PLANS, ("cpu", True), TINY)
    out = tmp_path / "r.json"
    assert cli.main(["--quick", "--device", "cpu", "--out", str(out), "--no-progress"]) == 130
    d = load_results(out)
    assert d["interrupted"] and [p["kind"] for p in d["points"]] == ["gemm", "gemm"]


def test_cli_refuses_cuda_without_a_gpu(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert cli.main(["run", "--device", "cuda", "--quick"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
    assert suite.default_device() == "cpu"


def test_environment_never_crashes_without_nvml():
    env = environment("cpu", torch.float32)
    assert env["cpu_cores"] >= 1 and env["threads"] >= 1 and "hostname" not in json.dumps(env).lower()
    assert isinstance(nvml_info(), dict)


def test_cli_summary_table_lists_every_point(doc):
    table = cli.summary_table(doc)
    assert len(table.splitlines()) == len(doc["points"]) + 1 and "skipped" in table


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_quick_suite_on_cuda(tmp_path):
    out = tmp_path / "gpu.json"
    assert cli.main(["--quick", "--device", "cuda", "--out", str(out), "--no-progress"]) == 0
    d = load_results(out)
    assert d["env"]["device"] == "cuda" and "catalog" in d["peaks"].get("flops_source", "catalog")
