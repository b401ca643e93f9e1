"""The published whole-run check: the calibration/validation split and the whole-run factor it sets."""
import pandas as pd
import pytest

from planner.estimate.published_check import check_published_runs, summary_line, whole_run_overhead
from planner.estimate.training_run import OVERHEAD_BY_BASIS, RUN_OVERHEAD


@pytest.fixture(scope="module")
def df():
    return check_published_runs()


def test_summary_reports_each_set_apart(df):
    lines = summary_line(df).splitlines()
    assert [line.split(":")[0] for line in lines] == ["all", "calibration", "validation"]
    n_val = int((df["set"] == "validation").sum())
    assert f"over {n_val} runs" in lines[2] and f"over {len(df) - n_val} runs" in lines[1]


def test_summary_split_uses_only_each_sets_rows():
    """A made-up table: calibration errors 10% and 30%, validation 50%: each line gives its own median."""
    df = pd.DataFrame({"set": ["calibration", "calibration", "validation"], "error": [0.1, -0.3, 0.5],
                       "inside_band": [True, False, True]})
    lines = summary_line(df).splitlines()
    assert "median error 20.0%" in lines[1] and "median error 50.0%" in lines[2]
    assert "1 of 2 published values" in lines[1] and "median signed error -10.0%" in lines[1]


def test_run_overhead_is_what_the_calibration_runs_imply(df):
    """RUN_OVERHEAD holds whole_run_overhead() rounded: a change to the calibration runs or the step model
    that moves it fails here until the default is set again (from calibration runs only)."""
    band = whole_run_overhead(df)
    assert (RUN_OVERHEAD.p10, RUN_OVERHEAD.p50, RUN_OVERHEAD.p90) == pytest.approx((band.p10, band.p50, band.p90), abs=0.02)


def test_each_gpu_hours_basis_has_the_factor_its_calibration_runs_imply(df):
    """METERED_OVERHEAD and ALLOCATION_OVERHEAD hold whole_run_overhead(df, basis) rounded, each from the
    calibration runs of its basis only; each run is compared with its own basis's factor."""
    for basis, band in OVERHEAD_BY_BASIS.items():
        implied = whole_run_overhead(df, basis)
        assert (band.p10, band.p50, band.p90) == pytest.approx((implied.p10, implied.p50, implied.p90), abs=0.02)
        assert ((df["set"] == "calibration") & (df["basis"] == basis)).sum() >= 4
    row = df[df["run"] == "Phi-4 pretraining"].iloc[0]  # 1,920 GPUs x 21 days: the cluster's wall-clock
    assert row["basis"] == "allocation"
    assert row["estimate_p50"] / row["step_only_p50"] == pytest.approx(OVERHEAD_BY_BASIS["allocation"].p50)
    # a figure of the cluster's wall-clock holds idle and restart time a job's metered hours do not
    assert OVERHEAD_BY_BASIS["allocation"].p50 > OVERHEAD_BY_BASIS["metered"].p50


def test_a_run_without_a_known_gpu_hours_basis_is_refused(monkeypatch):
    import tomllib
    from planner.catalog import published
    real = tomllib.loads
    def drop_basis(text):
        data = real(text)
        for run in data.get("run", []):
            run.pop("gpu_hours_basis", None)
        return data
    monkeypatch.setattr(published.tomllib, "loads", drop_basis)
    published.published_runs.cache_clear()
    try:
        with pytest.raises(ValueError, match="gpu_hours_basis"):
            published.published_runs()
    finally:
        monkeypatch.undo()
        published.published_runs.cache_clear()


def test_validation_runs_do_not_move_the_whole_run_factor(df):
    """Doubling every validation run's published GPU-hours leaves the factor where it was."""
    moved = df.assign(published_gpu_hours=df["published_gpu_hours"].where(df["set"] == "calibration",
                                                                         df["published_gpu_hours"] * 2))
    a, b = whole_run_overhead(df), whole_run_overhead(moved)
    assert (a.p10, a.p50, a.p90) == (b.p10, b.p50, b.p90)
    assert (df["set"] == "validation").any()


def test_a_run_whose_source_states_its_recipe_is_searched_with_it(df):
    """DeepSeek-V3 states DualPipe overlap, aux-loss-free balance, node-limited dispatch and block-wise fp8
    (published_runs.toml); the check's row uses that recipe and the other runs keep the defaults."""
    from planner.catalog.published import published_runs
    from planner.estimate.pretraining import pretraining
    runs = {r.name: r for r in published_runs()}
    ds = runs["DeepSeek-V3 pretraining"]
    assert dict(ds.recipe) == {"moe_overlap": True, "moe_balance": "aux-free", "moe_dispatcher": "deepep",
                               "fp8_recipe": "blockwise"} and "Sec. 3.2.1" in ds.recipe_note
    assert [name for name, r in runs.items() if r.recipe] == ["DeepSeek-V3 pretraining"]
    overhead = OVERHEAD_BY_BASIS[ds.gpu_hours_basis]
    est = pretraining(model=ds.model, gpu=ds.gpu, tokens=ds.tokens, seq_len=ds.seq_len, n_gpus=ds.n_gpus, fp8=ds.fp8,
                      recipe=dict(ds.recipe), overhead_factor=overhead)
    row = df[df["run"] == ds.name].iloc[0]
    assert row["estimate_p50"] == pytest.approx(est.gpu_hours.p50, rel=1e-12) and est.layout.moe_overlap
    defaults = pretraining(model=ds.model, gpu=ds.gpu, tokens=ds.tokens, seq_len=ds.seq_len, n_gpus=ds.n_gpus,
                           fp8=ds.fp8, overhead_factor=overhead)
    assert row["estimate_p50"] < defaults.gpu_hours.p50


def test_a_recipe_without_a_note_is_refused():
    from planner.catalog.published import _recipe
    with pytest.raises(ValueError, match="recipe_note"):
        _recipe({"name": "x", "recipe": {"moe_overlap": True}})
    with pytest.raises(ValueError, match="table"):
        _recipe({"name": "x", "recipe": "moe_overlap", "recipe_note": "y"})
    assert _recipe({"name": "x"}) == ()


def test_overhead_factor_by_basis_name_is_that_basis_factor():
    """A user names how GPU-hours are counted; the run's hours scale by that basis's factor, not the default's.
    Breaks if the name were ignored (the default factor used) or mapped to the other basis."""
    from planner import pretraining
    from planner.core.errors import InputError
    from planner.estimate.training_run import OVERHEAD_BY_BASIS, RUN_OVERHEAD
    kw = dict(model="Llama-2-7B", gpu="H100 SXM", n_gpus=64)
    base = pretraining(**kw).gpu_hours.p50 / RUN_OVERHEAD.p50
    for basis, band in OVERHEAD_BY_BASIS.items():
        got = pretraining(**kw, overhead_factor=basis).gpu_hours
        assert got.p50 == pytest.approx(base * band.p50, rel=1e-9)
    with pytest.raises(InputError, match="overhead_factor"):
        pretraining(**kw, overhead_factor="rented")
