"""Golden files: the JSON of `compare()` for the three bundled examples, pinned.

They were written before the package was regrouped into subpackages (issue 12) so that a
move which changes any number fails here. A deliberate model change regenerates them with
`PLANNER_REGEN_GOLDEN=1 pytest tests/test_golden.py` and says so in its commit.

They hold hosted-API prices, so they depend on the price data (the `genai-prices` package) and
on the day prices are read for. Both are pinned: `price-data.json` records the package version
and the day, the comparison is run for that day (`[api] prices_as_of`), and a different installed
version fails first with a plain message instead of a numeric diff. CI installs the version in
requirements/lock.txt; scripts/refresh_lock.sh moves the lock and regenerates these files.
"""
import dataclasses
import json
import os
from pathlib import Path

import pytest

import planner
from planner.present.formatting import dumps_json
from pricedata import require_locked_price_data

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
GOLDEN = Path(__file__).parent / "golden"


VOLATILE: set[str] = set()


def golden_scenario(path: Path) -> planner.Scenario:
    """The example as the golden files ran it: API prices read for the day they were made."""
    s = planner.load_scenario(path)
    day = require_locked_price_data(regenerate=bool(os.environ.get("PLANNER_REGEN_GOLDEN")))["prices_as_of"]
    return dataclasses.replace(s, api=dataclasses.replace(s.api, prices_as_of=day))


def _close(a, b, path="$"):
    """Equal structure; numbers equal within 1e-9 relative (float summation order may differ)."""
    if isinstance(a, dict):
        a, b = ({k: v for k, v in d.items() if k not in VOLATILE} if isinstance(d, dict) else d for d in (a, b))
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-9), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_compare_matches_golden(path):
    got = json.loads(dumps_json(planner.compare(golden_scenario(path)).to_dict()))
    golden = GOLDEN / f"compare-{path.stem}.json"
    if os.environ.get("PLANNER_REGEN_GOLDEN"):
        golden.write_text(dumps_json(got) + "\n", encoding="utf-8")
    _close(json.loads(golden.read_text(encoding="utf-8")), got)
