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
from ..catalog.lookup import gpu as lookup_gpu
from ..catalog.lookup import model as lookup_model
from ..estimate.finetuning import FinetuningEstimate, finetuning
from ..estimate.pretraining import PretrainingEstimate, Staffing, pretraining
from ..estimate.serving import ServingPlan, serving
from ..estimate.workload import Workload
from .sections import Costs, ScratchOption, SelfHostOption


def calibration_key() -> tuple:
    """What an estimate's efficiencies depend on besides its arguments: the calibration profiles in use."""
    return tuple(sorted((k, p.source, p.results_file, p.date_utc) for k, p in loaded_profiles().items()))


def _gpu(name: str, usd_per_gpu_hour: float | None):
    return name if usd_per_gpu_hour is None else lookup_gpu(name).with_price(usd_per_gpu_hour)


def finetune_estimate(h: SelfHostOption) -> FinetuningEstimate | None:
    return None if h.finetune_method == "none" else _finetune(h, lookup_model(h.model), calibration_key())


def pretrain_estimate(c: ScratchOption, costs: Costs) -> PretrainingEstimate:
    return _pretrain(c, costs, lookup_model(c.model), calibration_key())


def serving_plan(h: SelfHostOption, model: str, workload: Workload) -> ServingPlan:
    """The plan for `model` served as `h` says (a scratch model is served on the self-host settings)."""
    key = (h.gpu, h.usd_per_gpu_hour, h.precision, h.engine, h.kv_cache_dtype, h.tensor_parallel, h.max_batch_size,
           h.latency_percentile, h.utilization_ceiling, h.min_replicas)
    return _serving(key, lookup_model(model), workload, calibration_key())


@functools.lru_cache(maxsize=64)
def _finetune(h: SelfHostOption, spec, calibration: tuple) -> FinetuningEstimate:
    return finetuning(model=spec, gpu=_gpu(h.gpu, h.usd_per_gpu_hour), method=h.finetune_method,
                      tokens=h.finetune_tokens, epochs=h.finetune_epochs)


@functools.lru_cache(maxsize=64)
def _pretrain(c: ScratchOption, costs: Costs, spec, calibration: tuple) -> PretrainingEstimate:
    return pretraining(model=spec, gpu=c.gpu, tokens=c.tokens, n_gpus=c.n_gpus, prep_months=c.prep_months,
                       staffing=Staffing(c.researchers, c.months, costs.usd_per_engineer_year))


@functools.lru_cache(maxsize=128)
def _serving(key: tuple, spec, workload: Workload, calibration: tuple) -> ServingPlan:
    gpu, usd, precision, engine, kv, tp, max_batch, percentile, ceiling, min_replicas = key
    return serving(model=spec, gpu=_gpu(gpu, usd), precision=precision, workload=workload, engine=engine,
                   kv_cache_dtype=kv, tensor_parallel=tp, max_batch_size=max_batch, latency_percentile=percentile,
                   utilization_ceiling=ceiling, min_replicas=min_replicas)
