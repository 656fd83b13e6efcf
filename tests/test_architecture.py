"""The package's shape: data flows one way, catalog -> solvers -> evaluate -> site -> agent -> cli.

A module may import its own layer and the layers above it in that list (plus the
package root's public face: `errors` and `lineage`), never a layer below; `provenance`
never imports `mlsysim`; and no two modules import each other, directly or through
others, even inside a function (a lazy import that only hides a cycle is still a cycle).
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["catalog", "solvers", "evaluate", "site", "agent", "cli"]
PUBLIC_FACE = {"mlsysim", "mlsysim.errors", "mlsysim.lineage", "mlsysim.__main__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@lru_cache(maxsize=None)
def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module this file imports by name (any depth), skipping TYPE_CHECKING blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _modules(package: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


MODULES = _modules("mlsysim") | _modules("provenance")


def _resolve(name: str) -> str | None:
    """The project module an imported name refers to (a submodule or the module defining it)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "mlsysim" or module in PUBLIC_FACE:
        return None
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_belongs_to_a_layer_or_the_public_face():
    loose = [m for m in MODULES if m.startswith("mlsysim") and _layer(m) is None and m not in PUBLIC_FACE]
    assert not loose, f"modules outside catalog/solvers/evaluate/site/cli and the root's public face: {loose}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("mlsysim") and _layer(m) is not None))
def test_imports_point_down_the_data_flow(module):
    own = _layer(module)
    upward = []
    for name, line in _imports(MODULES[module]):
        target = _resolve(name)
        if target is None or target == module:
            continue
        layer = _layer(target)
        if layer is not None and layer > own:
            upward.append(f"{MODULES[module].relative_to(ROOT)}:{line} imports {target} ({LAYERS[layer]} is below {LAYERS[own]})")
    assert not upward, "\n".join(upward)


def test_provenance_never_imports_mlsysim():
    wrong = [f"{MODULES[m].relative_to(ROOT)}:{line}: {name}" for m in MODULES if m.startswith("provenance")
             for name, line in _imports(MODULES[m]) if name.split(".")[0] == "mlsysim"]
    assert not wrong, wrong


def test_no_import_cycles_even_through_lazy_imports():
    graph = {m: {t for name, _ in _imports(p) if (t := _resolve(name)) and t != m and not m.startswith(t + ".")}
             for m, p in MODULES.items() if m != "mlsysim"}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            # A package's __init__ re-exporting its own submodules is not a cycle in the data flow.
            if nxt == "mlsysim" or node.startswith(nxt + ".") or nxt.startswith(node + "."):
                continue
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]) if nxt in stack else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
