"""Build-vs-buy cost and capacity planner for foundation models.

The public API: catalog lookups (`model`, `gpu`), transformer arithmetic, and
estimates (`pretraining`, `finetuning`, `inference_speed`, `serving`, `compare`).
Everything here is numpy/scipy/pandas; torch and streamlit stay out.
"""
from .band import Band
from .catalog import gpu, gpus, model, models
from .efficiency import DEFAULTS as DEFAULT_EFFICIENCIES
from .efficiency import Efficiencies
from .errors import DoesNotFitError, InfeasibleError, InputError, PlannerError, UnknownNameError
from .finetuning import FinetuningEstimate, finetuning
from .pretraining import PretrainingEstimate, Staffing, pretraining
from .provenance import Assumption, Source
from .specs import GPUSpec, MLASpec, ModelSpec

__version__ = "0.1.0"
