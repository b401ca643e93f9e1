"""Monte Carlo over the whole comparison: how sure is the recommendation?

`compare()` runs once at the scenario's point values; `Engine` rebuilds every option's cost model as arrays
(one element per sample), no loop over samples. How each input reaches the costs (relative to compare()'s p50):

- replica capacity = p50 capacity x (P + D) / (P p50_gemm / gemm + D p50_memory / memory),
  with P and D the prefill and decode time of one cohort at the chosen batch
  (serving.replica_requests_per_s). Prefill is treated as GEMM-bound and decode as
  memory-bound, and the batch and tensor parallelism stay as planned (bias: a slower GPU
  could need a smaller batch);
- pretraining: the final run re-timed by the performance model at compare()'s layout (physics.py), x its
  tokens and overhead factor; the programme's bands drawn per sample (programme.py). Fine-tuning time
  scales with p50_gemm / gemm, its tokens and epochs (bias: its non-GEMM share does not scale);
- the API's cost per request (and the bridge before production) with api.price_scale;
- the utilisation a replica is sized to (the serving plan's: simulated, or the scenario's cap)
  scales each fleet's sizing share relative to compare()'s;
- traffic, growth, peak-to-mean, staff, evaluation and setup inputs enter the cost formulas directly;
- one-time costs are paid over their phases' months (assembly's *_spends, on each sample's calendar).

Efficiency inputs default to triangulars matching efficiency.py's Bands (the self-host GPU's). At the
p50s the totals are compare()'s; comonotone (`at_quantile`) their p10/p90 too, to ~1%. Drawn independently,
the scratch median is above compare()'s p50 (right-skewed parts) and p10-p90 inside its (Band adds percentiles).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import replace

import numpy as np

from ..calibration.store import resolve
from ..catalog.lookup import gpu as lookup_gpu
from ..core.band import Band
from ..core import limits as L
from ..core import validate as V
from ..core.units import HOURS_PER_DAY
from ..core.errors import InputError, PlannerError
from ..decide.assembly import (
    api_spends,
    fleet_model,
    held_usd_per_gpu_hour,
    scratch_compute_usd,
    scratch_months_to_production,
    scratch_one_time_usd,
    self_host_months_to_production,
    self_host_one_time_usd,
    self_host_spends,
)
from ..decide.compare import Comparison, compare
from ..decide.costmodel import monthly_costs, one_time_spends
from ..decide.distributions import (EFFICIENCY_INPUTS, INPUTS, Distribution, parse_uncertainty, resolve_relative,
                                    triangular_from_band)
from ..decide.distributions import fixed
from ..decide.options import OPTIONS
from ..decide.scenario import Scenario, as_scenario, check_uncertain, point_values
from ..decide.scratch import programme_spends, scratch_model
from ..decide.sourcing import is_owned
from ..decide.generations import horizon_fields, resale_band
from ..decide.trends import decline_distribution, trend_band
from ..estimate.workload import requests_per_month
from .crossing import BreakEvenMonths, break_even_months, crossing_months  # noqa: F401  (re-exported)
from .chunks import chunk_results, total_requests  # noqa: F401  (re-exported: the samples x months reference)
from . import rows
from .physics import TABLE_NODES, TrainingSpeed, tabled
from .result import MonteCarloResult  # noqa: F401  (re-exported)
from .percentiles import percentiles
from .programme import programme_bands, programme_values, sample_programme, uniforms

RUN_SPEED = "run.gpu_hours_per_token"  # a column monte_carlo adds to the samples: the run re-timed once for all
CHUNK = 8192  # samples per array pass (rows.py, months x samples): the (months x samples) temporaries stay in cache
# (on the 2-core dev VM, 2026-12-07, 100k samples: 8192 20-25% faster than 4096; 16384 3-5x slower, its 3 MB
# temporaries each a fresh mmap; results equal for any CHUNK)


class Engine:
    """One scenario's options as functions of arrays of input values."""

    def __init__(self, scenario: Scenario, comparison: Comparison | None = None):
        s = self.scenario = as_scenario(scenario)
        given = parse_uncertainty(s.uncertainty)  # validate before the (slower) comparison
        c = self.comparison = compare(s) if comparison is None else \
            V.instance("comparison", comparison, Comparison, "a Comparison (compare(scenario)) or None")
        if c.shortlist is not None:  # vary the chosen candidate (the shortlist's scenario names it)
            s = self.scenario = c.shortlist.scenario
        self.keys = tuple(k for k in OPTIONS if k in c.cost_models)
        if not self.keys:
            why = "; ".join(f"{o.label}: {o.reason_unavailable}" for o in c.options.values())
            raise PlannerError(f"no option is available in this scenario, so there is nothing to vary ({why})")
        self.months = s.workload.months().astype(float)
        self.base = self._base_values()
        given = resolve_relative(given, self.base)  # relative entries centred on this scenario's values
        for path, d in given.items():
            if math.isfinite(self.base[path]):
                check_uncertain(path, d)
        self.given = given
        self.distributions = {p: given.get(p) or self._default(p) for p in INPUTS}
        scratch = "scratch" in self.keys  # the programme's bands (programme.py) and the run's speed (physics.py)
        self.programme = programme_bands(s) if scratch else {}
        self.speed = TrainingSpeed(c.pretrain, scratch_model(s), self._efficiencies()) if scratch else None

    def _efficiencies(self):
        try:
            return resolve(lookup_gpu(self.scenario.self_host.gpu).name)
        except PlannerError:
            return resolve("")

    def _base_values(self) -> dict[str, float]:
        """Every input's value at the scenario's point: the scenario's own (point_values), and what compare() found."""
        c = self.comparison
        plan = c.serving_plan or c.scratch_serving_plan
        eff = self._efficiencies()
        base = {**point_values(self.scenario),
                "self_host.usd_per_gpu_hour": c.rates["self_host"].on_demand_usd_per_gpu_hour if plan else np.nan,
                "scratch.tokens": c.pretrain.tokens if c.pretrain else np.nan,
                # The busy share a replica is sized to: the serving plan's (simulated, or the scenario's cap).
                "self_host.utilization_ceiling": plan.utilization_ceiling if plan else np.nan}
        fleet = c.cost_models.get("self_host") or c.cost_models.get("scratch")
        for name in ("residual_loss_per_year", "successor_step"):  # owned on the market curve (generations.py)
            value = getattr(fleet, name, None) if getattr(fleet, "residual_loss_per_year", None) is not None else None
            value = None if name == "successor_step" and getattr(fleet, "successor_month", None) is None else value
            base[f"trends.{name}"] = np.nan if value is None else value
        if "api" in c.cost_models:  # the decline compare() applied (the provider's or the model's own, where given)
            base["trends.api_decline_per_year"] = c.cost_models["api"].decline_per_year
        for path, attr in EFFICIENCY_INPUTS.items():
            base[path] = getattr(eff, attr).p50
        return base

    def _default(self, path: str) -> Distribution:
        p = self.comparison.api_price
        band = trend_band(self.scenario.trends, path, self.scenario.self_host.sourcing,
                          *((p.provider_id, p.model_id) if p else ())) if path.startswith("trends.") else None
        if band is not None:  # the sourced yearly decline (catalog/data/trends.toml)
            return decline_distribution(band.value, f"{band.source.url} (checked {band.source.checked})")
        band = resale_band(self.scenario.trends, path, self.scenario.self_host.gpu) \
            if math.isfinite(self.base[path]) else None
        if band is not None:  # owned resale (catalog/data/generations.toml)
            return decline_distribution(*band)
        if path in EFFICIENCY_INPUTS:
            eff, attr = self._efficiencies(), EFFICIENCY_INPUTS[path]
            return triangular_from_band(getattr(eff, attr), f"{eff.source}: {eff.citations.get(attr, eff.source)}")
        return fixed(self.base[path])

    @property
    def uncertain(self) -> dict[str, Distribution]:
        """The inputs that vary (every other input is a point)."""
        return {p: d for p, d in self.distributions.items() if d.kind != "point"}

    def sample(self, n: int, seed: int, comonotone: bool = False) -> dict[str, np.ndarray]:
        """n draws of every uncertain input and programme band, each on its own stream seeded by (seed, path) (its
        draws stay when another input is added); comonotone: one shared quantile per sample (`at_quantile`)."""
        out = {}
        for path, d in self.uncertain.items():
            rng = np.random.default_rng([seed, zlib.crc32(path.encode())])
            out[path] = d.sample(rng, n)
        if comonotone:
            return {**out, **self.at_quantile(uniforms(seed, "comonotone", n))}
        return {**out, **sample_programme(self.programme, seed, n)}

    def at_quantile(self, q) -> dict[str, np.ndarray]:
        """The efficiencies at quantile 1 - q and every programme band at q (arrays like q): compare()'s Band
        arithmetic's dependence (a slower GPU, a costlier programme). With no other input uncertain, the totals
        at q = 0.1, 0.5, 0.9 are compare()'s p10, p50, p90: a check of the model (the samples are independent)."""
        q = np.atleast_1d(np.asarray(q, dtype=float))
        out = {p: np.asarray(self.distributions[p].ppf(1.0 - q), dtype=float) for p in EFFICIENCY_INPUTS}
        return {**out, **sample_programme(self.programme, 0, q.size, q)}

    def evaluate(self, values: dict[str, np.ndarray]) -> tuple[dict[str, tuple], np.ndarray]:
        """Monthly costs of each option for the given input values (arrays of one length n).

        Returns ({key: (one_time_usd (n, 1), monthly_usd (n, months), the one-time Spends)}, requests per month
        (n, months)).
        Inputs missing from `values` take their base (scenario) value.
        """
        v = self.values(values, (-1, 1))
        models, bridge, api_monthly, requests = self.models(v, self.months)
        out = {}
        for key, model in models.items():
            monthly = api_monthly if key == "api" else \
                monthly_costs(model, requests, self.months, v["workload.peak_to_mean"], bridge, api_monthly)
            out[key] = (model.one_time_usd, monthly, one_time_spends(model))
        return out, requests

    def values(self, values: dict[str, np.ndarray], shape) -> dict:
        """Every input by path: the sampled column reshaped to `shape` ((-1, 1): samples x months; (-1,): months x
        samples), else its base value; the programme's figures under "programme"."""
        v = {p: (np.asarray(values[p], dtype=float).reshape(shape) if p in values else self.base[p]) for p in INPUTS}
        v["programme"] = programme_values(self.programme, values, shape)
        if RUN_SPEED in values:
            v[RUN_SPEED] = np.asarray(values[RUN_SPEED], dtype=float).reshape(shape)
        return v

    def models(self, v: dict, months):
        """({key: each option's cost model at the values v}, the API bridge (None: none), the API's monthly cost
        (None without the API), requests per month): months broadcast against v's sampled arrays."""
        requests = requests_per_month(v["workload.requests_per_day"], v["workload.monthly_growth"], months)
        api = self.comparison.cost_models.get("api")
        api = replace(api, usd_per_request=api.usd_per_request * v["api.price_scale"],
                      decline_per_year=v["trends.api_decline_per_year"],
                      one_time_usd=v["api.integration_usd"],
                      spends=api_spends(integration_usd=v["api.integration_usd"],
                                        months_to_production=api.months_to_production)) if api else None
        models = {key: api if key == "api" else self._fleet(key, v) for key in self.keys}
        bridge = api if self.comparison.bridge is not None else None
        api_monthly = api._monthly(requests, None, months) if api else None  # the API option's and the bridge's
        return models, bridge, api_monthly, requests

    def _fleet(self, key: str, v: dict):
        c, fleet = self.comparison, self.comparison.cost_models[key]
        plan = c.serving_plan if key == "self_host" else c.scratch_serving_plan
        prefill = plan.batch_size * plan.prefill_s.p50  # one cohort's prefills (s)
        decode = max(self.scenario.workload.generated_tokens - 1.0, 0.0) * plan.tpot_s.p50  # its decode steps (s)
        slower = prefill * (self.base["efficiency.gemm"] / v["efficiency.gemm"]) \
            + decode * (self.base["efficiency.memory"] / v["efficiency.memory"])
        mfu = self.base["efficiency.gemm"] / v["efficiency.gemm"]
        one_time, ttp, spends = (self._self_host_one_time(v, mfu) if key == "self_host" else
                                 self._scratch_one_time(v))
        return fleet_model(capacity_rps_per_replica=fleet.capacity_rps_per_replica * ((prefill + decode) / slower),
                           gpus_per_replica=fleet.gpus_per_replica,
                           usd_per_gpu_hour=self._held(v, "self_host"), usd_per_busy_gpu_hour=fleet.usd_per_busy_gpu_hour,
                           utilization_ceiling=np.minimum(1.0, fleet.utilization_ceiling * v["self_host.utilization_ceiling"]
                                                          / self.base["self_host.utilization_ceiling"]),
                           min_replicas=fleet.min_replicas,
                           ops_engineers=v["self_host.ops_engineers"], usd_per_engineer_year=v["costs.usd_per_engineer_year"],
                           one_time_usd=one_time, months_to_production=ttp, gpus_per_ops_engineer=fleet.gpus_per_ops_engineer,
                           spends=spends, gpu_decline_per_year=0.0 if is_owned(self.scenario.self_host.sourcing)
                           else v["trends.gpu_decline_per_year"],
                           gpu_term_months=fleet.gpu_term_months, **horizon_fields(fleet, v))

    def _held(self, v: dict, use: str):
        """A self-host GPU-hour under its sourcing, at the sampled on-demand price (owned: not the rent's)."""
        r = self.comparison.rates[use]
        # the sampled price is the serving GPU's; a fine-tune on another GPU moves with it in proportion
        scale = r.on_demand_usd_per_gpu_hour / self.comparison.rates["self_host"].on_demand_usd_per_gpu_hour
        return held_usd_per_gpu_hour(v["self_host.usd_per_gpu_hour"] * scale, multiplier=r.multiplier,
                                     owned_usd=r.owned_usd_per_gpu_hour)

    def _self_host_one_time(self, v: dict, mfu):
        """compare(): fine-tuning + evaluation + setup staff; production after the fine-tune and setup."""
        ft, b = self.comparison.finetune, self.base
        if ft is None:
            cost = days = 0.0
        else:
            time = (v["self_host.finetune_epochs"] / b["self_host.finetune_epochs"]) \
                * (v["self_host.finetune_tokens"] / b["self_host.finetune_tokens"]) * mfu \
                * self.comparison.rates["self_host_training"].time_factor
            cost = ft.gpu_hours.p50 * time * self._held(v, "self_host_training")
            days = ft.wall_days.p50 * time
        one_time = self_host_one_time_usd(finetune_usd=cost, evaluation_usd=v["self_host.evaluation_usd"],
                                          ops_engineers=v["self_host.ops_engineers"],
                                          setup_months=v["self_host.setup_months"],
                                          usd_per_engineer_year=v["costs.usd_per_engineer_year"])
        spends = self_host_spends(finetune_usd=cost, finetune_wall_days=days, evaluation_usd=v["self_host.evaluation_usd"],
                                  ops_engineers=v["self_host.ops_engineers"], setup_months=v["self_host.setup_months"],
                                  usd_per_engineer_year=v["costs.usd_per_engineer_year"])
        ttp = self_host_months_to_production(finetune_wall_days=days, setup_months=v["self_host.setup_months"])
        return one_time, ttp, spends

    def _scratch_one_time(self, v: dict):
        """compare(): the programme's compute (the final run re-timed, see the module docstring) + research and data
        staff + evaluation + fixed purchases; production after preparation, the run, post-training and evaluation."""
        sc, g = self.comparison.scratch_costs, v.get("programme") or programme_values(self.programme, {})
        per_token = v[RUN_SPEED] if RUN_SPEED in v else self._per_token(v["efficiency.gemm"], v["efficiency.memory"])
        hours = per_token * v["scratch.tokens"] * np.maximum(g["overhead_factor"], 1.0) * sc.rate.time_factor
        run = dict(run_gpu_hours=hours,
                   pipeline_gpu_hours=g["data_pipeline_gpu_hours_per_ttok"] * (v["scratch.tokens"] / 1e12),
                   usd_per_gpu_hour=sc.rate.usd_per_gpu_hour * v["scratch.compute_price_scale"],
                   min_gpu_hours=sc.min_gpu_hours)
        experiments = g["ablation_fraction"] + g["failed_run_fraction"] + g["post_training_compute_fraction"]
        compute = scratch_compute_usd(experiments_fraction=experiments, **run)
        one_time = scratch_one_time_usd(compute_usd=compute, researchers=v["scratch.researchers"],
                                        months=v["scratch.months"], usd_per_engineer_year=v["costs.usd_per_engineer_year"],
                                        evaluation_usd=v["scratch.evaluation_usd"], data_engineers=g["data_engineers"],
                                        prep_months=v["scratch.prep_months"],
                                        fixed_usd=g["data_acquisition_usd"] + g["post_training_data_usd"])
        wall_days = hours / (sc.pretrain.n_gpus * HOURS_PER_DAY)
        ttp = scratch_months_to_production(wall_days=wall_days, prep_months=v["scratch.prep_months"],
                                           after_months=g["post_training_months"] + g["evaluation_months"])
        spends = programme_spends(self.scenario, g, sc.rate, **run, wall_days=wall_days,
                                  researchers=v["scratch.researchers"],
                                  months=v["scratch.months"], usd_per_engineer_year=v["costs.usd_per_engineer_year"],
                                  prep_months=v["scratch.prep_months"], evaluation_usd=v["scratch.evaluation_usd"])
        return one_time, ttp, spends

    def _per_token(self, gemm, memory):
        """The final run's GPU-hours per token at the efficiencies (physics.py), shaped like their broadcast."""
        gemm, memory = np.broadcast_arrays(gemm, memory)
        return self.speed.gpu_hours_per_token(gemm.ravel(), memory.ravel()).reshape(np.shape(gemm) or (1,))

    def with_run_speed(self, values: dict[str, np.ndarray], n: int, physics: bool = True) -> dict[str, np.ndarray]:
        """`values` plus RUN_SPEED, the run re-timed for all n samples at once (evaluate() then slices it, instead
        of re-running the step-time model's Python per chunk); physics=False: read off the model's table
        (physics.tabled, fixed estimates); unchanged without a scratch option."""
        if self.speed is None:
            return values
        eff = [np.asarray(values[p], dtype=float) if p in values else np.full(n, self.base[p])
               for p in ("efficiency.gemm", "efficiency.memory")]
        speed = self._per_token(*eff) if physics else tabled(self._per_token, *eff, TABLE_NODES)
        return {**values, RUN_SPEED: np.broadcast_to(speed, (n,))}

    def totals(self, values: dict[str, np.ndarray], n: int) -> np.ndarray:
        """Total cost over the horizon, shape (n, options) in `self.keys` order."""
        costs, _ = self.evaluate(values)
        cols = [np.broadcast_to(np.ravel(one + monthly.sum(axis=-1, keepdims=True)), (n,))
                for one, monthly, _ in costs.values()]
        return np.stack(cols, axis=1) if cols else np.empty((n, 0))

    def medians(self) -> dict[str, float]:
        return {p: float(d.ppf(0.5)) for p, d in self.distributions.items()}

    def require_applicable(self, path: str) -> None:
        """InputError when `path` has no value here (its option is unavailable, e.g. no self-hosted GPU to price)."""
        if not np.isfinite(self.base[path]) and path not in self.uncertain:
            raise InputError(path, "does not apply to this scenario: the option it belongs to is not available "
                                   "(see the comparison's reasons)")


def monte_carlo(scenario: Scenario, n: int = 100_000, seed: int | None = None, *,
                comparison: Comparison | None = None, physics: bool = True) -> MonteCarloResult:
    """Sample every uncertain input n times and cost every option per sample (vectorized, in chunks).

    seed defaults to scenario.seed; the same seed gives identical results. physics=True (the default) re-times the
    pretraining run by the step-time model for every sample (physics.py); physics=False holds the estimates fixed:
    the run's time per sample is read off that model evaluated once on a small grid of efficiencies (within 5e-4 of
    it; about 2x faster at 100,000 samples). Serving capacity and fine-tuning time scale in closed form in both.
    """
    scenario = as_scenario(scenario)
    n = V.whole("n", n, 1, L.MAX_SAMPLES, "samples")
    seed = scenario.seed if seed is None else V.whole("seed", seed, 0, L.MAX_SEED)
    horizon = scenario.workload.horizon_months
    if n * horizon > L.MAX_SAMPLE_MONTHS:
        raise InputError("n", f"{n:,} samples x {horizon} months is {n * horizon:,} sample-months; the limit is "
                              f"{L.MAX_SAMPLE_MONTHS:,} (about minutes of work): ask for at most "
                              f"{L.MAX_SAMPLE_MONTHS // horizon:,} samples", value=n)
    physics = V.flag("physics", physics)
    engine = Engine(scenario, comparison)
    keys = engine.keys
    _check_memory(n, engine)
    samples = engine.with_run_speed(engine.sample(n, seed), n, physics)
    work = {}  # the chunks' (months x samples) working arrays, reused
    chunk = lambda i, wanted: rows.chunk_results(  # noqa: E731
        engine, {p: x[i:i + CHUNK] for p, x in samples.items()}, min(CHUNK, n - i), work, wanted)
    # Break-evens are reported against the reference only: after the first chunk, only the pairs with its
    # likeliest reference (that chunk's) are costed; another reference after all (rare) re-runs its pairs.
    parts = [chunk(0, None)]
    guess = _reference(keys, parts[0][0])
    parts += [chunk(i, _with(guess, keys)) for i in range(CHUNK, n, CHUNK)]
    totals = np.concatenate([t for t, _, _ in parts])
    per_request = np.concatenate([u for _, u, _ in parts])
    total_bands, per_request_bands = _bands(keys, totals), _bands(keys, per_request)
    ref = keys[int(np.argmin([total_bands[k].p50 for k in keys]))]
    if ref == guess or n <= CHUNK:
        pairs = {pair: np.concatenate([p[pair] for _, _, p in parts]) for pair in parts[-1][2]}
    else:
        rest = [chunk(i, _with(ref, keys))[2] for i in range(CHUNK, n, CHUNK)]
        pairs = {pair: np.concatenate([parts[0][2][pair]] + [r[pair] for r in rest]) for pair in _with(ref, keys)}
    cheapest = np.bincount(np.argmin(totals, axis=1), minlength=len(keys)) / n  # argmin: first of equals
    return MonteCarloResult(
        scenario=scenario.name, n=int(n), seed=seed, horizon_months=scenario.workload.horizon_months, reference=ref,
        total_usd=total_bands, usd_per_request=per_request_bands,
        prob_cheapest={k: float(p) for k, p in zip(keys, cheapest)},
        break_even_months={k: break_even_months(ref, k, pairs) for k in keys if k != ref},
        point_total_usd={k: engine.comparison.options[k].total_usd.p50 for k in keys},
        inputs=engine.uncertain, programme={p: b for p, b in engine.programme.items() if b.p90 > b.p10},
        physics=physics, samples_usd=totals)


def _reference(keys, totals: np.ndarray) -> str:
    """The option with the lowest median total over these samples (n, options)."""
    return keys[int(np.argmin(np.median(totals, axis=0)))]


def _with(ref: str, keys) -> set:
    """The option pairs (in keys order) that include `ref`."""
    return {(a, b) for i, a in enumerate(keys) for b in keys[i + 1:] if ref in (a, b)}


def _bands(keys, samples: np.ndarray) -> dict[str, Band]:
    """Band.from_samples of each column (samples: (n, options)): np.percentile's, by a faster selection
    (percentiles.py)."""
    p10, p50, p90 = percentiles(samples, (10.0, 50.0, 90.0))
    return {k: Band(float(p10[i]), float(p50[i]), float(p90[i])) for i, k in enumerate(keys)}


def _check_memory(n: int, engine: Engine) -> None:
    """Refuse a run whose sample arrays (inputs, draws, run speed, totals, $/request, crossings; x2 joined) pass the limit."""
    k = len(engine.keys)
    columns = len(engine.uncertain) + len(engine.programme) + (engine.speed is not None) + 2 * k + k * (k - 1) // 2
    need = 2 * 8 * n * columns
    if need > L.MAX_MONTE_CARLO_BYTES:
        raise InputError("n", f"{n:,} samples of {columns} columns need about {need / 2**30:.1f} GiB; the limit is "
                              f"{L.MAX_MONTE_CARLO_BYTES / 2**30:.0f} GiB: ask for fewer samples", value=n)
