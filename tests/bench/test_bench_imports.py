"""The benchmark scripts name only what taxmatch still has.

bench/ runs outside CI with its own dependencies, so a rename in src/ would otherwise
surface only when a benchmark is next run. This reads each script's ``from taxmatch…
import …`` statements (no bench dependency is imported) and resolves every name.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = sorted(BENCH.glob("*.py"))


def taxmatch_imports(script: Path) -> list[tuple[str, str]]:
    tree = ast.parse(script.read_text(encoding="utf-8"))
    found = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    return [
        (node.module, alias.name)
        for node in found
        if node.module is not None and node.module.startswith("taxmatch")
        for alias in node.names
    ]


def test_there_are_benchmark_scripts() -> None:
    assert len(SCRIPTS) >= 5


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_name_a_benchmark_imports_from_taxmatch_exists(script: Path) -> None:
    for module, name in taxmatch_imports(script):
        imported = importlib.import_module(module)
        assert hasattr(imported, name) or _is_module(f"{module}.{name}"), (
            f"{script.name}: {module}.{name}"
        )


def _is_module(dotted: str) -> bool:
    try:
        importlib.import_module(dotted)
    except ModuleNotFoundError:
        return False
    return True
