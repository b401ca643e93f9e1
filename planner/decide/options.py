"""The three options a comparison weighs: their keys, in display order, and their names."""
from __future__ import annotations

OPTIONS = {
    "api": "Hosted API",
    "self_host": "Open weights + fine-tune + self-host",
    "scratch": "Train from scratch + self-host",
}
