"""The package tree shows the pipeline: imports run down the layers only, without cycles, and never into Airflow."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.config import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "pipelines"
# Lowest first: a part may import its own modules and those of lower layers, never a higher one.
LAYERS = (
    {"config", "failures", "ids", "records", "tabular", "urls", "workers"},
    {"tables"},
    {"http"},
    {"sources"},
    {"text"},
    {"nlp"},
    {"dedup"},
    {"events"},
    {"quality"},
    {"storage"},
    {"reporting"},
    {"rounds"},
    {"pipeline"},
    {"evaluation"},
    {"cli"},
)
MAX_MODULE_LINES = 500
# The store and its query modules stay split by concern: none grows into the one class that held them all.
MAX_STORAGE_MODULE_LINES = 300


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> Iterator[str]:
    """Every module a file imports, at module level or inside functions."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def part(module: str) -> str:
    """The layer part of a pipelines module: `pipelines.nlp.quotes.marks` -> `nlp`."""
    return module.split(".")[1]


def layer(name: str) -> int:
    return next(index for index, names in enumerate(LAYERS) if name in names)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {part(module) for module in MODULES if module != "pipelines"}
    assert parts <= set().union(*LAYERS), parts - set().union(*LAYERS)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_down_the_layers(module: str) -> None:
    if module == "pipelines":
        return
    own = part(module)
    for imported in imports_of(MODULES[module]):
        assert imported.split(".")[0] != "airflow", f"{module} imports {imported}: pipelines/ never imports Airflow"
        if imported.startswith("pipelines."):
            target = part(imported)
            assert target == own or layer(target) < layer(own), f"{module} imports {imported}, a higher layer"


def test_no_import_cycles_between_modules() -> None:
    graph = {
        module: {imported for imported in imports_of(path) if imported in MODULES} for module, path in MODULES.items()
    }
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                raise AssertionError("import cycle: " + " -> ".join([*trail, module, imported]))
            if imported not in state:
                visit(imported, [*trail, module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines: split it by concern"


@pytest.mark.parametrize("module", sorted(module for module in MODULES if module.startswith("pipelines.storage")))
def test_storage_modules_stay_split_by_concern(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_STORAGE_MODULE_LINES, f"{module} has {lines} lines: give its concern a module of its own"
