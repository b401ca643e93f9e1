"""Build-vs-buy cost and capacity planner for foundation models.

The public API: catalog lookups (`model`, `gpu`), transformer arithmetic, and
estimates (`pretraining`, `finetuning`, `inference_speed`, `serving`, `compare`).
Everything here is numpy/scipy/pandas; torch and streamlit stay out.
"""
from .api_prices import ApiPrice, api_price, hosted_finetune_price, price_data_info, search_api_models
from .band import Band
from .calibration import CalibrationProfile, calibrate, use_results
from .catalog import gpu, gpus, model, models
from .compare import Comparison, compare
from .efficiency import DEFAULTS as DEFAULT_EFFICIENCIES
from .efficiency import Efficiencies
from .errors import DoesNotFitError, InfeasibleError, InputError, PlannerError, UnknownNameError
from .finetuning import FinetuningEstimate, finetuning
from .hf_config import model_from_hf_config
from .inference import InferenceSpeed, inference_speed
from .pretraining import PretrainingEstimate, Staffing, pretraining
from .provenance import Assumption, Source
from .scenario import (ApiOption, Costs, Flags, Scenario, ScratchOption, SelfHostOption, dumps_scenario,
                       load_scenario, loads_scenario, save_scenario)
from .sensitivity import FrontierResult, frontier, tornado
from .serving import ServingPlan, serving
from .uncertainty import MonteCarloResult, monte_carlo
from .specs import GPUSpec, MLASpec, ModelSpec
from .workload import Workload

__version__ = "0.1.0"
