"""How options look wherever they are shown: short names, letters for maps, colours.

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
