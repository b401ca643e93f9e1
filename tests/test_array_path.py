"""The array path of the performance model equals its scalar path: planner.sweep against inference_speed at
random points, the stacked GEMMs against the loop of gemm_s, and the layout search's memory columns against
training_memory at every candidate layout."""
from __future__ import annotations

import csv
import dataclasses
import io
import json

import numpy as np
import pytest

import planner
from planner.core.errors import InputError, PlannerError, UnknownNameError
from planner.estimate import layout_search as ls
from planner.estimate import perf
from planner.estimate.layout import training_memory
from planner.estimate.recipe import TrainingRecipe
from planner.present.cli import main

MODELS = ["Llama-3.1-8B", "Llama-3.1-70B", "Mixtral-8x7B", "Mistral-7B-v0.1", "DeepSeek-V3", "Qwen2.5-7B"]
GPUS = ["H100 SXM", "H200", "A100 80GB SXM"]
PRECISIONS = ["bf16", "fp8", "int8", "int4-weight-only"]
FIELDS = ("prefill_s", "decode_step_s", "e2e_s", "tokens_per_s_per_sequence", "tokens_per_s_total")


def _random_rows(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"model": rng.choice(MODELS, n), "gpu": rng.choice(GPUS, n), "precision": rng.choice(PRECISIONS, n),
            "batch_size": rng.integers(1, 65, n), "prompt_tokens": rng.integers(1, 20_000, n).astype(float),
            "output_tokens": rng.integers(1, 4_000, n).astype(float), "tensor_parallel": rng.choice([1, 2, 4, 8], n),
            "engine": rng.choice(["vllm", "tensorrt-llm", "roofline"], n)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sweep_rows_equal_inference_speed_at_random_points(seed):
    df = planner.sweep(_random_rows(60, seed))
    checked = 0
    for _, r in df.iterrows():
        kw = dict(model=r.model, gpu=r.gpu, precision=r.precision, batch_size=int(r.batch_size),
                  prompt_tokens=r.prompt_tokens, output_tokens=r.output_tokens,
                  tensor_parallel=int(r.tensor_parallel), engine=r.engine)
        try:
            s = planner.inference_speed(**kw)
        except PlannerError as e:  # the sweep says why instead of raising, and keeps no times
            assert r.note and not r.fits and np.isnan(r.decode_step_s_p50), (kw, str(e))
            continue
        assert r.fits and r.note == "" and r.bound == s.bound and r.precision_used == s.precision
        assert r.memory_per_gpu_bytes == pytest.approx(s.memory_per_gpu_bytes, rel=1e-12)
        for name in FIELDS:
            band = getattr(s, name)
            for q in ("p10", "p50", "p90"):
                assert r[f"{name}_{q}"] == pytest.approx(getattr(band, q), rel=1e-12), (kw, name, q)
        checked += 1
    assert checked >= 10  # enough rows fit for the comparison to mean something


def test_sweep_keeps_row_order_and_fills_defaults():
    rows = [{"model": "Llama-3.1-8B", "gpu": "H100 SXM", "batch_size": b} for b in (4, 1, 2)]
    df = planner.sweep(rows)
    assert df["batch_size"].tolist() == [4, 1, 2]
    one = planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM", batch_size=2)
    assert df.iloc[2]["decode_step_s_p50"] == pytest.approx(one.decode_step_s.p50, rel=1e-12)
    assert (df["precision"] == "bf16").all() and (df["prompt_tokens"] == 512).all()


@pytest.mark.parametrize("rows, name", [
    ({"model": ["Llama-3.1-8B"], "gpu": ["H100 SXM"], "batch_size": [0]}, "batch_size"),
    ({"model": ["Llama-3.1-8B"], "gpu": ["H100 SXM"], "prompt_tokens": [-5.0]}, "prompt_tokens"),
    ({"model": ["Llama-3.1-8B"], "gpu": ["H100 SXM"], "tensor_parallel": [1.5]}, "tensor_parallel"),
    ({"model": ["Llama-3.1-8B"], "gpu": ["H100 SXM"], "batch": [4]}, "rows"),
    ({"gpu": ["H100 SXM"]}, "rows"),
])
def test_sweep_bad_input_names_the_column(rows, name):
    with pytest.raises(InputError, match=name):
        planner.sweep(rows)


@pytest.mark.parametrize("column, value", [("model", "Llama-9-70B"), ("gpu", "H900"), ("precision", "fp7"),
                                           ("engine", "vllmm")])
def test_sweep_unknown_name_raises_with_close_matches(column, value):
    rows = {"model": ["Llama-3.1-8B"] * 2, "gpu": ["H100 SXM"] * 2, "precision": ["bf16"] * 2, "engine": ["vllm"] * 2}
    rows[column] = [rows[column][0], value]  # one good row, one misspelt: the whole sweep refuses
    with pytest.raises(UnknownNameError):
        planner.sweep(rows)


def test_gemm_stack_equals_the_loop_of_gemm_s():
    m = planner.model("Llama-3.1-70B")
    kern = perf.kernels_for(989e12, 3.35e12, planner.DEFAULT_EFFICIENCIES)
    kern = dataclasses.replace(kern, gemm_half_rows=48.0, gemm_overhead_s=4e-6, gemm_row_overhead_s=1e-9)
    num = perf.Numerics()
    shapes = perf.attention_shapes(m, 4) + perf.mlp_shapes(m, m.ffn_dim / 4)
    for rows in (1.0, 7.0, np.arange(1, 300, dtype=float)[:, None]):
        loop = sum(c * perf.gemm_s(rows, n, k, kern, num) for c, (n, k) in zip(range(1, 8), shapes))
        np.testing.assert_allclose(perf.gemm_stack_s(rows, shapes, kern, num, list(range(1, 8))), loop, rtol=1e-14)
        dw = sum(perf.gemm_s(n, k, rows, kern, num) for n, k in shapes)
        np.testing.assert_allclose(perf.gemm_stack_s(rows, shapes, kern, num, transpose=True), dw, rtol=1e-14)


@pytest.mark.parametrize("model, n_gpus, seq_len", [("Llama-3.1-70B", 1024, 4096), ("Mixtral-8x7B", 256, 32768)])
def test_layout_memory_columns_equal_training_memory_at_every_candidate(model, n_gpus, seq_len):
    g = planner.gpu("H100 SXM")
    shape = ls.RunShape(model=planner.model(model), seq_len=seq_len, global_batch=1024, trainable_fraction=0.5)
    sizes = ls.candidate_sizes(shape, g, n_gpus)
    assert len(sizes["tp"]) > 50
    for recompute in ("none", "full"):
        totals = ls.memory_totals(shape, g, sizes, recompute)
        for i in range(len(totals)):
            layout = ls.layout_at(shape, sizes, i, recompute)
            assert totals[i] == pytest.approx(ls.memory_of(shape, g, layout).total, rel=1e-12)
            assert (ls.global_batches(shape, **sizes)[i] or None) == ls.global_batch_for(shape, layout)
    assert training_memory(model, g, layout, seq_len).total > 0


def test_cli_speed_sweep_reads_a_csv_and_writes_every_column(tmp_path, capsys):
    src, dst = tmp_path / "rows.csv", tmp_path / "out.csv"
    src.write_text("model,gpu,precision,batch_size,tensor_parallel\nLlama-3.1-70B,H100 SXM,fp8,8,4\n"
                   "Llama-3.1-8B,A100 80GB SXM,fp8,1,1\n")
    assert main(["estimate", "speed", "--sweep", str(src), "--out", str(dst), "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    one = planner.inference_speed(model="Llama-3.1-70B", gpu="H100 SXM", precision="fp8", batch_size=8,
                                  tensor_parallel=4)
    assert got[0]["decode_step_s_p50"] == pytest.approx(one.decode_step_s.p50, rel=1e-12)
    assert "fp8" in got[1]["note"] and got[1]["fits"] is False
    assert dst.read_text().splitlines()[0].startswith("model,gpu,precision")


def test_cli_speed_sweep_missing_file_is_one_line(tmp_path, capsys):
    assert main(["estimate", "speed", "--sweep", str(tmp_path / "none.csv")]) == 1
    assert "sweep file" in capsys.readouterr().err


@pytest.mark.parametrize("model, n_gpus, seq_len, extra", [
    ("Llama-3.1-70B", 1024, 4096, {}),
    ("Mixtral-8x7B", 256, 4096, {"fp8": True}),
    ("DeepSeek-V3", 2048, 4096, {}),
    # a fixed recipe (recipe.py) reaches every candidate the same way on both paths
    ("DeepSeek-V3", 2048, 4096, {"fp8": True, "recipe": TrainingRecipe(moe_overlap=True, moe_balance="aux-free",
                                                                       moe_dispatcher="deepep", fp8_recipe="blockwise")}),
    ("Mixtral-8x7B", 256, 4096, {"fp8": True, "recipe": TrainingRecipe(moe_balance="forced", tp_overlap=True,
                                                                       fp8_param_gather=False, fp8_recipe="delayed")}),
    ("Llama-3.1-70B", 1024, 4096, {"recipe": TrainingRecipe(tp_overlap=True, moe_overlap=True)}),
    ("Llama-3.1-8B", 64, 32768, {"offload": "optimizer"}),
    ("Llama-3.1-8B", 8, 4096, {"optimizer": "paged-adamw-8bit", "trainable_fraction": 0.01, "weight_grads": False}),
])
def test_layout_step_columns_equal_step_time_at_every_fitting_layout(model, n_gpus, seq_len, extra):
    from planner.estimate import layout_steps
    from planner.estimate.layout import params_per_gpu
    from planner.estimate.training_step import step_time
    g = planner.gpu("H100 SXM")
    shape = ls.RunShape(model=planner.model(model), seq_len=seq_len, global_batch=1024, **extra)
    kern = perf.kernels_for(g.peak("bf16"), g.memory_bytes_per_s, planner.DEFAULT_EFFICIENCIES)
    sizes, batches, least, _ = ls.fitting(shape, g, n_gpus)
    fit = np.flatnonzero(least >= 0)
    assert len(fit) > 50 and len(set(least[fit])) >= 1
    got = layout_steps.gpu_seconds_per_token(shape, g, kern, {f: v[fit] for f, v in sizes.items()}, least[fit],
                                             batches[fit])
    for j, i in enumerate(fit):
        layout = ls.layout_at(shape, sizes, i, ls.RECOMPUTE[least[i]])
        st = step_time(shape.model, g, kern, layout, seq_len=seq_len, global_batch=int(batches[i]),
                       weight_grads=shape.weight_grads,
                       trainable_local=params_per_gpu(shape.model, layout) * shape.trainable_fraction)
        np.testing.assert_allclose(got[j], st.gpu_seconds_per_token(layout.n_gpus), rtol=1e-12)


def test_cli_speed_one_point_is_inference_speed(capsys):
    args = ["estimate", "speed", "--model", "Llama-3.1-8B", "--gpu", "H200", "--precision", "fp8", "--batch-size", "16",
            "--prompt-tokens", "2000", "--output-tokens", "100", "--tensor-parallel", "2", "--format", "csv"]
    assert main(args) == 0
    row = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    one = planner.inference_speed(model="Llama-3.1-8B", gpu="H200", precision="fp8", batch_size=16, prompt_tokens=2000,
                                  output_tokens=100, tensor_parallel=2)
    assert float(row["e2e_s_p90"]) == pytest.approx(one.e2e_s.p90, rel=1e-12)
    assert row["bound"] == one.bound and row["fits"] == "True"
