"""Build-vs-buy cost and capacity planner for foundation models.

The public API: catalog lookups (`model`, `gpu`), estimates (`pretraining`, `finetuning`,
`inference_speed`, `serving`, `max_throughput`; `sweep`: inference_speed over thousands of rows), the
comparison (`compare`), its uncertainty (`monte_carlo`, `tornado`, `frontier`; `recommendation`: compare()'s pick
with its P(cheapest)) and reports (`write_report`). The package is grouped by pipeline stage
(core -> catalog -> calibration -> estimate -> decide -> uncertainty -> present; see
docs/architecture.md). Names load on first use, so `import planner` is cheap: numpy, scipy,
pandas and the price data are imported only when a call needs them. Torch and streamlit
never are.
"""
from __future__ import annotations

import importlib

from .core.version import __version__  # noqa: F401  (listed in __all__)

# public name -> the module that defines it (one place to look for each)
_EXPORTS = {
    "PlannerError": "core.errors", "InputError": "core.errors", "PlannerTypeError": "core.errors",
    "UnknownNameError": "core.errors",
    "DoesNotFitError": "core.errors", "InfeasibleError": "core.errors",
    "Band": "core.band", "Assumption": "core.provenance", "Source": "core.provenance",
    "GPUSpec": "catalog.specs", "MLASpec": "catalog.specs", "ModelSpec": "catalog.specs",
    "gpu": "catalog.lookup", "gpus": "catalog.lookup", "model": "catalog.lookup", "models": "catalog.lookup",
    "register_gpu": "catalog.lookup", "read_gpu_file": "catalog.custom_gpu",
    "model_from_hf_config": "catalog.hf_config",
    "ApiPrice": "catalog.api_prices", "api_price": "catalog.api_prices", "hosted_finetune_price": "catalog.api_prices",
    "price_history": "catalog.price_history",
    "price_data_info": "catalog.api_prices", "search_api_models": "catalog.api_prices",
    "CalibrationProfile": "calibration.profiles", "calibrate": "estimate.calibrated",
    "use_results": "estimate.calibrated", "use_silicon": "calibration.silicon",
    "silicon_profile": "calibration.silicon",
    "Efficiencies": "calibration.efficiency", "DEFAULT_EFFICIENCIES": "calibration.efficiency",
    "Workload": "estimate.workload",
    "InferenceSpeed": "estimate.inference", "inference_speed": "estimate.inference",
    "ServingPlan": "estimate.serving", "serving": "estimate.serving",
    "Throughput": "estimate.throughput", "max_throughput": "estimate.throughput", "sweep": "estimate.sweep",
    "PretrainingEstimate": "estimate.pretraining", "Staffing": "estimate.pretraining",
    "pretraining": "estimate.pretraining",
    "FinetuningEstimate": "estimate.finetuning", "finetuning": "estimate.finetuning",
    "MaxFit": "estimate.max_fit", "max_fit": "estimate.max_fit",
    "pretraining_scaling": "estimate.scaling",
    "TrainingLayout": "estimate.layout", "training_memory": "estimate.layout", "MemoryBreakdown": "estimate.layout",
    "TrainingRecipe": "estimate.recipe",
    "Scenario": "decide.scenario", "ApiOption": "decide.sections", "SelfHostOption": "decide.sections",
    "ScratchOption": "decide.sections", "Costs": "decide.sections", "Flags": "decide.sections",
    "load_scenario": "decide.scenario", "loads_scenario": "decide.scenario", "save_scenario": "decide.scenario",
    "dumps_scenario": "decide.scenario",
    "Comparison": "decide.compare", "compare": "decide.compare", "Shortlist": "decide.shortlist",
    "Hardware": "decide.sourcing", "SOURCINGS": "decide.sourcing", "rent_or_own": "decide.sourcing",
    "Programme": "decide.scratch", "token_budget": "decide.scratch", "policy_costs": "decide.scratch",
    "regions": "catalog.costs", "grid_intensity": "catalog.costs",
    "MonteCarloResult": "uncertainty.montecarlo", "monte_carlo": "uncertainty.montecarlo",
    "FrontierResult": "uncertainty.sensitivity", "frontier": "uncertainty.sensitivity",
    "tornado": "uncertainty.sensitivity", "recommendation": "uncertainty.risk",
    "write_report": "present.report",
}
_ALIASES = {"DEFAULT_EFFICIENCIES": "DEFAULTS"}  # public name -> name inside its module

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str):
    try:
        where = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'planner' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{where}"), _ALIASES.get(name, name))
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
