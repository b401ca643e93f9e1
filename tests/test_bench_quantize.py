"""int8 weight-only quantisation and its gate on the trained reference model: the real format passes
(held-out perplexity within 1%), a deliberately broken quantisation of ONE block fails; the kernel
race picks the fastest correct candidate and drops a wrong one."""
import copy
import json

import pytest

torch = pytest.importorskip("torch")

from benchmarks.measure.accel import Accel  # noqa: E402
from benchmarks.model import corpus, kernels, quantize  # noqa: E402
from benchmarks.model.quality import MAX_PERPLEXITY_RATIO, judge, run_gate  # noqa: E402
from benchmarks.model.quantize import (DEQUANT, INT8PACK, WeightOnlyInt8Linear, linear_weight_bytes,  # noqa: E402
                                       quantize_int8_weight_only, quantize_per_channel)
from benchmarks.model.reference_model import CHECKPOINT, REFERENCE, load_reference, perplexity  # noqa: E402
from benchmarks.model.transformer import build, config  # noqa: E402

CPU = Accel("cpu")
needs_checkpoint = pytest.mark.skipif(not CHECKPOINT.exists(), reason="no trained checkpoint")


@pytest.fixture(scope="module")
def ref():
    return load_reference()


@pytest.fixture(scope="module")
def held_out():
    return corpus.windows(corpus.load_corpus(held_out_only=True).held_out, n=8, length=256, seed=1)


@needs_checkpoint
def test_int8_weight_only_passes_the_perplexity_gate(ref, held_out):
    report = run_gate("int8-weight-only", accel=CPU, dtype=torch.float32, ref=ref, eval_windows=held_out)
    assert report.passed, report.reason
    assert report.ratio <= MAX_PERPLEXITY_RATIO and 0.49 <= report.bytes_vs_bf16 <= 0.55
    assert report.evaluated_with["tokens"] == 8 * 256


def _break_block(quant, block: int, how: str, only: str | None = None):
    """A quantisation bug confined to one transformer block (every int8 linear in it, or just `only`)."""
    layers = [m for n, m in quant.layers[block].named_modules()
              if isinstance(m, WeightOnlyInt8Linear) and (only is None or n == only)]
    assert layers
    for m in layers:
        if how == "zero_scales":  # scales never copied in: that linear outputs zeros
            m.scales.zero_()
        elif how == "wrong_axis":  # scales from the input axis, applied to output channels
            w = m.weight.float() * m.scales.float()[:, None]
            per_input = w.abs().amax(dim=0) / 127.0
            m.scales.copy_(per_input[torch.arange(m.out_features) % m.in_features])
    return quant


@needs_checkpoint
@pytest.mark.parametrize("block, how, only", [(1, "zero_scales", "feed_forward.w2"), (2, "wrong_axis", None)])
def test_a_broken_quantisation_of_one_block_fails_the_gate(ref, held_out, block, how, only):
    quant = _break_block(quantize_int8_weight_only(copy.deepcopy(ref)), block, how, only)
    head = quantize_int8_weight_only(copy.deepcopy(ref)).output
    assert torch.equal(quant.output.scales, head.scales) and torch.equal(quant.output.weight, head.weight)
    report = judge("int8-weight-only", perplexity(ref, held_out), perplexity(quant, held_out), quant, {})
    assert not report.passed and "over the reference" in report.reason, report


@needs_checkpoint
def test_the_checkpoint_is_the_one_its_record_describes(ref):
    record = json.loads(CHECKPOINT.with_suffix(".json").read_text())
    assert record["config"] == REFERENCE.arch() and record["stored_dtype"] == "bfloat16"
    assert CHECKPOINT.stat().st_size < 8 * 2**20
    held = corpus.load_corpus(held_out_only=True)
    if held.python != record["corpus"]["python"]:
        pytest.skip(f"the held-out files differ on Python {held.python} (recorded on {record['corpus']['python']})")
    w = corpus.windows(held.held_out, n=record["settings"]["eval_windows"],
                       length=record["settings"]["eval_seq_len"], seed=1)
    assert perplexity(ref, w) == pytest.approx(record["held_out_perplexity_fp32"], rel=1e-3)
    assert record["held_out_perplexity_fp32"] < 12  # trained: uniform over bytes would be 256


def test_the_corpus_split_is_by_file_and_deterministic():
    root = corpus.stdlib_root()
    files = [f.relative_to(root).as_posix() for f in corpus.source_files(root)]
    held = [f for f in files if corpus.is_held_out(f)]
    assert 0.05 < len(held) / len(files) < 0.2 and held == [f for f in files if corpus.is_held_out(f)]
    assert not any(part in corpus.EXCLUDED_DIRS for f in files for part in f.split("/")[:-1])
    c = corpus.load_corpus(held_out_only=True)
    a, b = (corpus.windows(c.held_out, n=4, length=32, seed=1) for _ in range(2))
    assert torch.equal(a, b) and a.shape == (4, 33) and int(a.max()) < corpus.VOCAB_SIZE


def test_no_sources_is_a_clear_error(tmp_path):
    with pytest.raises(corpus.CorpusError, match="no Python sources"):
        corpus.load_corpus(tmp_path)


def test_the_gate_reports_why_it_cannot_run(monkeypatch, tmp_path):
    monkeypatch.setattr("benchmarks.model.quality.load_reference", lambda **_: load_reference(path=tmp_path / "none.pt"))
    with pytest.raises(FileNotFoundError):
        run_gate("int8-weight-only", accel=CPU, dtype=torch.float32, n_windows=1)


def test_an_unquantised_copy_fails_the_gate():
    model = build(config("tiny-mha"))
    report = judge("int8-weight-only", 5.0, 5.0, copy.deepcopy(model), {})
    assert not report.passed and "no quantised layers" in report.reason and "weight bytes" in report.reason


def test_kernel_race_picks_the_fastest_correct_candidate(monkeypatch):
    choice = kernels.choose_int8_kernel(rows=4, out_features=64, in_features=32, dtype=torch.float32, accel=CPU,
                                        min_run_s=0.01)
    timed = {k: v["median_s"] for k, v in choice.candidates.items() if "median_s" in v}
    assert set(choice.candidates) == {INT8PACK, DEQUANT} and choice.chosen == min(timed, key=timed.get)
    monkeypatch.setitem(quantize.KERNELS, INT8PACK, lambda x, w, s: quantize.dequant_matmul(x, w, s) * 2)
    wrong = kernels.choose_int8_kernel(rows=4, out_features=64, in_features=32, dtype=torch.float32, accel=CPU,
                                       min_run_s=0.01)
    assert wrong.chosen == DEQUANT and "wrong result" in wrong.candidates[INT8PACK]["failed"]


def test_no_correct_kernel_is_an_error(monkeypatch):
    for name in (INT8PACK, DEQUANT):
        monkeypatch.setitem(quantize.KERNELS, name, lambda x, w, s: 1 / 0)
    with pytest.raises(kernels.NoKernelError, match="ZeroDivisionError"):
        kernels.choose_int8_kernel(rows=1, out_features=8, in_features=8, dtype=torch.float32, accel=CPU,
                                   min_run_s=0.01)


@pytest.mark.parametrize("kernel", [INT8PACK, DEQUANT])
def test_every_kernel_computes_the_same_linear(kernel):
    model = build(config("tiny-mha")).eval()
    q = quantize_int8_weight_only(copy.deepcopy(model), kernel=DEQUANT)
    x = torch.randint(0, 4096, (2, 8))
    want = q(x)
    quantize.set_kernel(q, kernel)
    assert q.kernel == kernel and torch.allclose(q(x), want, rtol=0.05, atol=0.05)
    with pytest.raises(ValueError, match="unknown int8 kernel"):
        quantize.set_kernel(q, "magic")


def test_per_channel_roundtrip_error_is_within_half_a_step():
    w = torch.randn(64, 128)
    w_int8, scales = quantize_per_channel(w, torch.float32)
    err = (w_int8.float() * scales[:, None] - w).abs()
    assert (err <= scales[:, None] / 2 + 1e-6).all()


def test_weight_bytes_halve_against_bf16():
    model = build(config("tiny-mha"))
    bf16 = linear_weight_bytes(copy.deepcopy(model).to(torch.bfloat16))
    assert linear_weight_bytes(quantize_int8_weight_only(model)) / bf16 == pytest.approx(0.5, abs=0.01)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_int8_gate_and_kernel_race_on_cuda():
    accel = Accel("cuda", torch.cuda.current_device(), f"cuda:{torch.cuda.current_device()}")
    report = run_gate("int8-weight-only", accel=accel, dtype=torch.bfloat16, n_windows=8)
    assert report.passed, report.reason
    choice = kernels.choose_int8_kernel(rows=1, out_features=8192, in_features=2048, dtype=torch.bfloat16,
                                        accel=accel, min_run_s=0.05, names=(INT8PACK, DEQUANT))  # no compile here
    assert "median_s" in choice.candidates[choice.chosen], choice
