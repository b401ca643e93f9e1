import numpy as np
import pytest

from planner import Band
from planner.core.errors import InputError, PlannerTypeError


def test_point_and_order():
    assert Band.point(3.0) == Band(3.0, 3.0, 3.0)
    with pytest.raises(ValueError, match="out of order"):
        Band(3.0, 2.0, 4.0)
    with pytest.raises(ValueError, match="NaN"):
        Band(float("nan"), 1.0, 2.0)


def test_division_by_band_swaps_ends():
    # GPU-hours = work / efficiency: the highest efficiency gives the fewest hours.
    hours = 100.0 / Band(0.25, 0.5, 1.0)
    assert hours == Band(100.0, 200.0, 400.0)


def test_comonotone_sum_and_product():
    b = Band(1.0, 2.0, 3.0)
    assert b + b == Band(2.0, 4.0, 6.0)
    assert b * 2 == Band(2.0, 4.0, 6.0)
    assert 10 + b == Band(11.0, 12.0, 13.0)


def test_from_samples_matches_numpy():
    x = np.random.default_rng(0).normal(size=10_001)
    b = Band.from_samples(x)
    assert b.p50 == pytest.approx(np.median(x))
    assert b.p10 == pytest.approx(np.percentile(x, 10))


def test_sorted_is_the_checked_constructor_on_three_floats():
    assert Band._sorted([3.0, 1.0, 2.0]) == Band(1.0, 2.0, 3.0)
    assert Band._sorted([1.0, float("inf"), 2.0]) == Band(1.0, 2.0, float("inf"))
    with pytest.raises(InputError):  # NaN still refused, through the checked path
        Band._sorted([1.0, float("nan"), 2.0])
    with pytest.raises(PlannerTypeError):  # so are non-numbers
        Band._sorted([1.0, "2", 3.0])
