"""A scenario in the page's address: the TOML text, zlib-compressed and URL-safe base64 encoded, in the query
parameter `scenario` (the open tab in `view`). A link in a planning document reopens exactly that view.

A link is untrusted input: decoding checks its length before and after decompression (no zip bomb), and the
TOML then goes through the same checks as an uploaded scenario (dashboard.state.parse_scenario).
"""
from __future__ import annotations

import base64
import binascii
import zlib

from planner.core.errors import PlannerError

PARAM = "scenario"
VIEW_PARAM = "view"
# Judgement: RFC 9110 section 4.1 asks clients to support URIs of at least 8,000 octets; a scenario compresses to
# ~1-2 kB of base64, so this leaves room while refusing anything a document would not hold.
MAX_LINK_CHARS = 8000
MAX_TOML_BYTES = 64_000  # a scenario file is ~2-6 kB; more from a short link can only be a compression bomb


def encode(scenario_toml: str) -> str:
    """The query-parameter value for a scenario's TOML text."""
    return base64.urlsafe_b64encode(zlib.compress(scenario_toml.encode("utf-8"), 9)).decode("ascii").rstrip("=")


def decode(value: str) -> str:
    """The TOML text a link's `scenario` parameter holds; PlannerError saying what is wrong with it."""
    what = f"the link's {PARAM!r} parameter"
    if len(value) > MAX_LINK_CHARS:
        raise PlannerError(f"{what} is {len(value):,} characters long; the limit is {MAX_LINK_CHARS:,}")
    try:
        packed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise PlannerError(f"{what} is not URL-safe base64 (was the link cut short or edited?)") from None
    d = zlib.decompressobj()
    try:
        data = d.decompress(packed, MAX_TOML_BYTES + 1)
    except zlib.error:
        raise PlannerError(f"{what} does not decompress (was the link cut short or edited?)") from None
    if len(data) > MAX_TOML_BYTES or d.unconsumed_tail:
        raise PlannerError(f"{what} unpacks to more than {MAX_TOML_BYTES:,} bytes; a scenario is far smaller")
    if not d.eof:
        raise PlannerError(f"{what} ends early (was the link cut short?)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PlannerError(f"{what} is not UTF-8 text") from None
