"""The arrows between modules point one way: no import cycle between files of gafn_lib, and the
core imports no domain (environments, grid, molecules, baselines, runner, repro).

Imports are read from the source with ``ast``: module-level ones and those inside functions (a
lazy import is still a dependency), ``from X import Y`` counting ``X`` and, when ``Y`` is a
module, ``X.Y``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gafn_lib"
#: Packages the domain-agnostic core must not import.
DOMAIN_PACKAGES = ("envs", "grid", "molecules", "baselines", "runner", "repro")
#: Cycles known and owned elsewhere (remove an entry when its cycle is gone; the test says so).
KNOWN_CYCLES: set[frozenset[str]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str) -> set[str]:
    """The gafn_lib modules that module ``name`` imports anywhere in its source."""
    path = MODULES[name]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                module = ".".join(package + ([node.module] if node.module else []))
            else:
                module = node.module
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if m in MODULES and m != name}


def import_graph() -> dict[str, set[str]]:
    return {name: imported_modules(name) for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_reader_sees_lazy_and_relative_imports():
    graph = import_graph()
    assert "gafn_lib.repro.prefetch" in graph["gafn_lib.repro.pipeline"]  # imported inside a function
    assert "gafn_lib.envs.hypergrid" in graph["gafn_lib.envs"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset("abc")]


def test_no_import_cycle_between_files():
    found = cycles(import_graph())
    unexpected = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    assert not unexpected, f"import cycles: {unexpected}"
    stale = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert not stale, f"these known cycles are gone: remove them from KNOWN_CYCLES: {stale}"


def test_the_core_imports_no_domain():
    graph = import_graph()
    offending = {
        name: sorted(m for m in deps if m.split(".")[1] in DOMAIN_PACKAGES)
        for name, deps in graph.items()
        if name.startswith("gafn_lib.core")
    }
    assert not {k: v for k, v in offending.items() if v}


def test_the_hypergrid_declares_its_one_hot_indices():
    """The core's featurizer takes the one-hot index path for the hypergrid through the grid's own
    declaration (``encode_indices``), with the indices of its dense encoding."""
    from gafn_lib.core.ensemble.features import Featurizer
    from gafn_lib.envs import BitSequences, BitSequencesConfig, Hypergrid, HypergridConfig

    for config in (HypergridConfig(ndim=2, height=8), HypergridConfig(ndim=3, height=5, termination="exit")):
        env = Hypergrid(config)
        featurizer = Featurizer(env)
        assert featurizer.uses_indices
        states = env.all_states()
        inputs = featurizer(states.unsqueeze(0))
        offsets = torch.arange(config.ndim) * config.height
        assert torch.equal(inputs.indices[0], states + offsets)
        dense = torch.zeros(states.shape[0], env.obs_dim).scatter_(1, inputs.indices[0], 1.0)
        assert torch.equal(dense, env.encode(states))
        assert not Featurizer(env, dense=True).uses_indices
    assert not Featurizer(BitSequences(BitSequencesConfig(length=3, targets=("101",)))).uses_indices
