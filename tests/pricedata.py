"""The price data the golden files and the README's figures were made with (tests/golden/price-data.json).

Hosted-API prices come from the installed `genai-prices` package and depend on the day they are
read for. Tests that hold prices pin both: the version (CI installs it from requirements/lock.txt)
and the day (`[api] prices_as_of`). Another installed version fails with the way out, not a diff.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

PRICE_DATA = Path(__file__).parent / "golden" / "price-data.json"


def installed_price_data() -> dict:
    from genai_prices import __version__
    return {"package": "genai-prices", "version": __version__}


def require_locked_price_data(*, regenerate: bool = False) -> dict:
    """The recorded price data (with regenerate: today's install and date, recorded first);
    fails with the way out when the installed package is another version."""
    if regenerate:
        record = {**installed_price_data(), "prices_as_of": datetime.now(UTC).date().isoformat()}
        PRICE_DATA.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    made, have = json.loads(PRICE_DATA.read_text(encoding="utf-8")), installed_price_data()
    if have["version"] != made["version"]:
        pytest.fail(f"the golden files and README figures were made with {made['package']} {made['version']}, but "
                    f"{have['package']} {have['version']} is installed: their API prices differ by design. "
                    "Install the locked versions (`pip install -c requirements/lock.txt -e '.[dev]'`, "
                    "as scripts/test.sh does), or move to the new price data on purpose with "
                    "`bash scripts/refresh_lock.sh`, which regenerates them and prints what changed.",
                    pytrace=False)
    return made
