"""The package's shape, as docs/design.md draws it: imports only go down the layer map (lazy
imports inside functions included), no module imports itself through a circle, and files and
functions stay small enough to read in one sitting."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "canvasmar"
DESIGN = ROOT / "docs" / "design.md"
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 80


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every canvasmar module `path` imports, at any depth of the file (lazy imports too).
    `from canvasmar.a import b` counts as importing canvasmar.a.b when that is a module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "canvasmar"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "canvasmar":
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    unknown = found - set(modules)
    assert not unknown, f"{path} imports modules that do not exist: {sorted(unknown)}"
    return found - {module_name(path)}


def layer_map() -> list[list[str]]:
    """The ```layers block of docs/design.md: top layer first, each a list of names
    ('train/' a package, 'pipeline' a module, '__init__' the package root)."""
    block = re.search(r"```layers\n(.*?)```", DESIGN.read_text(), re.S)
    assert block, "docs/design.md has no ```layers block"
    layers = []
    for line in block.group(1).splitlines():
        names = []
        for word in line.split():
            if not re.fullmatch(r"[a-z_]+/?", word):
                break  # the rest of the line describes the layer
            names.append(word)
        layers.append(names)
    return layers


def layer_of(module: str, layers: list[list[str]]) -> int:
    parts = module.split(".")[1:]
    key = "__init__" if not parts else parts[0] + ("/" if len(parts) > 1 or (
        PACKAGE / parts[0]).is_dir() else "")
    for index, names in enumerate(layers):
        if key in names:
            return index
    raise AssertionError(f"{module} is not on the layer map of docs/design.md ('{key}'): "
                         f"add it to the ```layers block")


def test_every_module_is_on_the_layer_map_and_imports_only_downwards():
    modules, layers = all_modules(), layer_map()
    upward = []
    for name, path in modules.items():
        mine = layer_of(name, layers)
        for target in sorted(imports_of(path, modules)):
            if layer_of(target, layers) < mine:
                upward.append(f"{name} -> {target}")
    assert not upward, "imports that go up the layer map:\n" + "\n".join(upward)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `graph` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
            if nxt not in state and (cycle := visit(nxt, path + [nxt])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_no_import_circles():
    modules = all_modules()
    graph = {name: imports_of(path, modules) for name, path in modules.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_find_cycle_sees_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_layer_check_catches_an_upward_import(tmp_path):
    layers = layer_map()
    assert layer_of("canvasmar.pipeline", layers) < layer_of("canvasmar.models.factory", layers)
    assert layer_of("canvasmar.cli", layers) == 0
    with pytest.raises(AssertionError, match="not on the layer map"):
        layer_of("canvasmar.no_such_module", layers)


def test_modules_and_functions_are_small():
    too_long = []
    for name, path in all_modules().items():
        text = path.read_text()
        if (lines := len(text.splitlines())) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {lines} lines (limit {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines "
                                    f"(limit {MAX_FUNCTION_LINES})")
    assert not too_long, "split these:\n" + "\n".join(too_long)
