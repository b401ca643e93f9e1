"""`python -m benchmarks collectives`: two real gloo processes on the CPU, small sizes (a few seconds
plus process start-up); the alpha-beta fit on known numbers; nccl-tests' size and bandwidth rules."""
import json

import pytest

torch = pytest.importorskip("torch")

from benchmarks import __main__ as cli  # noqa: E402
from benchmarks.collectives import launch, ops  # noqa: E402
from benchmarks.measure.schema import busbw_factor, load_results  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("coll") / "c.json"
    code = cli.main(["collectives", "--nproc", "2", "--min-bytes", "1024", "--max-bytes", str(4 * 2**20),
                     "--min-run-s", "0.01", "--out", str(out)])
    return code, out


def test_two_gloo_processes_measure_every_op_correctly(run):
    code, out = run
    assert code == 0
    d = load_results(out)
    assert d["env"]["backend"] == "gloo" and d["settings"]["sizes_bytes"] == [4**k * 1024 for k in range(7)]
    points = d["points"]
    assert {p["params"]["op"] for p in points} == set(launch.OPS) and len(points) == 4 * 7
    for p in points:
        assert "skipped" not in p and p["correct"] and p["repeats"] >= 10 and p["params"]["nproc"] == 2
        assert p["algbw_bytes_per_s"] == pytest.approx(p["params"]["n_bytes"] / p["median_s"])
        assert p["busbw_bytes_per_s"] == pytest.approx(p["algbw_bytes_per_s"] * busbw_factor(p["params"]["op"], 2))


def test_each_op_gets_a_latency_bandwidth_fit(run):
    d = load_results(run[1])
    assert set(d["collective_fit"]) == set(launch.OPS), d["collective_fit_skipped"]  # 1 KiB..4 MiB: time grows
    for f in d["collective_fit"].values():
        assert f["alpha_s"] >= 0 and f["beta_bytes_per_s"] > 0 and f["n_sizes"] == 7


def test_the_fit_recovers_known_latency_and_bandwidth():
    sizes = [2**k for k in range(10, 31, 2)]
    times = [5e-6 + n / 20e9 for n in sizes]
    f = launch.fit_alpha_beta(sizes, times)
    assert f["alpha_s"] == pytest.approx(5e-6, rel=1e-6) and f["beta_bytes_per_s"] == pytest.approx(20e9, rel=1e-6)
    assert f["max_rel_residual"] < 1e-9


def test_a_negative_latency_is_refitted_as_zero_and_a_flat_curve_is_refused():
    f = launch.fit_alpha_beta([1e3, 1e6, 1e9], [1e-7, 1e-4, 0.11])
    assert f["alpha_s"] == 0.0 and f["beta_bytes_per_s"] > 0
    with pytest.raises(ValueError, match="no bandwidth term"):
        launch.fit_alpha_beta([1e3, 1e6, 1e9], [1e-3, 1e-3, 1e-3 * 0.5])


def test_sizes_are_powers_of_four_from_1kib_with_the_cap_included():
    assert launch.sizes_between(1024, 2**30)[:3] == [1024, 4096, 16384]
    assert launch.sizes_between(1024, 2**30)[-1] == 2**30
    assert launch.sizes_between(1024, 10_000) == [1024, 4096, 10_000]


@pytest.mark.parametrize("op", launch.OPS)
def test_expected_buffers_follow_nccl_tests_sizes(op):
    n, numel = 4, 64
    out, inp, want = (ops.buffers(op, numel, n, rank=1, device="cpu"))
    total = {"all_reduce": inp, "all_gather": out, "reduce_scatter": inp, "all_to_all": inp}[op]
    assert total.numel() == numel and want.numel() == (numel // n if op == "reduce_scatter" else numel)


def test_a_wrong_answer_is_recorded_not_timed():
    p = launch.to_point({"op": "all_reduce", "n_bytes": 1024, "max_abs_error": 2.0, "times_s": []}, 2, "gloo")
    assert "wrong result" in p["skipped"] and json.dumps(p)
