"""The house rules of the import graph: `lib/` knows no Dagster, and no stage of `defs/` imports
a later stage (a retrain begins at its trigger, so the triggers stage comes before training)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cl_assets"
STAGES = ("quality", "ingest", "features", "triggers", "training", "evaluation", "deployment", "monitoring")


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, by absolute name (functions' local imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["cl_assets", "defs"] and parts[2] in STAGES else None


@pytest.mark.parametrize("path", sorted((PACKAGE / "lib").rglob("*.py")), ids=lambda p: p.name)
def test_lib_imports_neither_dagster_nor_defs(path):
    bad = {
        m for m in _imports(path) if m.split(".")[0] in ("dagster", "dagster_mlflow") or m.startswith("cl_assets.defs")
    }
    assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


@pytest.mark.parametrize("stage", STAGES)
def test_no_stage_imports_a_later_stage(stage):
    later = set(STAGES[STAGES.index(stage) + 1 :])
    for path in sorted((PACKAGE / "defs" / stage).glob("*.py")):
        wrong = {m for m in _imports(path) if _stage(m) in later}
        assert not wrong, f"{path.relative_to(PACKAGE)} ({stage}) imports the later stage(s) {sorted(wrong)}"


def test_every_stage_folder_is_placed_in_the_order():
    folders = {p.name for p in (PACKAGE / "defs").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == set(STAGES)
