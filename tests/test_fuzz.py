"""Fuzz every boundary with malformed and extreme input: only PlannerError may escape, fast.

Boundaries: scenario TOML text, scenario dicts, Hugging Face config.json text and dicts, the
public API's keyword arguments, the methods on the objects it returns (`Comparison.cost_vs_traffic`,
`ApiPrice.cost_usd`, ...: every one that takes arguments, enumerated by walking the results),
the command line and the dashboard's upload handlers, 12,000 inputs together. Every call must finish within fuzzing.CALL_LIMIT_S (a hang guard);
a result that comes back must hold no NaN, inf or negative cost; each test asserts it ran
its whole budget, so generation cannot shrink silently.

Speed: a value drawn through Hypothesis costs 0.5-3 ms here, which would make 10,000 inputs
take half a minute. So Hypothesis draws one seeded `random.Random` per example
(derandomized: the same inputs on every run) and each example mutates BATCH inputs from it
with the cheap generators below; a failure names the boundary and the input.
"""
from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import planner
from dashboard import state as S
from fuzzing import COUNTS, NASTY, nasty, check_result, fuzz_settings, time_limit
from planner.calibration.profiles import CalibrationProfile
from planner.calibration.store import reset
from planner.estimate.calibrated import use_results
from planner.catalog.hf_config import parse_config_text
from planner.core.errors import PlannerError, show
from planner.decide.distributions import Distribution
from planner.decide.scenario import scenario_from_dict, scenario_to_dict
from planner.estimate.serving import latency_curve, monthly_cost_usd_for, replicas_for
from planner.present.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
CONFIGS = sorted((Path(__file__).parent / "data" / "hf_configs").glob("*.json"))
TOMLS = [p.read_text() for p in EXAMPLES]
BASE = planner.load_scenario(EXAMPLES[0])
BASE_DICT = scenario_to_dict(BASE)
COMPARISON = planner.compare(BASE)
BATCH = 40  # inputs per Hypothesis example
# How many inputs each boundary gets (10,000 together); the test of each asserts its count.
BUDGET = {"scenario_toml": 2000, "scenario_dict": 2000, "hf_config": 2000, "api": 2000, "methods": 2000, "cli": 1000,
          "uploads": 1000}


def _run(boundary: str, make, call, check=check_result) -> None:
    """call(make(rnd)) for the boundary's budget of inputs: a PlannerError is fine, anything else fails."""
    n, start = BUDGET[boundary], COUNTS[boundary]

    @fuzz_settings(n // BATCH)
    @given(st.randoms(use_true_random=True))
    def inner(rnd):
        for _ in range(BATCH):
            x = make(rnd)
            COUNTS[boundary] += 1
            try:
                with time_limit(f"{boundary} on {show(x)}"):
                    result = call(x)
            except PlannerError:
                continue
            except Exception as e:  # noqa: BLE001 - the point: say which input let what through
                raise AssertionError(f"{boundary}: {type(e).__name__}: {e} for input {show(x)}") from e
            if result is not None and check is not None:
                check(result)

    inner()
    assert COUNTS[boundary] - start >= n, f"{boundary}: only {COUNTS[boundary] - start} of {n} inputs ran"


# ---- scenario files ----

TOML_LITERALS = ["nan", "inf", "-inf", "-5", "0", "1e300", "1" * 5000, '"none"', '"x"', "[1, 2]", "{a = 1}",
                 "true", "1979-05-27", '"\\u0000"', "[" * 3000 + "]" * 3000, "{a = " * 40 + "1" + "}" * 40, '"',
                 "'''", '"<script>"', "3.5", "1e16", "100000000", "-0.0", "0.5", "1e-320", "2"]
TOML_LINES = ["unknown = 1", "[weird]", "[workload.a.b.c]", "x.y.z = 1", "a" + ".a" * 3000 + " = 1", "[[workload]]",
              "[uncertainty]", '"workload.requests_per_day" = {dist = "lognormal", median = 1e11, sigma = 40}',
              '"self_host.utilization_ceiling" = {dist = "uniform", low = 1e-300, high = 0.5}',
              '"workload.monthly_growth" = {dist = "uniform", low = 0, high = 10}']


def mutated_toml(rnd) -> str:
    if rnd.random() < 0.05:
        return "".join(chr(rnd.randint(1, 0x2FF)) for _ in range(rnd.randint(0, 80)))  # noise
    lines = rnd.choice(TOMLS).splitlines()
    for _ in range(rnd.randint(1, 3)):
        i, how = rnd.randrange(len(lines)), rnd.choice("vvvvdit")
        if how == "v" and "=" in lines[i]:
            lines[i] = lines[i].split("=")[0] + "= " + rnd.choice(TOML_LITERALS)
        elif how == "d":
            del lines[i]
        elif how == "i":
            lines.insert(i, rnd.choice(TOML_LINES))
        elif how == "t":
            lines = lines[:i]
        lines = lines or [""]
    return "\n".join(lines)


def _round_trip(s) -> None:
    assert planner.loads_scenario(planner.dumps_scenario(s)) == s


def test_scenario_toml_text():
    _run("scenario_toml", mutated_toml, planner.loads_scenario, check=_round_trip)


def mutated_dict(rnd):
    if rnd.random() < 0.05:
        return nasty(rnd)
    d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE_DICT.items()}
    for _ in range(rnd.randint(1, 2)):
        section = rnd.choice([*d, "unknown"])
        if not isinstance(d.get(section), dict) or rnd.random() < 0.1:
            d[section] = nasty(rnd)
            continue
        key = rnd.choice([*d[section], "unknown_key"])
        if rnd.random() < 0.15:
            d[section].pop(key, None)
        else:
            d[section][key] = nasty(rnd)
    return d


def test_scenario_dicts():
    _run("scenario_dict", mutated_dict, scenario_from_dict, check=_round_trip)


# ---- Hugging Face config.json ----

CFG_DICTS = [json.loads(p.read_text()) for p in CONFIGS]
JSON_LITERALS = ["NaN", "Infinity", "-Infinity", "1e400", "1" * 5000, "-1", "0", "1e9", "1000000000", '"x"',
                 "null", "true", "[" * 3000 + "]" * 3000, "{}", "[]", "4096.0", "-4096"]


def mutated_config(rnd):
    cfg = dict(rnd.choice(CFG_DICTS))
    key = rnd.choice([*cfg, "unknown", "num_hidden_layers", "hidden_size", "num_attention_heads"])
    if rnd.random() < 0.5:
        cfg[key] = nasty(rnd)
        return cfg
    text = json.dumps(cfg).replace(f'"{key}": ', f'"{key}": {rnd.choice(JSON_LITERALS)}, "was": ', 1)
    return rnd.choice([text, text[: rnd.randint(0, len(text))], "\ufeff" + text, text + "\x00"])


def _config(x):
    cfg = parse_config_text(x, "fuzz.json") if isinstance(x, str) else x
    return planner.model_from_hf_config(cfg, name="fuzz")


def test_hf_config_text_and_dicts():
    _run("hf_config", mutated_config, _config, check=None)  # a spec's field bounds: the catalog's own tests


# ---- the public API ----

CALLS = {
    "serving": (planner.serving, dict(model="Llama-3.1-8B", gpu="H100 SXM", precision="bf16", workload=BASE.workload,
                                      utilization_ceiling=0.7, min_replicas=2, max_tensor_parallel=8,
                                      max_batch_size=256, attention_dp=None)),
    "inference_speed": (planner.inference_speed, dict(model="Llama-3.1-8B", gpu="H100 SXM", precision="bf16",
                                                      batch_size=8, prompt_tokens=512, output_tokens=128,
                                                      tensor_parallel=1, attention_dp=False)),
    "pretraining": (planner.pretraining, dict(model="Llama-3.1-8B", gpu="H100 SXM", tokens=1e12, n_gpus=512,
                                              seq_len=4096, overhead_factor=1.1, prep_months=3.0,
                                              recipe=dict(tp_overlap=True))),
    "finetuning": (planner.finetuning, dict(model="Llama-3.1-8B", gpu="H100 SXM", method="lora", tokens=1e7,
                                            epochs=2, n_gpus=None, seq_len=2048, lora_rank=16,
                                            recipe=dict(moe_balance="forced"))),
    "max_fit": (planner.max_fit, dict(model="Llama-3.1-8B", gpu="RTX 4090", method="lora", n_gpus=1, seq_len=2048,
                                      lora_rank=16, chunked_loss=False, activation_checkpointing=None)),
    "workload": (planner.Workload, dict(requests_per_day=1e4, input_tokens=500, output_tokens=200,
                                        prompt_overhead_tokens=100, peak_to_mean=2.0, horizon_months=24,
                                        monthly_growth=0.02, ttft_target_s=None)),
    "staffing": (planner.Staffing, dict(researchers=5, months=6, usd_per_researcher_year=3e5)),
    "sections": (lambda **kw: (planner.SelfHostOption(**kw), planner.ScratchOption(**{k: v for k, v in kw.items()
                                                                                      if k in ("model", "gpu")})),
                 dict(model="Llama-3.1-8B", gpu="H100 SXM", ops_engineers=1.0, utilization_ceiling=0.7)),
    "api_price": (planner.api_price, dict(model="gpt-4o-mini", provider=None, input_usd_per_mtok=None,
                                          batch_discount=None, fine_tuned=False, as_of=date(2026, 1, 1))),
    "search_api_models": (planner.search_api_models, dict(query="gpt", limit=5)),
    "hosted_finetune_price": (planner.hosted_finetune_price, dict(model="gpt-4o-mini", provider=None)),
    # a Band is a value, not a result: +-inf is allowed (an unavailable option costs inf); NaN and disorder are not
    "band": (lambda **kw: planner.Band(**kw) and None, dict(p10=1.0, p50=2.0, p90=3.0)),
    "monte_carlo": (planner.monte_carlo, dict(scenario=BASE, n=200, seed=1, comparison=COMPARISON)),
    "tornado": (planner.tornado, dict(scenario=BASE, inputs=None, comparison=COMPARISON)),
    "frontier": (planner.frontier, dict(scenario=BASE, x="workload.requests_per_day", y="api.price_scale",
                                        x_values=[1e3, 1e4], y_values=None, comparison=COMPARISON)),
    "compare": (planner.compare, dict(scenario=BASE)),
    "scenario_replace": (BASE.replace, dict(name="x", seed=3)),
    "workload_with": (BASE.workload.with_, dict(requests_per_day=5e4, horizon_months=12)),
    "load_scenario": (planner.load_scenario, dict(path=str(EXAMPLES[0]))),
    "pretraining_scaling": (planner.pretraining_scaling, dict(model="Llama-3.1-8B", gpu="H100 SXM", tokens=1e11,
                                                              gpu_counts=[8, 16])),
    "max_throughput": (planner.max_throughput, dict(model="Llama-3.1-8B", gpu="H100 SXM", precision="bf16",
                                                    tensor_parallel=1, prompt_tokens=256, output_tokens=64,
                                                    max_batch_size=8)),
    "training_layout": (planner.TrainingLayout, dict(tp=2, pp=1, dp=4, zero_stage=1, recompute="selective")),
    "training_memory": (planner.training_memory, dict(model="Llama-3.1-8B", gpu="H100 SXM",
                                                      layout=planner.TrainingLayout(tp=2, dp=4), seq_len=4096,
                                                      weight_bytes=2.0, trainable_params=None)),
    "dumps_scenario": (planner.dumps_scenario, dict(s=BASE)),
    "model_from_hf_config": (planner.model_from_hf_config, dict(path_or_dict=str(CONFIGS[0]))),  # name: catalog's
    "GPUSpec": (lambda **kw: dataclasses.replace(planner.gpu("H100 SXM"), **kw),
                dict(peak_flops={"bf16": 1e15}, memory_bytes=8e10, usd_per_gpu_hour=2.0, tdp_watts=700.0,
                     link_kind="nvlink", scale_out_bytes_per_s=5e10)),
    "ModelSpec": (lambda **kw: dataclasses.replace(planner.model("Llama-3.1-8B"), **kw),
                  dict(n_layers=32, dim=4096, mlp="swiglu", mla=None, published_params=8e9, rotary_fraction=1.0)),
    "ApiPrice": (lambda **kw: dataclasses.replace(COMPARISON.api_price, **kw),
                 dict(input_usd_per_mtok=1.0, output_usd_per_mtok=2.0, cached_input_usd_per_mtok=None,
                      batch_discount=0.5)),
    "gpu": (planner.gpu, dict(name="H100 SXM")),
    "model": (planner.model, dict(name="Llama-3.1-8B")),
    "grid_intensity": (planner.grid_intensity, dict(region="us")),
    "token_budget": (planner.token_budget, dict(scratch=BASE.scratch, replaced_model="Llama-3.1-8B")),
    "policy_costs": (planner.policy_costs, dict(s=BASE, chosen=COMPARISON.scratch_costs)),
    "rent_or_own": (planner.rent_or_own, dict(gpu=planner.gpu("H100 SXM"), hw=planner.Hardware(),
                                              usd_per_engineer_year=3e5, utilisation=0.6, rental="reserved-1y")),
}
# Left out: a results file's contents (calibration/results_file.py); calibrate's path is tested below.


def api_call(rnd):
    name = rnd.choice(sorted(CALLS))
    fn, kw = CALLS[name]
    kw = dict(kw)
    for _ in range(rnd.randint(1, 2)):
        kw[rnd.choice(list(kw))] = nasty(rnd)
    if name == "monte_carlo" and isinstance(kw["n"], int) and kw["n"] > 2000:
        kw["n"] = 2000  # a valid request for millions of samples is legitimately slow: not a fuzz target
    return name, fn, kw


def _call(x):
    name, fn, kw = x
    try:
        return fn(**kw)
    finally:
        reset()


def test_public_api_keyword_arguments():
    _run("api", api_call, _call)


# ---- the methods on returned objects ----

SELF_HOST_MODEL = COMPARISON.cost_models["self_host"]
PROFILE = CalibrationProfile("cpu", None, "cpu", "float32", "fuzz.json", "2026-12-07", 1e12, 1e11, "fuzz", {}, None,
                             None, None, None, None)
B123 = planner.Band(1.0, 2.0, 3.0)
UNIFORM = Distribution("uniform", low=1.0, mode=1.5, high=2.0)
LOGNORMAL = Distribution("lognormal", median=2.0, sigma=0.5)
# "Class.method" -> (bound method, valid keyword arguments); test_every_method_with_arguments_is_fuzzed keeps it whole.
METHODS = {
    "Comparison.cost_vs_traffic": (COMPARISON.cost_vs_traffic, dict(requests_per_day=np.array([1e3, 1e5]))),
    "ApiPrice.cost_usd": (COMPARISON.api_price.cost_usd, dict(input_tokens=500, output_tokens=200,
                                                              cached_input_tokens=100, batch=False)),
    "serving.replicas_for": (replicas_for, dict(plan=COMPARISON.serving_plan, peak_rps=2.0, quantile="p90")),
    "serving.monthly_cost_usd_for": (monthly_cost_usd_for, dict(plan=COMPARISON.serving_plan, peak_rps=np.ones(3),
                                                                quantile="p50")),
    "GPUSpec.with_price": (planner.gpu("H100 SXM").with_price, dict(usd_per_gpu_hour=2.5)),
    "GPUSpec.peak": (planner.gpu("H100 SXM").peak, dict(dtype="bf16")),
    "CalibrationProfile.gpu_spec": (PROFILE.gpu_spec, dict(usd_per_hour=1.0)),
    "Efficiencies.at_dtype": (planner.DEFAULT_EFFICIENCIES.at_dtype, dict(compute_dtype="fp8")),
    "Band.contains": (planner.Band(1.0, 2.0, 3.0).contains, dict(value=2.5)),
    "Band.map": (planner.Band(1.0, 2.0, 3.0).map, dict(fn=float)),
    # a Band is a value, not a result: +-inf is allowed (an unavailable option costs inf), so only errors are checked
    "Band.point": (lambda **kw: planner.Band.point(**kw) and None, dict(value=2.0)),
    "Band.from_samples": (planner.Band.from_samples, dict(samples=np.arange(10.0))),
    "Band operators": (lambda other: (B123 + other, B123 * other, B123 / other, other / B123) and None, dict(other=2.0)),
    "ApiCostModel.monthly_usd": (COMPARISON.bridge.monthly_usd, dict(requests_per_month=3e5)),
    "FleetCostModel.replicas": (SELF_HOST_MODEL.replicas, dict(peak_rps=np.array([0.5, 5.0]))),
    "FleetCostModel.gpus": (SELF_HOST_MODEL.gpus, dict(requests_per_month=3e5, peak_to_mean=2.0)),
    "FleetCostModel.busy_gpus": (SELF_HOST_MODEL.busy_gpus, dict(requests_per_month=3e5)),
    "FleetCostModel.monthly_usd": (SELF_HOST_MODEL.monthly_usd, dict(requests_per_month=3e5, peak_to_mean=2.0)),
    "FleetCostModel.staff_monthly_usd": (SELF_HOST_MODEL.staff_monthly_usd, dict(requests_per_month=np.ones(3),
                                                                                 peak_to_mean=2.0)),
    "ModelMatch.falls_short": (COMPARISON.model_match.falls_short, dict(key="scratch")),
    "Distribution.at": (Distribution("uniform", low=0.5, mode=1.0, high=1.5, relative=True).at, dict(value=3.0)),
    "Distribution.point": (Distribution.point, dict(value=1.0, source="fuzz")),
    "Distribution.sample": (UNIFORM.sample, dict(rng=np.random.default_rng(0), n=100)),
    "Distribution.ppf": (lambda **kw: (UNIFORM.ppf(**kw), LOGNORMAL.ppf(**kw)), dict(q=0.3)),
    "Hardware.fact": (planner.Hardware().fact, dict(name="usd_per_kwh")),
    "Programme.band": (planner.Programme().band, dict(name="ablation_fraction")),
    "TrainingLayout.micro_steps": (planner.TrainingLayout(tp=2, dp=4).micro_steps, dict(global_batch=64)),
    "TrainingRecipe.apply": (planner.TrainingRecipe(moe_overlap=True).apply, dict(layout=planner.TrainingLayout(tp=2))),
    "MemoryBreakdown.figure": (planner.training_memory("Llama-3.1-8B", "H100 SXM", planner.TrainingLayout(), 2048).figure,
                               dict(kind="reserved")),
    **{f"Workload.{m}": (getattr(BASE.workload, m), dict(month_index=np.arange(3)))
       for m in ("growth_factor", "requests_per_month", "tokens_per_month", "peak_rps_for")},
    "Scenario.replace": CALLS["scenario_replace"],
    "Workload.with_": CALLS["workload_with"],
}
SLOW = {"serving.latency_curve"}  # one simulation per load (~10 ms): fuzzed over every nasty value below instead


def method_call(rnd):
    name = rnd.choice(sorted(METHODS))
    fn, kw = METHODS[name]
    kw = dict(kw)
    for _ in range(rnd.randint(1, 2)):
        unknown = rnd.random() < 0.05 and name != "Band operators"  # operators take no keywords
        kw[rnd.choice([*kw, "unknown"] if unknown else list(kw))] = nasty(rnd)
    return name, fn, kw


def _frames_as_arrays(result):
    """check_result walks dataclasses, dicts, sequences and arrays: a DataFrame (of costs) becomes its arrays."""
    if isinstance(result, pd.DataFrame):
        return {"index": result.index.to_numpy(dtype=float),
                **{f"{c}_usd": result[c].to_numpy(dtype=float) for c in result.columns}}
    return result


def test_methods_on_returned_objects():
    _run("methods", method_call, lambda x: _frames_as_arrays(_call(x)))


@pytest.mark.parametrize("loads", range(len(NASTY)))
def test_latency_curve_loads(loads):
    """latency_curve simulates each load: every nasty value once (its plan argument is checked by the table above)."""
    x = NASTY[loads]
    try:
        with time_limit(f"latency_curve on {show(x)}"):
            frame = latency_curve(COMPARISON.serving_plan, x)
    except PlannerError:
        return
    check_result(frame.to_numpy(dtype=float))


def _reachable_types() -> set[type]:
    """Every planner class whose instances the public API returns, found by walking results' fields."""
    found, seen = set(), set()
    stack = [COMPARISON, BASE, planner.gpu("H100 SXM"), planner.model("Llama-3.1-8B"), PROFILE, planner.Hardware(),
             planner.monte_carlo(BASE, n=100, seed=1, comparison=COMPARISON), planner.Programme(),
             planner.TrainingLayout(), planner.DEFAULT_EFFICIENCIES]
    for name in ("inference_speed", "pretraining", "finetuning", "max_throughput", "training_memory", "staffing",
                 "pretraining_scaling", "frontier", "tornado", "hosted_finetune_price"):
        fn, kw = CALLS[name]
        stack.append(fn(**kw))
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if type(o).__module__.startswith("planner."):
            found.add(type(o))
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            stack += [getattr(o, f.name) for f in dataclasses.fields(o)]
        elif isinstance(o, dict):
            stack += list(o.values())
        elif isinstance(o, (list, tuple)):
            stack += list(o[:100])
    return found


def test_every_method_with_arguments_is_fuzzed():
    """A new method that takes arguments on a returned object must join METHODS (so the fuzz reaches it)."""
    types, missing = _reachable_types(), set()
    assert {"Comparison", "ApiPrice", "ServingPlan", "GPUSpec", "ModelSpec", "FleetCostModel", "Distribution",
            "MonteCarloResult", "PretrainingEstimate"} <= {t.__name__ for t in types}  # the walk reaches them
    for t in types:
        for name, member in inspect.getmembers(t):
            if name.startswith("_") or isinstance(inspect.getattr_static(t, name), property) or not callable(member):
                continue
            params = [p for p in inspect.signature(member).parameters if p not in ("self", "cls")]
            if params and f"{t.__name__}.{name}" not in METHODS:
                missing.add(f"{t.__name__}.{name}")
    assert not missing, f"methods taking arguments that the fuzz does not reach: {sorted(missing)}"


@pytest.mark.parametrize("path", ["/dev/zero", "a\x00b", 3, b"x", "", "x" * 5000, "/nonexistent/x.json"])
def test_calibration_paths_are_checked_before_reading(path, tmp_path):
    with pytest.raises(PlannerError):
        planner.calibrate(path)
    with pytest.raises(PlannerError):
        try:
            use_results(path)
        finally:
            reset()
    with pytest.raises(PlannerError, match="folder"):
        planner.calibrate(tmp_path)


# ---- the command line ----

CLI_VALUES = ["nan", "inf", "-inf", "1e300", "-5", "0", "1e12", "abc", "", "1e5", "3", "0.5", "1" * 5000, "\x00",
              "--help", "-1e-300", "1e400", "100", "1e-320"]
CLI_NAMES = ["Llama-3.1-8B", "H100 SXM", "nope", "", "\x00", "<b>", "x" * 300, "qwen"]
CLI_PATHS = [str(EXAMPLES[0]), "/nonexistent.toml", "/tmp", "/dev/zero", "a\x00b", "", str(ROOT)]
SMALL = ["0", "-1", "1e12", "1e300", "nan", "abc", "1", "50"]  # sample counts: the valid ones are cheap


def argv(rnd) -> list[str]:
    v, n, p = (lambda: rnd.choice(CLI_VALUES)), (lambda: rnd.choice(CLI_NAMES)), (lambda: rnd.choice(CLI_PATHS))
    forms = [
        lambda: ["compare", p(), "--format", rnd.choice(["json", "csv", "table", "xml"])],
        lambda: ["uncertainty", p(), "--samples", rnd.choice(SMALL), "--seed", v()],
        lambda: ["sensitivity", p(), "--input", rnd.choice(["workload.requests_per_day", "x", ""])],
        lambda: ["frontier", p(), "--x", rnd.choice(["api.price_scale", "nope"]), "--y", v()],
        lambda: ["estimate", "pretrain", "--model", n(), "--tokens", v(), "--n-gpus", v()],
        lambda: ["estimate", "finetune", "--model", n(), "--tokens", v(), "--epochs", v()],
        lambda: ["estimate", "serve", "--requests-per-day", v(), "--input-tokens", v(), "--output-tokens", v(),
                 "--usd-per-gpu-hour", v(), "--min-replicas", v()],
        lambda: ["prices", n(), "--limit", v()],
        lambda: ["calibrate", p()],
        lambda: [rnd.choice([*CLI_VALUES, "compare", "--debug", "estimate"]) for _ in range(rnd.randint(0, 4))],
    ]
    return rnd.choice(forms)()


def _cli(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(args)
    e = err.getvalue()
    assert rc in (0, 1, 2), (args, rc, e)
    assert "Traceback" not in e, (args, e)
    assert rc == 0 or (e.startswith("planner: error: ") and e.count("\n") == 1), (args, rc, e)


def test_command_line():
    _run("cli", argv, _cli)


# ---- the dashboard's upload handlers ----

UPLOAD_BASES = [t.encode() for t in TOMLS] + [p.read_bytes() for p in CONFIGS]


def upload(rnd):
    base = rnd.choice(UPLOAD_BASES)
    cut = rnd.randint(0, len(base))
    data = rnd.choice([base[:cut], base[:cut] + b"\x00" + base[cut:], b"\xff\xfe" + base, base,
                       base.replace(b"= ", b"= nan # ", 1), b"[" * 3000, b" " * (S.MAX_UPLOAD_BYTES + 1),
                       base.replace(b": ", b": NaN, \"x\": ", 1), rnd.randbytes(rnd.randint(0, 64))])
    return rnd.choice(["scenario", "config"]), data


def _upload(x):
    kind, data = x
    return S.parse_scenario(data, "up.toml") if kind == "scenario" else S.parse_hf_config(data, "up.json")[0]


def test_dashboard_upload_handlers():
    _run("uploads", upload, _upload, check=None)


def test_the_fuzz_budget_is_twelve_thousand():
    assert sum(BUDGET.values()) >= 12_000 and all(n % BATCH == 0 for n in BUDGET.values())
