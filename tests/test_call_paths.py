"""The per-call fast paths of issue 23 answer as the general paths they shortcut, at random points: a dense model's
forward table (inference_speed's prefill, decode step and roofline bound in one pass) equals perf's two passes; a
tensor-parallel degree per layout (degrees.py) equals the shape-by-shape stack; one layout's memory and step terms on
Python numbers (core/npfast.py) equal the same layout as one-element arrays; names and layouts are still refused
where the checked functions refuse them."""
from __future__ import annotations

import math

import numpy as np
import pytest

import planner
from planner.core import limits
from planner.core import npfast as nf
from planner.core import validate as V
from planner.core.errors import InputError, PlannerTypeError
from planner.estimate import forward_table, gemm, perf
from planner.estimate import inference as inf
from planner.estimate.engine import resolve_engine
from planner.estimate.layout import TrainingLayout, memory_arrays, memory_breakdown, training_memory
from planner.estimate.training_step import step_terms

DENSE = ["Llama-2-70B", "Llama-3.1-8B", "Mistral-7B-v0.1", "Qwen2.5-7B", "Gemma-3-12B", "Phi-4", "GPT-NeoX-20B"]
GPUS = ["H100 SXM", "H200", "A100 80GB SXM", "MI300X", "L40S"]
PRECISIONS = ["bf16", "fp8", "int8", "int4-weight-only"]
ENGINES = ["vllm", "sglang", "torch-compile", "roofline"]


@pytest.mark.parametrize("seed", range(4))
def test_the_forward_table_equals_the_prefill_and_decode_passes_at_random_points(seed):
    rng = np.random.default_rng(seed)
    checked = 0
    for _ in range(25):
        m, g = planner.model(str(rng.choice(DENSE))), planner.gpu(str(rng.choice(GPUS)))
        try:
            r = inf.replica(m, g, str(rng.choice(PRECISIONS)), int(rng.choice([1, 2, 4, 8])),
                            resolve_engine(str(rng.choice(ENGINES)), g))
        except planner.PlannerError:
            continue  # a precision the GPU lacks
        assert inf._table(r) is not None  # a dense model takes the table: the comparison below exercises it
        batch, prompt = int(rng.integers(1, 257)), float(rng.integers(1, 9000))
        context = prompt + float(rng.integers(1, 2000))
        pre, step, bound = inf.prefill_and_decode_s(r, batch, prompt, context)
        step_alone, bound_alone = inf.decode_step_s(r, batch, context)
        np.testing.assert_allclose(pre, inf.prefill_s(r, batch, prompt), rtol=1e-12, atol=0)
        np.testing.assert_allclose(step, step_alone, rtol=1e-12, atol=0)
        assert (bound == bound_alone).all()
        checked += 1
    assert checked >= 15


def test_the_forward_table_leaves_moe_models_and_degree_arrays_to_perf():
    g = planner.gpu("H200")
    kern = inf.kernels(g, "fp8", resolve_engine("vllm", g).efficiencies)
    assert forward_table.table(planner.model("Mixtral-8x7B"), 2, kern, inf.numerics("fp8")) is None
    assert forward_table.table(planner.model("Llama-3.1-8B"), np.array([1, 2]), kern, inf.numerics("fp8")) is None


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("weight_grads", [True, False])
def test_a_degree_per_layout_equals_the_shape_by_shape_stack(seed, weight_grads):
    rng = np.random.default_rng(seed)
    m = planner.model(str(rng.choice(DENSE[:4])))
    kern = _kern()
    n = int(rng.integers(3, 30))
    tp = rng.choice([1.0, 2.0, 4.0, 8.0], n)[:, None]  # (layouts, 1): a degree per layout, rates on the last axis
    rows = (rng.integers(1, 5, n) * rng.choice([2048.0, 4096.0, 8192.0]))[:, None]
    num = perf.DEFAULT_NUMERICS
    shapes = perf.attention_shapes(m, tp) + perf.mlp_shapes(m, m.ffn_dim / tp)
    want = gemm.gemm_stack_s(rows, shapes, kern, num, [m.n_layers] * len(shapes)) + perf.head_s(m, rows, tp, kern, num)
    got = perf.linears_s(m, rows, rows, tp, kern, num)
    assert got.shape == want.shape == (n, 3)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    shapes = shapes + [(m.vocab_size / tp, m.dim)]
    counts = [m.n_layers] * (len(shapes) - 1) + [1]
    want = gemm.gemm_stack_s(rows, [(k, nn) for nn, k in shapes], kern, num, counts)
    if weight_grads:
        want = want + gemm.gemm_stack_s(rows, shapes, kern, num, counts, transpose=True)
    got = perf.backward_linears_s(m, rows, tp, kern, num, weight_grads=weight_grads)
    assert got.shape == want.shape == (n, 3)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def _kern():
    g = planner.gpu("H100 SXM")
    return inf.kernels(g, "bf16", resolve_engine("vllm", g).efficiencies)


def _random_layout(rng) -> dict:
    return {"tp": int(rng.choice([1, 2, 4, 8])), "pp": int(rng.choice([1, 2, 4, 8])), "dp": int(rng.choice([1, 2, 8, 32])),
            "ep": 1, "cp": int(rng.choice([1, 2])), "zero_stage": int(rng.choice([0, 1, 2, 3])),
            "micro_batch": int(rng.choice([1, 2, 4]))}


@pytest.mark.parametrize("seed", range(4))
def test_one_layouts_memory_on_numbers_equals_it_as_arrays(seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        m, sizes = planner.model(str(rng.choice(DENSE + ["Mixtral-8x7B"]))), _random_layout(rng)
        kw = {"full": bool(rng.random() < 0.5), "optimizer": str(rng.choice(["adamw", "sgd", "adamw-8bit", "paged-adamw-8bit"])),
              "offload": str(rng.choice(["none", "optimizer", "params"])), "seq_len": float(rng.choice([2048, 8192])),
              "trainable_params": None if rng.random() < 0.5 else float(rng.integers(1, 10**9)),
              "activation_offload": bool(rng.random() < 0.3), "optimizer_in_backward": bool(rng.random() < 0.3)}
        numbers = memory_arrays(m, 7e10, **sizes, **kw)
        arrays = memory_arrays(m, 7e10, **{k: np.array([v]) for k, v in sizes.items()}, **kw)
        for k in numbers:
            np.testing.assert_allclose(np.ravel(numbers[k]), np.ravel(np.broadcast_to(arrays[k], (1,))), rtol=1e-15,
                                       err_msg=k)


@pytest.mark.parametrize("seed", range(3))
def test_one_layouts_step_terms_on_numbers_equal_them_as_arrays(seed):
    rng = np.random.default_rng(seed)
    kern, g = _kern(), planner.gpu("H100 SXM")
    for _ in range(15):
        m, sizes = planner.model(str(rng.choice(DENSE))), _random_layout(rng)
        sizes["virtual_stages"] = int(rng.choice([1, 2]))
        micro = rng.uniform(0.1, 2.0, 3)
        kw = {"micro": micro, "global_batch": int(rng.choice([256, 1024, 4096])), "seq_len": 4096.0, "trainable": 1e9,
              "fp8": False, "optimizer": "adamw", "offload": str(rng.choice(["none", "optimizer"])),
              "tp_overlap": bool(rng.random() < 0.5)}
        full = bool(rng.random() < 0.5)
        numbers = step_terms(m, g, kern, **sizes, full=full, **kw)
        arrays = step_terms(m, g, kern, **{k: np.array([[v]]) for k, v in sizes.items()}, full=np.array([[full]]), **kw)
        for k in numbers:
            np.testing.assert_allclose(np.ravel(np.broadcast_to(numbers[k], np.shape(arrays[k]))), np.ravel(arrays[k]),
                                       rtol=1e-15, err_msg=k)


def test_npfast_on_numbers_equals_numpy():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a, b = (float(v) if rng.random() < 0.7 else int(v) for v in rng.normal(0, 1e6, 2))
        c = bool(rng.random() < 0.5)
        assert nf.where(c, a, b) == float(np.where(c, a, b))
        assert nf.maximum(a, b) == float(np.maximum(a, b)) and nf.minimum(a, b) == float(np.minimum(a, b))
        assert nf.ceil(a) == float(np.ceil(a)) and type(nf.ceil(a)) is float
    arr = np.array([1.5, -2.5])
    assert np.array_equal(nf.where(arr > 0, arr, 0.0), np.where(arr > 0, arr, 0.0))  # arrays: numpy itself
    assert np.array_equal(nf.ceil(arr), np.ceil(arr)) and np.array_equal(nf.maximum(arr, 0), np.maximum(arr, 0))


@pytest.mark.parametrize("value", ["", "   ", "a\tb", "x" * (limits.MAX_NAME_CHARS + 1), "a\u2028b", "a\x00", 7, None,
                                   "Llama-2-70B", " H100 SXM ", "modèle", "x" * limits.MAX_NAME_CHARS])
def test_name_checks_answer_as_the_text_check(value):
    check = V.Text(limits.MAX_NAME_CHARS, empty=False)
    try:
        want = check("name", value)
    except (InputError, PlannerTypeError) as e:
        with pytest.raises(type(e)):
            V.name_text("name", value)
    else:
        assert V.name_text("name", value) == want
    assert V.name_text("name", None, optional=True) is None


def test_training_memory_checks_what_the_unchecked_breakdown_trusts():
    layout = TrainingLayout(tp=8, pp=4, dp=32)
    m, g = planner.model("Llama-2-70B"), planner.gpu("H100 SXM")
    assert training_memory("Llama-2-70B", "H100 SXM", layout, 4096) == memory_breakdown(m, g, layout, 4096)
    with pytest.raises(InputError, match="seq_len"):
        training_memory(m, g, layout, -1)
    with pytest.raises(InputError, match="layout.ep"):
        training_memory(m, g, TrainingLayout(tp=8, pp=4, dp=32, ep=2), 4096)
    with pytest.raises(InputError, match="layout.ep"):  # pretraining checks a given layout before the unchecked path
        planner.pretraining(model=m, gpu=g, layout=TrainingLayout(tp=8, pp=4, dp=32, ep=2))
    assert math.isfinite(planner.pretraining(model=m, gpu=g, layout=layout).memory.total)
