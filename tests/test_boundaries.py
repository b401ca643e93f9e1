"""The validation layer and the file boundary, case by case (issue 11's findings among them)."""
from __future__ import annotations

import io
import math
import contextlib
from pathlib import Path

import numpy as np
import pytest

import planner
from planner.core import files, limits
from planner.core import validate as V
from planner.core.errors import InputError, PlannerError, PlannerTypeError
from planner.present.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "customer_support.toml"
S = planner.load_scenario(EXAMPLE)


# ---- core/validate.py ----

@pytest.mark.parametrize("value", [True, "3", None, [1], b"1", 1 + 2j, np.bool_(False)])
def test_a_value_of_the_wrong_type_is_a_planner_error_and_a_type_error(value):
    with pytest.raises(PlannerTypeError) as e:
        V.positive("workload.requests_per_day", value, 1e12)
    assert isinstance(e.value, TypeError) and isinstance(e.value, PlannerError)
    assert e.value.field == "workload.requests_per_day" and "got" in str(e.value)


@pytest.mark.parametrize("value, ok", [(np.float32(2.5), 2.5), (np.int64(7), 7.0), (3, 3.0), (0.5, 0.5)])
def test_numpy_scalars_are_numbers(value, ok):
    assert V.positive("x", value, 10) == ok and type(V.positive("x", value, 10)) is float


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -1.0, 0.0, 11.0, 10**400])
def test_impossible_numbers_name_the_field_the_value_and_what_is_allowed(value):
    with pytest.raises(InputError) as e:
        V.positive("scratch.tokens", value, 10, "tokens")
    assert str(e.value).startswith("scratch.tokens: must be a number in (0, 10] (tokens), got ")


def test_whole_numbers_take_integral_floats_and_refuse_the_rest():
    assert V.whole("n", 1e5, 1, 10**7) == 100_000 and V.whole("n", np.int64(3), 1, 5) == 3
    for bad in (1.5, math.nan, 0, 10**8, True):
        with pytest.raises(PlannerError):
            V.whole("n", bad, 1, 10**7)


def test_text_refuses_control_characters_and_lone_surrogates_but_keeps_newlines_in_descriptions():
    assert V.Text(100, multiline=True)("d", "a\r\nb\tc") == "a\nb\tc"
    for bad in ("a\x00b", "\ud800", "x" * 101, "a\nb"):
        with pytest.raises(InputError):
            V.Text(100)("name", bad)


def test_choices_are_case_insensitive_and_suggest():
    assert V.one_of("precision", "BF16", ("bf16", "fp8")) == "bf16"
    with pytest.raises(InputError, match="did you mean bf16"):
        V.one_of("precision", "bf61", ("bf16", "fp8"))


# ---- core/files.py ----

@pytest.mark.parametrize("make, words", [
    (lambda d: d, "is a folder"),
    (lambda d: Path("/dev/zero"), "not a regular file"),
    (lambda d: d / "missing.toml", "no such"),
    (lambda d: str(d / "a\x00b"), "not a usable file path"),
    (lambda d: _write(d / "bin.toml", b"\x00\x01\xff\xfe"), "not UTF-8"),
    (lambda d: _write(d / "nul.toml", b"name = 'a'\x00"), "NUL"),
    (lambda d: _write(d / "big.toml", b"#" * (limits.MAX_FILE_BYTES + 1)), "the limit is 1,000,000 bytes"),
    (lambda d: _write(d / "deep.toml", b"a = " + b"[" * 3000 + b"]" * 3000), "nested more than 32"),
    (lambda d: _write(d / "dotted.toml", b"a" + b".a" * 3000 + b" = 1"), "nested more than 32"),
    (lambda d: _write(d / "digits.toml", b"seed = " + b"1" * 5000), "4300 digits"),
])
def test_a_bad_scenario_file_is_refused_with_a_reason(tmp_path, make, words):
    with pytest.raises(PlannerError, match=words):
        planner.load_scenario(make(tmp_path))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("text, words", [
    ("[" * 3000 + "]" * 3000, "nested more than 32"), ('{"a": NaN}', "NaN is not a JSON number"),
    ('{"a": Infinity}', "Infinity is not a JSON number"), ('{"a": 1e400}', "too large for a float"),
    ('{"a": ' + "1" * 5000 + "}", "4,300"), ("{", "not valid JSON"),
])
def test_json_refuses_depth_nan_infinity_and_huge_numbers_before_python_does(text, words):
    with pytest.raises(PlannerError, match=words):
        files.loads_json(text, "config.json")


def test_a_byte_order_mark_is_dropped_and_a_deep_structure_checked_without_recursion():
    assert files.loads_json('\ufeff{"a": 1}') == {"a": 1}
    deep = 1
    for _ in range(100_000):
        deep = [deep]
    assert files.data_depth(deep) == limits.MAX_NESTING + 1
    with pytest.raises(PlannerError, match="nested"):
        planner.model_from_hf_config({"model_type": "llama", "x": deep})


# ---- the scenario ----

ISSUE_FIELDS = [("self_host", "ops_engineers"), ("self_host", "evaluation_usd"), ("self_host", "setup_months"),
                ("self_host", "usd_per_gpu_hour"), ("self_host", "finetune_tokens"), ("self_host", "finetune_epochs"),
                ("scratch", "researchers"), ("scratch", "months"), ("scratch", "prep_months"),
                ("scratch", "evaluation_usd"), ("costs", "usd_per_engineer_year"), ("api", "integration_usd"),
                ("api", "months_to_production")]


@pytest.mark.parametrize("section, name", ISSUE_FIELDS)
@pytest.mark.parametrize("value", [-5, math.nan, math.inf, 1e300, "5", True])
def test_every_staff_budget_month_and_price_field_is_checked(section, name, value):
    with pytest.raises(PlannerError) as e:
        planner.loads_scenario(f"[{section}]\n{name} = {_toml(value)}\n", where="s.toml")
    assert f"{section}.{name}" in str(e.value) and str(e.value).startswith("s.toml")


def _toml(v) -> str:
    return {True: "true"}.get(v, f'"{v}"' if isinstance(v, str) else "nan" if v != v else "inf" if v == math.inf
                              else repr(v))


def test_negative_ops_staff_is_refused_not_priced():
    with pytest.raises(InputError, match=r"self_host.ops_engineers: must be a number in \[0, 1e\+06\] \(FTE\) or none, got -5"):
        S.replace(self_host=planner.SelfHostOption(ops_engineers=-5))


def test_precision_and_method_names_are_checked_at_construction():
    with pytest.raises(InputError, match="self_host.precision: must be one of fp32, bf16, fp16, fp8.*auto"):
        planner.SelfHostOption(precision="fp4")
    with pytest.raises(InputError, match="finetune_method"):
        planner.SelfHostOption(finetune_method="lorra")
    assert planner.SelfHostOption(precision="FP8").precision == "fp8"


def test_no_target_survives_save_and_load(tmp_path):
    s = S.replace(workload=S.workload.with_(ttft_target_s=None, tpot_target_s=None))
    text = planner.dumps_scenario(s)
    assert 'ttft_target_s = "none"' in text and 'tpot_target_s = "none"' in text
    back = planner.load_scenario(planner.save_scenario(s, tmp_path / "s.toml"))
    assert back == s and back.workload.ttft_target_s is None
    assert (tmp_path / "s.toml").stat().st_mode & 0o044  # normal permissions, not 0600


def test_a_missing_required_key_is_named():
    with pytest.raises(InputError, match=r"\[workload\] needs input_tokens"):
        planner.loads_scenario("[workload]\nrequests_per_day = 5\noutput_tokens = 3\n")


def test_growth_that_would_overflow_the_traffic_is_refused():
    with pytest.raises(InputError, match="monthly_growth.*the limit is 1e\\+15"):
        S.workload.with_(monthly_growth=10.0, horizon_months=600)
    with pytest.raises(InputError, match="uncertainty"):
        S.replace(uncertainty={"workload.requests_per_day": {"dist": "lognormal", "median": 1e11, "sigma": 3,
                                                                     "relative": False}})


# ---- compare, and what cannot be answered ----

def test_compare_takes_a_path_or_refuses_clearly():
    assert planner.compare(str(EXAMPLE)).scenario == S.name
    with pytest.raises(PlannerTypeError, match="a Scenario or the path of a scenario TOML file"):
        planner.compare(3)


def test_an_input_error_is_raised_not_turned_into_an_unavailable_option():
    with pytest.raises(planner.UnknownNameError):
        planner.compare(S.replace(self_host=planner.SelfHostOption(model="Llama-9-9B")))
    c = planner.compare(S.replace(self_host=planner.SelfHostOption(precision="fp8", gpu="A100 80GB SXM")))
    assert not c.options["self_host"].available and "fp8" in c.options["self_host"].reason_unavailable


NOTHING = S.replace(self_host=planner.SelfHostOption(model="DeepSeek-V3", gpu="L4"),
                    flags=planner.Flags(regulatory_isolation=True), scratch=planner.ScratchOption(enabled=False))


@pytest.mark.parametrize("fn", [planner.monte_carlo, planner.tornado, planner.frontier])
def test_no_available_option_is_a_clear_error_for_the_uncertainty_tools(fn):
    with pytest.raises(PlannerError, match="no option is available"):
        fn(NOTHING)


@pytest.mark.parametrize("command", [["sensitivity"], ["frontier"], ["uncertainty", "--samples", "100"],
                                     ["report", "-o", "{out}"]])
def test_no_available_option_on_the_command_line(tmp_path, command):
    path = tmp_path / "nothing.toml"
    planner.save_scenario(NOTHING, path)
    args = [command[0], str(path), *(a.format(out=tmp_path / "r") for a in command[1:])]
    rc, out, err = _cli(args)
    if command[0] == "report":  # the report is written and says why in its section
        assert rc == 0 and "Not available for this scenario: no option is available" in \
            (tmp_path / "r" / "report.md").read_text()
    else:
        assert rc == 1 and err.count("\n") == 1 and "no option is available" in err


def test_the_report_escapes_what_users_typed():
    from planner.present.report import report_markdown
    s = S.replace(name="<img src=x onerror=alert(1)>", description="fine\n## Recommendation\n| forged | table |")
    md = report_markdown(planner.compare(s), s, samples=500)
    assert "```toml\n" in md
    md = md.split("```toml\n")[0]  # the scenario's own TOML is quoted raw inside a code block: inert there
    assert "<img" not in md and "&lt;img" in md
    assert "\n## Recommendation\n" in md and md.count("## Recommendation") == 2  # the real one, and a quoted one
    assert "> \\## Recommendation" in md and "> \\| forged \\| table \\|" in md


# ---- the command line ----

def _cli(args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(args)
    return rc, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("args, rc, words", [
    (["estimate", "pretrain", "--model", "Llama-3.1-8B", "--tokens", "1e300"], 1, "tokens: must be a number in"),
    (["uncertainty", str(EXAMPLE), "--samples", "1e12"], 1, "n: must be a whole number in [1, 10,000,000]"),
    (["uncertainty", str(EXAMPLE), "--samples", "1.5"], 2, "not a whole number"),
    (["estimate", "serve", "--requests-per-day", "nan", "--input-tokens", "1", "--output-tokens", "1"], 1, "nan"),
    (["estimate", "serve", "--requests-per-day", "10", "--input-tokens", "1", "--output-tokens", "1",
      "--usd-per-gpu-hour", "inf"], 1, "--usd-per-gpu-hour"),
    (["compare", "/dev/zero"], 1, "not a regular file"),
    (["nonsense"], 2, "invalid choice"),
])
def test_every_error_is_one_line_with_the_right_exit_status(args, rc, words):
    got, out, err = _cli(args)
    assert got == rc and err.startswith("planner: error: ") and err.count("\n") == 1 and words in err, err


def test_debug_prints_the_traceback_and_a_bug_is_exit_3(monkeypatch):
    rc, _, err = _cli(["--debug", "compare", "/nonexistent.toml"])
    assert rc == 1 and "Traceback" in err and err.rstrip().endswith("no such scenario file")
    import planner.present.cli as cli
    monkeypatch.setattr(cli, "cmd_models", lambda a: 1 / 0)
    monkeypatch.setattr(cli, "build_parser", cli.build_parser.__wrapped__)  # not the cached parser
    rc, _, err = _cli(["models"])
    assert rc == 3 and err.count("\n") == 1 and "internal error" in err and "--debug" in err


@pytest.mark.parametrize("cls", [planner.Workload, planner.ApiOption, planner.SelfHostOption, planner.ScratchOption,
                                 planner.Costs, planner.Flags, planner.Staffing])
def test_every_scenario_field_carries_its_check_and_meaning(cls):
    """A new field (a sourcing or token policy) is validated only if it is a knob: this keeps it so."""
    import dataclasses
    described = {name: (allowed, doc) for name, allowed, doc in V.describe(cls)}
    assert set(described) == {f.name for f in dataclasses.fields(cls)}, "a field without a check"
    if cls is not planner.Staffing:
        assert all(doc for _, doc in described.values()), "a field without a meaning"


# ---- the methods on returned objects (issue 24): the same checks as the public functions ----

@pytest.fixture(scope="module")
def returned():
    c = planner.compare(S)
    return {"comparison": c, "price": c.api_price, "plan": c.serving_plan, "gpu": planner.gpu("H100 SXM")}


def _calls(r):
    from planner.estimate.serving import replicas_for
    return {
        "requests_per_day": lambda x: r["comparison"].cost_vs_traffic(x),
        "input_tokens": lambda x: r["price"].cost_usd(x, 200),
        "output_tokens": lambda x: r["price"].cost_usd(500, x),
        "peak_rps": lambda x: replicas_for(r["plan"], x),
        "usd_per_gpu_hour": lambda x: r["gpu"].with_price(x),
    }


ZERO_MEANINGFUL = {"input_tokens", "output_tokens", "peak_rps"}  # no tokens or no traffic: a cost of 0, min replicas


@pytest.mark.parametrize("arg", ["requests_per_day", "input_tokens", "output_tokens", "peak_rps", "usd_per_gpu_hour"])
@pytest.mark.parametrize("value", [0, -0.0, -1, math.nan, math.inf, -math.inf, 1e308, 10**400, "1e4", "abc", [1e4],
                                   (1e4,), {"a": 1}, None, True, np.bool_(False), np.float64("nan"),
                                   np.array([1e4, np.inf]), np.array(["1e4"]), np.array([True]), np.array([]),
                                   np.array([[1e4]]), 1 + 2j, b"1"], ids=repr)
def test_secondary_api_refuses_bad_values_naming_the_argument(returned, arg, value):
    zero = isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0
    grid = isinstance(value, np.ndarray) and value.ndim == 2 and value.dtype.kind == "f"
    if (arg in ZERO_MEANINGFUL and (zero or grid)) or (arg == "requests_per_day" and value is None):
        _calls(returned)[arg](value)  # meaningful: no tokens or traffic, an array of any shape, the default sweep
        return
    with pytest.raises(PlannerError) as e:
        _calls(returned)[arg](value)
    assert e.value.field == arg
    if not isinstance(value, (int, float, np.floating)) or isinstance(value, (bool, np.bool_)):
        assert isinstance(e.value, PlannerTypeError) or (isinstance(value, np.ndarray) and value.dtype.kind == "f")


def test_secondary_api_takes_numbers_and_numpy_arrays(returned):
    r = returned
    levels = np.array([1e3, 1e4, 1e5])
    sweep = r["comparison"].cost_vs_traffic(levels)
    assert list(sweep.index) == list(levels) and np.isfinite(sweep.to_numpy()).all()
    assert r["comparison"].cost_vs_traffic(np.float32(1e4)).shape[0] == 1
    assert isinstance(r["price"].cost_usd(np.int64(500), 200), float)
    assert r["price"].cost_usd(np.array([500, 1000]), 200).shape == (2,)
    assert r["gpu"].with_price(np.float64(2.5)).usd_per_gpu_hour == 2.5
    with pytest.raises(InputError, match="broadcast"):
        r["price"].cost_usd(np.ones(2), np.ones(3))
    with pytest.raises(PlannerTypeError, match="cost_usd"):
        r["price"].cost_usd(500, 200, tokens=3)  # an unknown argument: a PlannerTypeError too
