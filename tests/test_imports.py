"""The package's import graph: acyclic, layered lowest-first, and trajreg.official standalone.

Edges are every ``from trajreg import X``, ``from trajreg.X import ...`` and ``import trajreg.X``
anywhere in a module (top level and inside functions), read from the source with ``ast``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import trajreg

PACKAGE = Path(trajreg.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
# The infrastructure chain, lowest first: a module may import only modules before it.
HOUSE = ("_validate", "files", "feature_store", "data", "denoisers", "networks", "official", "models",
         "results", "classifier", "fid", "evaluate", "cache", "runs", "distributed", "cli")


def imports_of(name: str) -> set[str]:
    """trajreg modules that module ``name`` imports, at any level of its code."""
    tree = ast.parse((PACKAGE / f"{name}.py").read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "trajreg":
                out |= {a.name for a in node.names}
            elif node.module.startswith("trajreg."):
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("trajreg.")}
    return (out & set(MODULES)) - {name}


GRAPH = {m: imports_of(m) for m in MODULES}


def reachable(start: str) -> set[str]:
    seen, todo = set(), list(GRAPH[start])
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(GRAPH[m])
    return seen


def find_cycle() -> list[str] | None:
    """One cycle of GRAPH as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(GRAPH[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (cycle := visit(n)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in MODULES:
        if m not in state and (cycle := visit(m)):
            return cycle
    return None


def test_the_graph_sees_function_level_imports():
    assert "fid" in GRAPH["evaluate"] and "models" in GRAPH["cache"]
    assert "trajectory" in GRAPH["runs"]


def test_no_import_cycle():
    cycle = find_cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_house_modules_import_only_lower_ones():
    for i, m in enumerate(HOUSE):
        above = set(HOUSE[i + 1:]) & GRAPH[m]
        assert not above, f"{m} imports {sorted(above)}, which come after it in {HOUSE}"


def test_official_imports_nothing_that_imports_it_back():
    code = "import sys, json, trajreg.official; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True,
                                       capture_output=True, text=True).stdout)
    mods = {m.split(".")[1] for m in loaded if m.startswith("trajreg.")} - {"official"}
    assert mods and not {"models", "fid", "evaluate"} & mods
    for m in mods:
        assert "official" not in reachable(m), f"trajreg.{m} imports trajreg.official back"


def test_the_cycle_finder_finds_the_old_models_official_cycle(monkeypatch):
    monkeypatch.setitem(GRAPH, "official", GRAPH["official"] | {"models"})
    cycle = find_cycle()
    assert cycle is not None and {"models", "official"} <= set(cycle)


def test_the_sigma_range_has_one_home():
    """SIGMA_MIN / SIGMA_MAX are defined in trajreg.schedules only, and no other module writes the
    numbers 0.002 or 80.0 in code (trajreg.paper transcribes the paper's own numbers)."""
    import io
    import tokenize

    for name in MODULES:
        if name in ("schedules", "paper"):
            continue
        src = (PACKAGE / f"{name}.py").read_text()
        numbers = {t.string for t in tokenize.generate_tokens(io.StringIO(src).readline)
                   if t.type == tokenize.NUMBER}
        assert not numbers & {"0.002", "80.0", "80."}, f"trajreg.{name} writes the sigma range as a literal"
        assert "SIGMA_MIN =" not in src and "SIGMA_MIN, SIGMA_MAX =" not in src, name


def test_every_public_module_declares_all():
    for name in MODULES:
        if not name.startswith("_") and name not in ("cli", "paper", "report"):   # theirs: issue 25, item 4/5
            assert "__all__" in vars(__import__(f"trajreg.{name}", fromlist=["_"])), f"trajreg.{name}"
