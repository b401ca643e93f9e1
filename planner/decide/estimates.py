"""The estimates a comparison needs (fine-tuning, pretraining, serving), memoized by what they depend on.

A dashboard change of traffic does not move the training estimates (a layout search each, ~0.1 s),
a change of staff or prices does not move the serving plan (a simulated search), and one comparison
asks for the same serving plan up to three times (the self-hosted option, the prompt trade, a
scratch model served like it). Each is keyed by the option's frozen fields it reads, the resolved
model spec (an uploaded config registered again under the same name is another key) and the
calibration in use. Results are frozen; errors are not cached.
"""
from __future__ import annotations

import functools

from ..calibration.store import loaded_profiles
from ..catalog.lookup import custom_gpus_key
from ..catalog.lookup import gpu as lookup_gpu
from ..catalog.lookup import model as lookup_model
from ..core.errors import DoesNotFitError, InfeasibleError, InputError
from ..core.memo import by_identity
from ..estimate.finetuning import FinetuningEstimate, finetuning
from ..estimate.pretraining import PretrainingEstimate, Staffing, pretraining
from ..estimate.serving import ServingPlan, serving
from ..estimate.workload import Workload


def calibration_key() -> tuple:
    """What an estimate depends on besides its arguments: the calibration profiles in use, and the specs of the
    custom GPUs (a name registered again with other figures is another key)."""
    return tuple(sorted((k, p.source, p.results_file, p.date_utc) for k, p in loaded_profiles().items())) \
        + custom_gpus_key()


def _gpu(name: str, usd_per_gpu_hour: float | None):
    return name if usd_per_gpu_hour is None else _priced(lookup_gpu(name), usd_per_gpu_hour)


@by_identity()  # one spec per catalog GPU x price, so what the estimates build on it (a replica, its kernels) is reused
def _priced(g, usd_per_gpu_hour: float):
    return g.with_price(usd_per_gpu_hour)


def finetune_estimate(h, usd_per_gpu_hour: float | None = None) -> FinetuningEstimate | None:
    """The fine-tune `h` (a SelfHostOption) asks for, on its training GPU (h.training_gpu) at `usd_per_gpu_hour`
    (None: the catalog's price), on h.finetune_n_gpus GPUs (None: the fewest that fit)."""
    if h.finetune_method == "none":
        return None
    key = (h.training_gpu, usd_per_gpu_hour, h.finetune_method, h.finetune_tokens, h.finetune_epochs, h.finetune_n_gpus)
    try:
        return _finetune(key, lookup_model(h.model), calibration_key())
    except DoesNotFitError as e:
        if h.finetune_n_gpus is None:
            raise
        raise InputError("self_host.finetune_n_gpus", f"{h.finetune_n_gpus} is too few: {e}",
                         value=h.finetune_n_gpus) from None


def pretrain_estimate(model: str, gpu: str, usd_per_gpu_hour: float | None, tokens: float, n_gpus: int | None,
                      prep_months: float, staffing: Staffing, recipe=None) -> PretrainingEstimate:
    """The final pretraining run of `model` on `tokens` (see estimate/pretraining.py); `recipe` a TrainingRecipe
    applied to the searched layouts (None: the defaults)."""
    key = (gpu, usd_per_gpu_hour, tokens, n_gpus, prep_months, staffing, recipe)
    return _pretrain(key, lookup_model(model), calibration_key())


# Data-parallel attention with expert-parallel MoE (estimate/moe_serving.py), the scenario's names for serving()'s
# attention_dp: searched (with and without for an MoE model, off for a dense one), forced on, or off.
ATTENTION_DP = {"search": None, "on": True, "off": False}


def serving_plan(h, model: str, workload: Workload, usd_per_gpu_hour: float | None = None, *,
                 peak_latency: bool = True) -> ServingPlan:
    """The plan for `model` served as `h` says at `usd_per_gpu_hour` (a scratch model is served on the self-host
    settings); None: `h`'s quote, else the catalog's price. peak_latency=False: without plan.load_latency (None),
    for a plan only costed (serving()'s one simulated run fewer)."""
    usd = h.usd_per_gpu_hour if usd_per_gpu_hour is None else usd_per_gpu_hour
    key = (h.gpu, usd, h.precision, h.engine, h.kv_cache_dtype, h.tensor_parallel, h.max_batch_size,
           h.latency_percentile, h.utilization_ceiling, h.min_replicas, ATTENTION_DP[h.attention_dp],
           bool(peak_latency))
    return _serving(key, lookup_model(model), workload, calibration_key())


@functools.lru_cache(maxsize=64)
def _finetune(key: tuple, spec, calibration: tuple) -> FinetuningEstimate:
    gpu, usd, method, tokens, epochs, n_gpus = key
    return finetuning(model=spec, gpu=_gpu(gpu, usd), method=method, tokens=tokens, epochs=epochs, n_gpus=n_gpus)


@functools.lru_cache(maxsize=64)
def _pretrain(key: tuple, spec, calibration: tuple) -> PretrainingEstimate:
    gpu, usd, tokens, n_gpus, prep_months, staffing, recipe = key
    return pretraining(model=spec, gpu=_gpu(gpu, usd), tokens=tokens, n_gpus=n_gpus, prep_months=prep_months,
                       staffing=staffing, recipe=recipe)


@functools.lru_cache(maxsize=128)
def _serving(key: tuple, spec, workload: Workload, calibration: tuple) -> ServingPlan:
    gpu, usd, precision, engine, kv, tp, max_batch, percentile, ceiling, min_replicas, attention_dp, peak_latency = key
    return serving(model=spec, gpu=_gpu(gpu, usd), precision=precision, workload=workload, engine=engine,
                   kv_cache_dtype=kv, tensor_parallel=tp, max_batch_size=max_batch, latency_percentile=percentile,
                   utilization_ceiling=ceiling, min_replicas=min_replicas, attention_dp=attention_dp,
                   peak_latency=peak_latency)


def require_dtype(gpu_name: str, dtype: str, what: str) -> None:
    """InfeasibleError when the GPU has no tensor cores for `dtype` (e.g. fp8 on an A100)."""
    from ..catalog.lookup import gpu as lookup
    g = lookup(gpu_name)
    if dtype not in g.peak_flops:
        raise InfeasibleError(f"{what} needs {dtype} matrix units, which {g.name} does not have "
                              f"(it has: {', '.join(sorted(g.peak_flops))})")


def require_serving_dtype(s) -> None:
    """InfeasibleError when the serving GPU cannot run the scenario's precision (auto: searched, never refused)."""
    from ..catalog.specs import precision
    h = s.self_host
    if h.precision == "auto":  # the search takes only the formats the GPU runs (estimate/search.py)
        return
    require_dtype(h.gpu, precision(h.precision).compute_dtype, f"serving at {h.precision}")
