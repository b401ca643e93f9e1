"""The reference transformer: parameter counts equal the planner's, KV-cache decoding is exact."""
import pytest

torch = pytest.importorskip("torch")

from benchmarks.model.transformer import CONFIGS, Transformer, build, config, to_model_spec  # noqa: E402
from planner.estimate.arithmetic import kv_cache_bytes_per_token, total_params  # noqa: E402


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_param_count_matches_planner_exactly(name):
    cfg = config(name)
    with torch.device("meta"):  # counts shapes without allocating 1B parameters
        module = Transformer(cfg)
    assert total_params(to_model_spec(cfg)) == sum(p.numel() for p in module.parameters())


def test_configs_cover_gqa_and_mha():
    kinds = {c.n_kv_heads == c.n_heads for c in CONFIGS.values()}
    assert kinds == {True, False}


def test_kv_cache_bytes_match_planner():
    cfg = config("tiny")
    model = build(cfg)
    model.setup_caches(max_batch=1, max_seq_len=10)
    cache = model.layers[0].attention.kv_cache
    per_token = sum(2 * c.kv_cache.k[0, :, 0].nbytes for c in (b.attention for b in model.layers))
    assert cache.k.shape == (1, cfg.n_kv_heads, 10, cfg.head_dim)
    assert per_token == kv_cache_bytes_per_token(to_model_spec(cfg), bytes_per_element=4)


@pytest.mark.parametrize("name", ["tiny", "tiny-mha"])
def test_cached_decoding_equals_full_forward(name):
    cfg = config(name)
    model = build(cfg).eval()
    x = torch.randint(0, cfg.vocab_size, (2, 16))
    with torch.no_grad():
        full = model(x)
        model.setup_caches(max_batch=2, max_seq_len=32)
        steps = [model(x[:, :10], 0)] + [model(x[:, t:t + 1], t) for t in range(10, 16)]
        chunk = model(x[:, 12:], 12)  # several new tokens on top of a cache
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(chunk, full[:, 12:], rtol=1e-4, atol=1e-4)


def test_unknown_config_lists_the_known_ones():
    with pytest.raises(KeyError, match="tiny"):
        config("huge")
