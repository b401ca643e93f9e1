"""Catalog data: every entry sourced and sane; lookups strict, case-insensitive, helpful."""
import re
import tomllib
from importlib import resources

import pytest

import planner
from planner import GPUSpec, ModelSpec, UnknownNameError

GPUS = planner.gpus()
MODELS = planner.models()
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REQUIRED_GPUS = ["V100 SXM2 16GB", "A10G", "L4", "L40S", "RTX A6000", "RTX 6000 Ada", "A100 40GB SXM",
                 "A100 80GB SXM", "H100 SXM", "H100 PCIe", "H100 NVL", "H800 SXM", "H200 SXM", "H20", "B200",
                 "GB200", "MI250X", "MI300X", "MI325X", "MI355X", "Gaudi 2", "Gaudi 3", "TPU v5e", "TPU v5p",
                 "TPU v6e",
                 # the cards people fine-tune on (issue 22)
                 "RTX 4090", "RTX 5090", "RTX 3090", "L40", "A10", "A40", "L20", "GH200", "MI250 GCD"]


def _data(filename):
    return tomllib.loads(resources.files("planner.catalog").joinpath("data", filename).read_text(encoding="utf-8"))


def test_required_gpus_present():
    names = {g.name for g in GPUS}
    assert set(REQUIRED_GPUS) <= names and len(names) >= 20


@pytest.mark.parametrize("g", GPUS, ids=lambda g: g.name)
def test_gpu_scale_up_and_scale_out_fields(g):
    assert g.link_kind in ("nvlink", "pcie", "infinity-fabric", "ici", "ethernet")
    assert g.scale_up_domain_size >= 1 and g.scale_out_bytes_per_s >= 0
    if g.link_kind == "pcie":
        assert g.scale_up_domain_size == 1  # no bridge: each card is its own domain
    if g.scale_out_bytes_per_s:
        assert "scale_out" in g.sources
    assert g.scale_out_bytes_per_s <= 200e9  # 1.6 Tb/s per accelerator would be a unit slip


@pytest.mark.parametrize("name, bf16_tflops, fp16_accumulate_sparse_tflops", [
    ("RTX 4090", 165.2, 660.6), ("RTX 5090", 209.5, 838.4)])
def test_geforce_bf16_peak_is_the_fp32_accumulate_rate(name, bf16_tflops, fp16_accumulate_sparse_tflops):
    """GeForce datasheets lead with sparse fp16-accumulate figures, 4x the dense fp32-accumulate rate training runs at."""
    g = planner.gpu(name)
    assert g.peak("bf16") == pytest.approx(bf16_tflops * 1e12)
    assert g.peak("bf16") == pytest.approx(fp16_accumulate_sparse_tflops * 1e12 / 4, rel=0.01)


def test_mi250_is_one_gcd():
    """torch sees an MI250 as two devices; the catalog entry is one of them (half the module)."""
    g = planner.gpu("MI250")
    assert g.name == "MI250 GCD" and g.memory_bytes == 64 * 2**30
    assert g.peak("bf16") == pytest.approx(362.1e12 / 2)


def test_scale_up_domains_of_named_systems():
    assert planner.gpu("GB200").scale_up_domain_size == 72
    assert planner.gpu("H100 SXM").scale_up_domain_size == 8
    assert planner.gpu("L4").scale_up_domain_size == 1
    assert planner.gpu("H100 SXM").scale_out_bytes_per_s == 50e9  # 400 Gb/s
    # AWS p6e-gb200: 1,600 Gbps EFA per 4-GPU tray = 400 Gb/s per GPU (800 Gb/s is GB300's ConnectX-8)
    assert planner.gpu("GB200").scale_out_bytes_per_s == 50e9


@pytest.mark.parametrize("name, gb_per_s", [("TPU v5e", 400), ("TPU v5p", 1200), ("TPU v6e", 800)])
def test_tpu_ici_is_the_bidirectional_per_chip_figure(name, gb_per_s):
    """Google's v5e/v5p/v6e pages print bidirectional ICI per chip; older pages printed one direction in Gbps."""
    assert planner.gpu(name).interconnect_bytes_per_s == gb_per_s * 1e9


def test_no_source_note_is_left_as_remembered():
    """A figure is either read from a named source or its note says plainly that none was found."""
    for g in GPUS:
        for key, src in g.sources.items():
            assert "as remembered" not in src.note.lower(), (g.name, key, src.note)


@pytest.mark.parametrize("g", GPUS, ids=lambda g: g.name)
def test_gpu_entry_is_sourced(g):
    for key in ("peak_tflops", "memory", "usd_per_gpu_hour"):
        src = g.sources[key]
        assert src.url.startswith("https://"), (key, src.url)
        assert ISO_DATE.match(src.checked), (key, src.checked)
        assert src.note, f"{g.name}: source for {key} needs a note"


@pytest.mark.parametrize("g", GPUS, ids=lambda g: g.name)
def test_gpu_fields_positive_and_plausible(g):
    assert g.memory_bytes > 0 and g.memory_bytes_per_s > 0 and g.usd_per_gpu_hour > 0
    assert g.interconnect_bytes_per_s > 0 and g.tdp_watts > 0
    assert all(v > 0 for v in g.peak_flops.values())
    # The 16-bit tensor dtype: bf16, or fp16 on Volta (no bf16). TPUs publish no fp32 peak.
    half = "bf16" if "bf16" in g.peak_flops else "fp16"
    assert half in g.peak_flops
    # Dense tensor-core peaks order: fp32 (vector) < tf32 < bf16 <= int8.
    if "fp32" in g.peak_flops:
        assert g.peak("fp32") < g.peak(half)
    if "tf32" in g.peak_flops:
        assert g.peak("tf32") < g.peak(half)
    # Bounds that would catch a unit slip (TFLOP/s typed as PFLOP/s or a sparse figure).
    assert 50e12 < g.peak(half) < 5.1e15
    assert 10 * 2**30 < g.memory_bytes < 400 * 2**30
    assert 0.1e12 < g.memory_bytes_per_s < 20e12


@pytest.mark.parametrize("g", [g for g in GPUS if "fp8" in g.peak_flops], ids=lambda g: g.name)
def test_bf16_peak_below_fp8_peak(g):
    assert g.peak("bf16") <= g.peak("fp8")
    if g.vendor != "Intel":  # Gaudi 3's MME runs fp8 at the bf16 rate (Intel white paper)
        assert g.peak("fp8") == pytest.approx(2 * g.peak("bf16"), rel=0.02)


def test_a100_has_no_fp8():
    with pytest.raises(planner.PlannerError, match="no fp8"):
        planner.gpu("A100 80GB SXM").peak("fp8")


def test_catalog_names_and_aliases_are_unique():
    for filename, table in (("gpus.toml", "gpu"), ("models.toml", "model")):
        keys = []  # one set per entry: an alias may repeat its own name in other case
        for d in _data(filename)[table]:
            keys += list({k.lower() for k in [d["name"], *d.get("aliases", [])]})
        dupes = {k for k in keys if keys.count(k) > 1}
        assert not dupes, f"{filename}: {dupes} name more than one entry"


@pytest.mark.parametrize("d", _data("gpus.toml")["gpu"], ids=lambda d: d["name"])
def test_gpu_aliases_resolve(d):
    for key in [d["name"], *d.get("aliases", [])]:
        assert planner.gpu(key).name == d["name"]


@pytest.mark.parametrize("d", _data("models.toml")["model"], ids=lambda d: d["name"])
def test_model_aliases_resolve(d):
    assert d.get("aliases"), f"{d['name']} needs aliases (HF repo id, short form)"
    assert any("/" in a for a in d["aliases"]), f"{d['name']} needs its HF repo id as an alias"
    for key in [d["name"], *d["aliases"]]:
        assert planner.model(key).name == d["name"]


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.name)
def test_model_entry_is_sourced(m):
    assert m.source is not None and m.source.url.startswith("https://")
    assert ISO_DATE.match(m.source.checked)
    assert m.published_params > 0
    if m.is_moe:
        assert m.published_active_params > 0


def test_lookup_is_case_insensitive():
    assert planner.gpu("h100 sxm") is planner.gpu("H100 SXM")
    assert planner.gpu("  MI300x ") is planner.gpu("MI300X")
    assert planner.model("LLAMA-2-7B") is planner.model("Llama-2-7B")
    assert planner.model("meta-llama/llama-3.1-8b") is planner.model("Llama-3.1-8B")


@pytest.mark.parametrize("kind, lookup, typo, expected", [
    ("GPU", planner.gpu, "H100 SMX", "H100 SXM"),
    ("GPU", planner.gpu, "H200 SMX", "H200 SXM"),
    ("GPU", planner.gpu, "MI335X", "MI325X"),
    ("model", planner.model, "Llama-3.1-8", "Llama-3.1-8B"),
    ("model", planner.model, "Mixtral-8x7", "Mixtral-8x7B"),
])
def test_unknown_name_lists_close_matches(kind, lookup, typo, expected):
    with pytest.raises(UnknownNameError) as info:
        lookup(typo)
    assert expected in info.value.suggestions
    assert f"unknown {kind}" in str(info.value) and expected in str(info.value)


def test_unknown_name_with_nothing_close():
    with pytest.raises(UnknownNameError) as info:
        planner.gpu("zzzzzz")
    assert info.value.suggestions == []


def test_user_defined_specs_pass_through():
    g = GPUSpec(name="My ASIC", peak_flops={"bf16": 500e12}, memory_bytes=64 * 2**30,
                memory_bytes_per_s=2e12, interconnect_bytes_per_s=400e9, tdp_watts=500,
                usd_per_gpu_hour=1.0)
    m = ModelSpec(name="tiny", n_layers=2, dim=64, n_heads=4, n_kv_heads=2, ffn_dim=128, vocab_size=100)
    assert planner.gpu(g) is g
    assert planner.model(m) is m


def test_with_price_overrides_only_price():
    h = planner.gpu("H100 SXM")
    quoted = h.with_price(2.10)
    assert quoted.usd_per_gpu_hour == 2.10 and quoted.peak_flops == h.peak_flops


RUNS = _data("published_runs.toml")["run"]


def test_enough_published_runs():
    assert len(RUNS) >= 6


@pytest.mark.parametrize("run", RUNS, ids=lambda r: r["name"])
def test_published_run_refers_to_catalog_and_is_sourced(run):
    assert {"set", "name", "model", "gpu", "tokens", "gpu_hours", "seq_len", "n_gpus", "n_gpus_note", "source",
            "gpu_hours_basis"} <= set(run)
    assert set(run) <= {"set", "name", "model", "gpu", "tokens", "gpu_hours", "seq_len", "n_gpus", "n_gpus_note", "fp8",
                        "source", "recipe", "recipe_note", "gpu_hours_basis"}
    if "recipe" in run:  # the recipe the source states: TrainingRecipe's fields, checked, with where it is stated
        from planner.estimate.recipe import recipe_from
        assert recipe_from(run["recipe"]).to_dict().items() >= run["recipe"].items() and "Sec." in run["recipe_note"]
    assert run["set"] in ("calibration", "validation")
    assert run["n_gpus"] >= 8 and run["n_gpus_note"]
    assert planner.model(run["model"]).name == run["model"]
    assert planner.gpu(run["gpu"]).name == run["gpu"]
    assert run["tokens"] > 1e11 and run["gpu_hours"] > 1e4 and run["seq_len"] >= 2048
    assert run["source"]["url"].startswith("https://") and ISO_DATE.match(run["source"]["checked"])
    assert run["source"]["note"]


# Runs whose published figures imply an MFU under 15%, checked against the source and kept (a validation run is
# not dropped for its error): the lowest implied MFU each may have.
LOW_MFU_RUNS = {"Llama-3.2-1B pretraining": 0.05}  # card: 370k GPU-hours for "up to 9T" tokens implies 7%


@pytest.mark.parametrize("run", RUNS, ids=lambda r: r["name"])
def test_published_run_implies_plausible_mfu(run):
    """6*N*D over GPU-hours at the bf16 peak: every published run sits between 15% and 70% MFU (the runs named in
    LOW_MFU_RUNS, whose sources were read again, above their own floor)."""
    from planner.estimate.arithmetic import training_flops_per_token
    m, g = planner.model(run["model"]), planner.gpu(run["gpu"])
    flops = training_flops_per_token(m, run["seq_len"]) * run["tokens"]
    mfu = flops / (run["gpu_hours"] * 3600 * g.peak("bf16"))
    assert LOW_MFU_RUNS.get(run["name"], 0.15) < mfu < 0.70, f"{run['name']}: implied MFU {mfu:.2f}"


# The 2025 models (issue 21 part 6) and the pretraining tokens their authors publish (0: not published).
NEW_MODELS = {"Qwen3-30B-A3B": 36e12, "Qwen3-235B-A22B": 36e12, "GPT-OSS-20B": 0, "GPT-OSS-120B": 0,
              "Llama-4-Scout": 40e12, "Llama-4-Maverick": 22e12, "Mixtral-8x22B": 0, "DeepSeek-R1": 14.8e12,
              "Qwen3-8B": 36e12, "Qwen3-14B": 36e12, "Qwen3-32B": 36e12, "Llama-3.3-70B": 15e12,
              "Gemma-3-12B": 12e12, "Gemma-3-27B": 14e12, "Mistral-Small-24B": 0, "Phi-4": 9.8e12}


@pytest.mark.parametrize("name, tokens", NEW_MODELS.items())
def test_new_models_carry_published_tokens_for_the_like_for_like_scratch(name, tokens):
    """Where the authors publish pretraining tokens, the scratch option's "match" budget trains on them;
    where not, it falls back to Chinchilla and says so."""
    m = planner.model(name)
    assert m.pretraining_tokens == tokens and m.pretraining_source is not None
    assert m.pretraining_source.url.startswith("https://") and ISO_DATE.match(m.pretraining_source.checked)
    budget = planner.token_budget(planner.ScratchOption(model=name), replaced_model=name)
    if tokens:
        assert budget.policy == "match" and budget.tokens == tokens and name in budget.basis
    else:
        assert budget.policy == "match" and "fell back" in budget.warning


@pytest.mark.parametrize("mla", [{"kv_lora_rank": 512}, {"kv_lora_rank": 512, "q_lora_rank": 0, "qk_nope_head_dim": 128,
                                  "qk_rope_head_dim": 64, "v_head_dim": 128, "rank": 1}, 512])
def test_catalog_mla_table_with_wrong_fields_is_a_planner_error(mla):
    """A models.toml `mla` table missing or adding a field: a PlannerError naming it, not a TypeError."""
    from planner.catalog.lookup import model_from_dict
    d = {"name": "x", "n_layers": 2, "dim": 64, "n_heads": 4, "n_kv_heads": 4, "ffn_dim": 128, "vocab_size": 100,
         "mla": mla}
    with pytest.raises(planner.PlannerError, match="field mla") as info:
        model_from_dict(d)
    assert not isinstance(info.value, TypeError)


@pytest.mark.parametrize("field, value", [("kv_lora_rank", 0), ("qk_rope_head_dim", -1), ("v_head_dim", 0)])
def test_catalog_mla_dimension_below_one_is_refused(field, value):
    from planner.catalog.lookup import model_from_dict
    mla = {"kv_lora_rank": 512, "q_lora_rank": 0, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128}
    d = {"name": "x", "n_layers": 2, "dim": 64, "n_heads": 4, "n_kv_heads": 4, "ffn_dim": 128, "vocab_size": 100,
         "mla": mla | {field: value}}
    with pytest.raises(planner.InputError, match=f"mla.{field}"):
        model_from_dict(d)


def test_published_runs_keep_the_sets_they_were_added_with():
    """The eleven first runs (in-sample since the check began) and the runs the independent check named are
    calibration; BLOOM-176B and SmolLM3-3B, added as unseen families, are validation. A run moved between sets
    fails here."""
    sets = {r["name"]: r["set"] for r in RUNS}
    first = ["Llama-2-7B", "Llama-2-13B", "Llama-2-70B", "Llama-3.1-8B", "Llama-3.1-70B", "Llama-3.1-405B",
             "DeepSeek-V3", "LLaMA-7B", "LLaMA-13B", "LLaMA-33B", "LLaMA-65B"]
    named = ["Phi-3-mini", "Phi-4", "Llama-3-8B", "Llama-3-70B", "GPT-NeoX-20B"]
    assert all(sets[f"{n} pretraining"] == "calibration" for n in first + named)
    assert sets["BLOOM-176B pretraining"] == sets["SmolLM3-3B pretraining"] == "validation"


def test_a_published_run_without_a_set_is_refused(monkeypatch):
    from planner.catalog import published
    text = 'run = [{name = "x", model = "Llama-2-7B", gpu = "H100 SXM", tokens = 1e12, gpu_hours = 1e5, seq_len = 4096, ' \
           'n_gpus = 8, source = {url = "https://a", checked = "2026-12-07"}, set = "training"}]'
    monkeypatch.setattr(published.resources, "files", lambda _pkg: _FakeFiles(text))
    published.published_runs.cache_clear()
    try:
        with pytest.raises(ValueError, match="set must be one of"):
            published.published_runs()
    finally:
        monkeypatch.undo()
        published.published_runs.cache_clear()


class _FakeFiles:
    """importlib.resources.files() stand-in whose data file reads `text`."""

    def __init__(self, text):
        self.text = text

    def joinpath(self, *_parts):
        return self

    def read_text(self, encoding="utf-8"):
        return self.text
