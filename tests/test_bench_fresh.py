"""A GPU image may hold only python3, torch and numpy: the quick suite must run with everything else
blocked (the planner's heavy dependencies, tqdm, NVML) and write a valid results file."""
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from benchmarks.measure.schema import load_results, measured_points  # noqa: E402

ROOT = Path(__file__).parent.parent
BLOCKED = ("scipy", "pandas", "matplotlib", "genai_prices", "tomli_w", "tqdm", "pynvml", "streamlit")
RUN = ("import runpy, sys\n"
       "for name in {blocked!r}:\n"
       "    sys.modules[name] = None  # any import of it raises ImportError\n"
       "sys.argv = ['benchmarks'] + {argv!r}\n"
       "runpy.run_module('benchmarks', run_name='__main__', alter_sys=True)\n")


@pytest.mark.slow
def test_quick_suite_runs_with_only_torch_and_numpy(tmp_path):
    out = tmp_path / "quick.json"
    code = RUN.format(blocked=BLOCKED, argv=["--quick", "--device", "cpu", "--no-progress", "--out", str(out)])
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    d = load_results(out)
    assert {p["kind"] for p in measured_points(d)} == {"gemm", "bandwidth", "train", "prefill", "decode"}
    assert d["env"]["nvml"].startswith("no NVML") and "wrote" in proc.stdout


def test_the_blocker_really_blocks():
    code = RUN.format(blocked=("torch",), argv=["--quick"])
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "torch" in proc.stderr


def test_run_gpu_script_uses_python3_and_kills_what_does_not_stop():
    script = (ROOT / "benchmarks" / "run_gpu.sh").read_text()
    commands = [ln for ln in script.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert not any(" python " in f" {ln} " or ln.lstrip().startswith("python ") for ln in commands)
    assert all("timeout -" in ln and " -k " in ln for ln in commands if ln.lstrip().startswith("timeout"))
    assert 'OUT_DIR="${OUT:-bench-results}"' in script


def test_run_gpu_script_has_a_deadline_inside_its_timeouts():
    import re
    script = (ROOT / "benchmarks" / "run_gpu.sh").read_text()
    suite = re.search(r"timeout -s INT -k (\d+) (\d+) python3 -m benchmarks run .*--deadline-s (\d+)", script)
    assert suite, "the suite runs under a timeout with --deadline-s"
    grace_s, limit_s, deadline_s = map(int, suite.groups())
    assert deadline_s + 60 <= limit_s  # a point that starts just before the deadline has a minute to finish
    # One GPU, at worst: every timeout but the collectives' (which need >= 2 GPUs) runs out, with its grace.
    one_gpu = [ln for ln in script.splitlines() if ln.lstrip().startswith("timeout") and "collectives" not in ln]
    worst_s = sum(int(k) + int(t) for k, t in (re.search(r"-k (\d+) (\d+)", ln).groups() for ln in one_gpu))
    assert worst_s <= 420, worst_s  # 7 minutes of the session's 15, which include the machine's start


def test_run_gpu_script_runs_every_file_with_gpu_tests():
    script = (ROOT / "benchmarks" / "run_gpu.sh").read_text()
    with_gpu_tests = sorted(f"tests/{p.name}" for p in (ROOT / "tests").glob("test_*.py")
                            if "\n@pytest.mark.gpu\n" in p.read_text(encoding="utf-8"))
    assert with_gpu_tests and all(name in script for name in with_gpu_tests)
