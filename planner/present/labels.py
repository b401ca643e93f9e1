"""How options look wherever they are shown: short names, letters for maps, colours, and the scope each
training cost is labelled with.

The long names are decide's (planner.decide.options.OPTIONS); the CLI, the report, the
charts and the dashboard take everything else from here, so a colour or a name changes once.
"""
from __future__ import annotations

from ..decide.options import OPTIONS

SHORT = {"api": "API", "self_host": "self-host", "scratch": "scratch"}
LETTERS = {"api": "A", "self_host": "S", "scratch": "T"}  # T: trained from scratch
COLOURS = {"api": "#1f77b4", "self_host": "#2ca02c", "scratch": "#d62728"}  # matplotlib tab10 blue, green, red
OTHER_COLOUR = "#7f7f7f"
ANNOTATION_COLOUR = "#555555"


def label(key: str) -> str:
    """The option's full name; an unknown key is shown as itself."""
    return OPTIONS.get(key, key)


def short(key: str) -> str:
    return SHORT.get(key, key)


def colour(key: str) -> str:
    return COLOURS.get(key, OTHER_COLOUR)


# What a training cost counts. Every view (dashboard, CLI, report) labels a pretraining or fine-tuning cost
# with one of these, so two different figures never share a label.
SCOPE_RUN = "compute only, the final run"
SCOPE_RUN_STAFF = "final-run compute + research staff; no ablations, data or post-training"
SCOPE_PROGRAMME = "whole programme: final run, ablations, failed runs, data, post-training, staff, evaluation"
SCOPE_FINETUNE = "compute only, one fine-tuning run"
ONE_TIME_SCOPE = ("One-time: everything paid before production. Train from scratch: the whole pretraining programme "
                  "(final run, ablations, failed runs, data, post-training, research staff, evaluation); open weights: "
                  "fine-tuning compute, evaluation and setup staff; hosted API: integration.")
# The Options card's one-time metric, by option: what it counts.
ONE_TIME_LABEL = {"api": "one-time (integration)", "self_host": "one-time (fine-tune, evaluation, setup)",
                  "scratch": "one-time (whole programme)"}
