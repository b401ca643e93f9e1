"""A fresh machine has what the code imports: every third-party import is declared in pyproject.toml,
and CI runs the README's own install-and-test command (this test keeps .ci/run and the README in step)."""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ["planner", "benchmarks", "dashboard", "app.py", "tests", "scripts"]


def _local_names() -> set[str]:
    """Top-level names the checkout provides itself: its packages and the modules beside the scanned files."""
    names = {"planner", "benchmarks", "dashboard", "app", "tests", "__future__"}
    for folder in ("tests", "scripts"):
        names |= {p.stem for p in (ROOT / folder).glob("*.py")}
    return names


def third_party_imports() -> dict[str, set[str]]:
    """Top-level module -> the files importing it (absolute imports only; stdlib and the checkout left out)."""
    local, out = _local_names(), {}
    for entry in SCANNED:
        path = ROOT / entry
        for f in [path] if path.is_file() else sorted(path.rglob("*.py")):
            for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for top in {n.split(".")[0] for n in names} - local - set(sys.stdlib_module_names):
                    out.setdefault(top, set()).add(str(f.relative_to(ROOT)))
    return out


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    """Distribution names in [project] dependencies and every optional extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    return {_normal(re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0]) for r in reqs}


def test_every_third_party_import_is_declared():
    dists, have = packages_distributions(), declared()
    missing = {}
    for module, files in sorted(third_party_imports().items()):
        # an optional extra that is not installed here (aiconfigurator-core): its module name is its distribution's
        provided_by = {_normal(d) for d in dists.get(module, [])} or {_normal(module)}
        if not provided_by & have:
            missing[module] = (sorted(provided_by) or ["(not installed)"], sorted(files)[:3])
    assert not missing, f"imported but not declared in pyproject.toml (module: distribution, files): {missing}"


def test_the_scan_sees_the_known_dependencies():
    found = third_party_imports()
    assert {"numpy", "scipy", "pandas", "streamlit", "torch", "hypothesis"} <= set(found)


def readme_command() -> str:
    """The README's test command: the second line of its first code block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```[a-z]*\n(.*?)```", text, re.S).group(1)
    return block.splitlines()[1]


def test_ci_runs_the_readme_command_as_written():
    line = readme_command()
    assert line.startswith("bash scripts/test.sh"), line
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 -m venv" in ci and "readme_command" in ci and "python -m benchmarks --quick --out" in ci


# ---- the lock: CI and the README's test command install exact versions (requirements/lock.txt) ----

LOCK = ROOT / "requirements" / "lock.txt"


def locked() -> dict[str, str]:
    """Distribution -> exact version, from the committed lock."""
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)", line)
        if m:
            pins[_normal(m.group(1))] = m.group(2)
    return pins


def test_the_lock_pins_every_declared_dependency_within_its_range():
    from packaging.requirements import Requirement
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # `silicon` (aiconfigurator-core, 82 MB) is never installed by a test run (tests read a committed slice of its
    # tables, tests/data/silicon), so the lock of what test runs install does not pin it.
    extras = {k: v for k, v in project["optional-dependencies"].items() if k != "silicon"}
    reqs = [Requirement(r) for r in [*project["dependencies"], *(r for extra in extras.values() for r in extra)]]
    pins, bad = locked(), []
    for r in reqs:
        version = pins.get(_normal(r.name))
        if version is None or not r.specifier.contains(version, prereleases=True):
            bad.append(f"{r} (lock: {version or 'missing'})")
    assert not bad, f"requirements/lock.txt does not satisfy pyproject.toml; run scripts/refresh_lock.sh: {bad}"


def test_the_lock_is_exact_and_portable():
    text = LOCK.read_text(encoding="utf-8")
    pins = locked()
    assert len(pins) > 40  # the whole tree, not only the direct dependencies
    assert "+cpu" not in text  # torch==2.13.0 takes the CPU build where it lies on disk, the PyPI build elsewhere
    assert not re.search(r"^-[-a-z]*(index-url|find-links)", text, re.M)  # no machine's package source in the lock
    assert not [ln for ln in text.splitlines() if re.match(r"^[A-Za-z0-9]", ln) and "==" not in ln]


def test_the_test_command_installs_from_the_lock():
    script = (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert "-c requirements/lock.txt" in script
    assert (ROOT / "scripts" / "refresh_lock.sh").exists()


def test_installed_versions_match_the_lock():
    """Fails (with the way out) when this environment was not installed from the lock."""
    from importlib.metadata import PackageNotFoundError, version
    pins, off = locked(), []
    for name in ("numpy", "scipy", "pandas", "genai-prices", "matplotlib"):
        try:
            have = version(name)
        except PackageNotFoundError:
            continue
        if have.split("+")[0] != pins[name]:
            off.append(f"{name} {have} (lock: {pins[name]})")
    if off:
        import pytest
        pytest.fail("this environment is not the locked one: " + ", ".join(off) +
                    ". Install it with `pip install -c requirements/lock.txt -e '.[dev]'` (scripts/test.sh does)",
                    pytrace=False)
