"""The import graph of ``src/shardvault``: no cycles, and every import points down
the layers of docs/architecture.md ("Layers").

Built with the standard library's ``ast`` from the source files, so it sees every
import: module level, inside functions and under ``TYPE_CHECKING`` alike.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "shardvault"

#: Layer of each top-level module or package of shardvault, lowest first. A module
#: may import from a lower layer, and within its own top-level package; never from
#: a higher layer or from a sibling of the same layer.
LAYERS: list[set[str]] = [
    {"errors", "cpu"},
    {"crypto"},
    {"protocols", "chains", "db"},
    {"transport"},
    {"coordinator", "signer"},
    {"api", "sdk"},
    {"server", "demo"},
    {"cli"},
]
LAYER_OF = {name: n for n, names in enumerate(LAYERS) for name in names}


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported shardvault module) for every import in the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                # ``from pkg import module`` imports the module itself.
                full = f"{target}.{alias.name}"
                yield node.lineno, full if full in MODULES else target


def _graph() -> dict[str, dict[str, int]]:
    graph: dict[str, dict[str, int]] = {}
    for module, path in MODULES.items():
        edges = graph.setdefault(module, {})
        for line, target in _imports(module, path):
            if target.split(".")[0] != PACKAGE:
                continue
            while target not in MODULES:  # an attribute of a module
                target = target.rpartition(".")[0]
            if target != module and target != PACKAGE:
                edges.setdefault(target, line)
    return graph


GRAPH = _graph()


def _top(module: str) -> str:
    return module.split(".")[1]


def test_every_top_level_module_has_a_layer() -> None:
    tops = {_top(m) for m in MODULES if m != PACKAGE}
    assert tops <= set(LAYER_OF), f"no layer for {sorted(tops - set(LAYER_OF))}"


def test_imports_point_down_the_layers() -> None:
    upward = []
    for module, edges in GRAPH.items():
        if module == PACKAGE:
            continue
        for target, line in edges.items():
            a, b = _top(module), _top(target)
            if a != b and LAYER_OF[b] >= LAYER_OF[a]:
                upward.append(f"{MODULES[module].relative_to(SRC)}:{line} imports {target}")
    assert not upward, "imports that do not point down the layers:\n" + "\n".join(upward)


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert _cycles() == []


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b": 1}, "b": {"a": 1}}, [["a", "b"]]),
        ({"a": {"b": 1}, "b": {"c": 1}, "c": {}}, []),
    ],
)
def test_cycle_finder_finds_cycles(
    monkeypatch: pytest.MonkeyPatch, edges: dict[str, dict[str, int]], expected: list[list[str]]
) -> None:
    monkeypatch.setattr(f"{__name__}.GRAPH", edges)
    assert _cycles() == expected


#: The server side, which the client SDK never imports, directly or through another
#: module (an SDK user installs no server).
SERVER_SIDE = {"api", "coordinator", "signer", "db", "server"}


def test_the_sdk_imports_nothing_of_the_server_side() -> None:
    reached: dict[str, str] = {}  # module -> the module that imports it
    stack = [m for m in GRAPH if m.startswith(f"{PACKAGE}.sdk")]
    while stack:
        module = stack.pop()
        for target in GRAPH.get(module, {}):
            if target not in reached:
                reached[target] = module
                stack.append(target)
    server_side = sorted(f"{reached[m]} imports {m}" for m in reached if _top(m) in SERVER_SIDE)
    assert not server_side, "the SDK reaches the server side:\n" + "\n".join(server_side)
