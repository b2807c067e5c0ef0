"""The structure drawn from imports: no circles, one direction between packages, no drawer folders.

Every ``import`` and ``from ... import`` in the product's packages is read with ``ast`` (imports inside
functions included: a late import is still a dependency), resolved to a module of this repository,
and checked against the rules in pipeline/__init__.py and models/__init__.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipeline", "models", "flows", "configs")
MAX_MODULES = 12


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    graph: dict[str, set[str]] = {m: set() for m in known}
    for mod, path in known.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names]  # a submodule, or a name in the module
            for t in targets:
                r = _resolve(t, known)
                # "from pkg import x" where x is a name in pkg/__init__ resolves to pkg; a package's
                # __init__ importing its own children is not a dependency edge we check
                if r and r != mod and not mod.startswith(r + "."):
                    graph[mod].add(r)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_sees_known_edges():
    """The checker itself works: edges we know exist are found (a graph of no edges has no cycles)."""
    g = import_graph()
    assert "pipeline.storage.schema" in g["pipeline.storage.store"]
    assert "models.encoders.core" in g["models.artifacts"]
    assert "pipeline.storage.store" in g["pipeline.analytics.emerging"]  # a function-level import counts too
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]


def test_no_import_circles():
    assert _cycles(import_graph()) == []


# (importer prefix, imported prefix) pairs that must never appear: data flows one way
FORBIDDEN = [
    ("pipeline", "flows"), ("models", "flows"), ("configs", "flows"),
    ("models", "pipeline"), ("configs", "pipeline"), ("configs", "models"),
    ("pipeline.storage", "pipeline.analytics"), ("pipeline.storage", "pipeline.reporting"),
    ("pipeline.analytics", "pipeline.reporting"),
    ("pipeline.ingest", "pipeline.storage"), ("pipeline.ingest", "pipeline.analytics"),
    ("pipeline.ingest", "pipeline.reporting"),
    ("models.base", "models."), ("models.encoders", "models.heads"), ("models.encoders", "models.training"),
    ("models.heads", "models.training"), ("models.data", "models.heads"), ("models.data", "models.training"),
]


@pytest.mark.parametrize("importer,imported", FORBIDDEN)
def test_dependencies_point_one_way(importer, imported):
    def under(mod: str, prefix: str) -> bool:
        return mod == prefix or mod.startswith(prefix if prefix.endswith(".") else prefix + ".")

    bad = sorted(f"{m} -> {t}" for m, ts in import_graph().items() if under(m, importer)
                 for t in ts if under(t, imported) and not under(t, importer))
    assert bad == []


def test_no_folder_holds_more_than_twelve_modules():
    crowded = {}
    for pkg in (*PACKAGES, "tests", "bench"):
        for d in [ROOT / pkg, *[p for p in (ROOT / pkg).rglob("*") if p.is_dir() and p.name != "__pycache__"]]:
            n = len([p for p in d.glob("*.py") if p.name != "__init__.py"])
            if n > MAX_MODULES:
                crowded[str(d.relative_to(ROOT))] = n
    assert crowded == {}


def test_every_package_says_what_lives_there():
    missing = [str(p.relative_to(ROOT)) for pkg in PACKAGES for p in (ROOT / pkg).rglob("__init__.py")
               if not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))]
    assert missing == []
