"""The published step-throughput check: its data rules and the estimate at a published layout."""
import pytest

from planner.catalog.published import _step, published_steps
from planner.estimate import step_check

ROW = {"name": "toy", "set": "validation", "model": "Llama-3.1-8B", "gpu": "H100 SXM", "precision": "bf16",
       "n_gpus": 16, "seq_len": 4096, "global_batch": 128, "layout": {"tp": 2, "micro_batch": 1},
       "tokens_per_s_per_gpu": 8000.0, "source": {"url": "https://example.org", "checked": "2026-12-07"}}


def test_every_figure_is_in_one_set_and_loads():
    for s in published_steps():
        assert s.set in ("calibration", "validation")
        assert s.tokens_per_s_per_gpu > 0 and s.source.url.startswith("http")


@pytest.mark.parametrize("bad", [{"set": "test"}, {"precision": "fp4"}, {"layout": {"tq": 2}}])
def test_bad_rows_are_refused_with_their_name(bad):
    with pytest.raises(ValueError, match="toy"):
        _step({**ROW, **bad})


def test_published_layout_is_used_as_given():
    s = _step(ROW)
    lay = step_check.layout_of(s)
    assert (lay.tp, lay.dp, lay.pp, lay.global_batch, lay.fp8) == (2, 8, 1, 128, False)
    est = step_check.estimate_tokens_per_s_per_gpu(s)
    # an 8B model at ~6 x 8e9 FLOP per token on a ~989 TFLOP/s card at 20-80% MFU
    assert 989e12 * 0.2 / (6 * 8e9) < est < 989e12 * 0.8 / (6 * 8e9)
    fp8 = step_check.estimate_tokens_per_s_per_gpu(_step({**ROW, "precision": "fp8"}))
    assert fp8 > est
