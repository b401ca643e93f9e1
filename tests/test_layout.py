"""The house shows the pipeline: imports point one way, modules stay small, public names are what they say.

planner/, stages lowest first: core -> catalog -> calibration -> estimate -> decide -> uncertainty -> present.
A module may import its own stage and the stages below it, never above; the package root
(planner/__init__.py, __main__.py) is the facade over all of them.

benchmarks/, grouped by what each part does: measure/ (device, timer, environment, results file)
under model/ and collectives/, which never import each other; the suite, validate and the CLI
at the top import any group, and no group imports them.
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import planner

ROOT = Path(planner.__file__).resolve().parent
STAGES = ("core", "catalog", "calibration", "estimate", "decide", "uncertainty", "present")
MAX_LINES = 400


def _modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package at `root`."""
    out = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: Path) -> set[str]:
    """Every module `name` imports (at any depth of the file), as absolute dotted names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from . import x` imports module x
    return found


def _stage(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "planner" or len(parts) < 2 or parts[1] not in STAGES:
        return None
    return STAGES.index(parts[1])


def _graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports."""
    return {m: {i for i in _imports(m, p) if i in modules and i != m} for m, p in modules.items()}


def _assert_acyclic(graph: dict[str, set[str]], *, facade: str | None = None) -> None:
    """Depth-first walk; an import of (or by) `facade` is not followed (its names are lazy, not imports)."""
    seen, stack = set(), []

    def visit(m):
        if m in stack:
            raise AssertionError(f"import cycle: {' -> '.join(stack[stack.index(m):] + [m])}")
        if m in seen:
            return
        stack.append(m)
        for dep in sorted(graph[m]):
            if facade not in (dep, m):
                visit(dep)
        stack.pop()
        seen.add(m)
    for m in sorted(graph):
        visit(m)


MODULES = _modules(ROOT)
GRAPH = _graph(MODULES)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _stage(m) is not None))
def test_imports_point_down_the_pipeline(module):
    here = _stage(module)
    upward = sorted(i for i in GRAPH[module] if _stage(i) is not None and _stage(i) > here)
    upward += sorted(i for i in GRAPH[module] if i == "planner")  # the facade is above every stage
    assert not upward, f"{module} ({STAGES[here]}) imports a later stage: {upward}"


def test_at_least_five_stages_each_with_a_docstring():
    stages = [p for p in ROOT.iterdir() if (p / "__init__.py").exists()]
    assert len(stages) >= 5 and {p.name for p in stages} == set(STAGES)
    for p in stages:
        doc = ast.get_docstring(ast.parse((p / "__init__.py").read_text()))
        assert doc and len(doc.strip().splitlines()) >= 2, f"{p.name}/__init__.py says what it owns in two lines"


def test_no_import_cycle():
    _assert_acyclic(GRAPH, facade="planner")


def test_heavy_and_forbidden_imports_stay_where_they_belong():
    for module, path in MODULES.items():
        tops = {i.split(".")[0] for i in _imports(module, path)}
        assert not tops & {"torch", "streamlit"}, f"{module} imports torch or streamlit"
        if _stage(module) is None or STAGES[_stage(module)] != "present":
            assert "matplotlib" not in tops, f"{module}: only present/ draws"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module):
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines (at most {MAX_LINES}: split it by concern)"


def test_public_names_are_listed_and_shadow_no_module():
    for info in pkgutil.walk_packages(planner.__path__, "planner."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)  # every submodule loaded: a shadowing name would be replaced now
    assert planner.__all__ == sorted(planner.__all__)
    for name in planner.__all__:
        value = getattr(planner, name)
        assert not isinstance(value, types.ModuleType), f"planner.{name} is a module"
        assert not (ROOT / name).exists() and not (ROOT / f"{name}.py").exists(), f"planner.{name} names a submodule"
    assert planner.write_report.__module__ == "planner.present.report"


def test_import_planner_loads_no_heavy_dependency():
    code = ("import sys, planner; heavy = ('numpy', 'pandas', 'scipy', 'matplotlib', 'genai_prices', 'torch', 'streamlit');"
            "print(sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT.parent)
    assert out.stdout.strip() == "[]"


# ---- benchmarks/: grouped by what each part does ----

BENCH_ROOT = ROOT.parent / "benchmarks"
BENCH_GROUPS = {"measure": set(), "model": {"measure"}, "collectives": {"measure"}}  # group -> groups it may import
BENCH_TOP = {"benchmarks", "benchmarks.__main__", "benchmarks.suite", "benchmarks.plans", "benchmarks.validate"}
BENCH_THIRD_PARTY = {"torch", "numpy", "pynvml", "planner"}  # a GPU machine may have python3, torch and numpy only
BENCH_MODULES = _modules(BENCH_ROOT)
BENCH_GRAPH = _graph(BENCH_MODULES)


def _group(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in BENCH_GROUPS else None


@pytest.mark.parametrize("module", sorted(m for m in BENCH_MODULES if _group(m)))
def test_benchmark_groups_import_one_way(module):
    allowed = {_group(module)} | BENCH_GROUPS[_group(module)]
    wrong = sorted(i for i in BENCH_GRAPH[module] if _group(i) not in allowed)
    assert not wrong, f"{module} ({_group(module)}/) may import only {sorted(allowed)}, imports {wrong}"


def test_benchmarks_have_no_import_cycle():
    _assert_acyclic(BENCH_GRAPH)


def test_benchmarks_top_holds_the_suite_validate_and_the_cli_only():
    top = {m for m in BENCH_MODULES if _group(m) is None}
    assert top == BENCH_TOP, f"new top-level modules {sorted(top - BENCH_TOP)}: put each in the group that owns it"


def test_each_benchmark_group_says_what_it_owns():
    groups = {p.name for p in BENCH_ROOT.iterdir() if (p / "__init__.py").exists()}
    assert groups == set(BENCH_GROUPS), f"subpackages {sorted(groups)} vs the groups the layout knows"
    for name in groups:
        doc = ast.get_docstring(ast.parse((BENCH_ROOT / name / "__init__.py").read_text(encoding="utf-8")))
        assert doc and len(doc.strip().splitlines()) >= 2, f"benchmarks/{name}/__init__.py says what it owns in two lines"


@pytest.mark.parametrize("module", sorted(BENCH_MODULES))
def test_benchmark_modules_stay_small(module):
    lines = BENCH_MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines (at most {MAX_LINES}: split it by concern)"


def test_benchmarks_import_torch_and_numpy_only():
    local = {"benchmarks", "__future__"} | set(sys.stdlib_module_names)
    found = {}
    for module, path in BENCH_MODULES.items():
        for top in {i.split(".")[0] for i in _imports(module, path)} - local - BENCH_THIRD_PARTY:
            found.setdefault(top, []).append(module)
    assert not found, f"benchmarks must run with python3, torch and numpy: {found}"


def test_importing_every_benchmark_module_loads_no_heavy_planner_dependency():
    pytest.importorskip("torch")
    code = ("import importlib, sys, benchmarks.measure, benchmarks.model, benchmarks.collectives;"
            f"[importlib.import_module(m) for m in {sorted(BENCH_MODULES)!r}];"
            "heavy = ('pandas', 'scipy', 'matplotlib', 'genai_prices', 'streamlit');"
            "print(sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT.parent)
    assert out.stdout.strip() == "[]", out.stdout
