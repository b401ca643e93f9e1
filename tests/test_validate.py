"""`python -m benchmarks validate` end to end on a tiny plan: calibrate, predict, measure, report.
No speed assertions: only that it runs and reports in the promised format."""
import json
import re

import pytest

pytest.importorskip("torch")

from benchmarks import __main__ as cli  # noqa: E402
from benchmarks import validate  # noqa: E402

TINY = validate.ValidatePlan(
    "float32", gemm=((64, 64, 64), (128, 128, 128), (1, 256, 128), (16, 256, 64)), bandwidth_bytes=(2**20,),
    calibration="micro", calibration_decode=(1, 16), calibration_prefill=(1, 16), calibration_train=(2, 16),
    min_run_s=0.01,
    train=(("micro-wide", 2, 16),), prefill=(("micro-wide", 1, 32), ("micro", 2, 16)),
    decode=(("micro-wide", 1, 32), ("micro-wide", 4, 32)))

CLOSING = re.compile(r"^median error \d+\.\d%, max error \d+\.\d% over \d+ points$")


@pytest.fixture(scope="module")
def report():
    return validate.run_validation(device="cpu", quick=True, plan=TINY, log=lambda *_: None)


def test_validate_runs_end_to_end_and_ends_with_the_closing_line(report):
    text = validate.report_text(report)
    assert CLOSING.match(text.splitlines()[-1])
    assert text.splitlines()[-1].endswith(f"over {len(validate.targets(TINY))} points")
    assert len(report["rows"]) == 5 and all(r["predicted_s"] > 0 and r["measured_s"] > 0 for r in report["rows"])


def test_predictions_are_for_points_the_calibration_did_not_see(report):
    seen = {(k, TINY.calibration, *getattr(TINY, f"calibration_{k}")) for k in ("decode", "prefill", "train")}
    assert not seen & {(r["kind"], r["config"], r["batch"], r["length"]) for r in report["rows"]}
    assert {r["config"] for r in report["rows"]} - {TINY.calibration}  # other sizes too


def test_the_report_is_written_as_json_and_markdown(report, tmp_path):
    from benchmarks.schema import write_results
    path = write_results(report, tmp_path / "validate-cpu.json")
    back = json.loads(path.read_text())
    assert back["schema"] == validate.VALIDATE_SCHEMA and back["env"]["device"] == "cpu"
    md = validate.report_markdown(report)
    table = md.split("```")[1].strip().splitlines()
    assert CLOSING.match(table[-1])


def test_cli_has_the_validate_subcommand(capsys):
    with pytest.raises(SystemExit):
        cli.main(["validate", "--help"])
    out = capsys.readouterr().out
    assert "--quick" in out and "--device" in out and "--out" in out


def test_both_sides_use_the_fastest_repeat_best_of_the_passes(report):
    assert all(r["measured_s"] == r["point"][validate.TIME_STAT] == r["point"]["min_s"] for r in report["rows"])
    fast, slow = {"min_s": 1.0, "median_s": 3.0}, {"min_s": 2.0, "median_s": 2.1}
    assert validate.best_of([[slow, fast], [fast, slow]]) == [fast, fast]
