"""Imports point down the floors of the house, never up or sideways between stages.

lakehouse (ground floor) <- producer, ingestion <- spark_jobs <- ops, evaluation, mage_project,
bench; dashboard and api sit on top too, but run in their own virtualenvs, so they import only
lakehouse (its configuration and gold_access, which need nothing beyond the standard library and
psycopg2). The test reads
every module's imports, function-level ones too, so a lazy import cannot hide an arrow going
the wrong way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lakehouse.config import REPO_ROOT

pytestmark = pytest.mark.unit

STAGES = (
    "lakehouse",
    "producer",
    "ingestion",
    "spark_jobs",
    "ops",
    "evaluation",
    "mage_project",
    "bench",
    "dashboard",
    "api",
)

# What each package may import from the project, besides itself.
ALLOWED: dict[str, set[str]] = {
    "lakehouse": set(),
    "producer": {"lakehouse"},
    "ingestion": {"lakehouse"},
    "spark_jobs": {"lakehouse", "ingestion"},
    "ops": {"lakehouse", "producer", "ingestion", "spark_jobs"},
    "evaluation": {"lakehouse", "producer", "ingestion", "spark_jobs"},
    "mage_project": {"lakehouse", "producer", "ingestion", "spark_jobs", "ops"},
    "bench": {"lakehouse", "producer", "ingestion", "spark_jobs", "ops", "evaluation", "tests"},
    "dashboard": {"lakehouse"},
    "api": {"lakehouse"},
}


def project_imports(path: Path) -> set[str]:
    """The top-level project packages a module imports, wherever in the module the import sits."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names)
    return found & {*STAGES, "tests"}


def wrong_way_imports() -> list[str]:
    wrong = []
    for package in STAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            for imported in sorted(project_imports(path) - ALLOWED[package] - {package}):
                wrong.append(f"{path.relative_to(REPO_ROOT)} imports {imported}")
    return wrong


def test_every_stage_package_has_a_floor():
    assert set(ALLOWED) == set(STAGES)
    assert all((REPO_ROOT / package).is_dir() for package in STAGES)


def test_imports_only_point_down():
    assert wrong_way_imports() == []


def test_the_check_sees_a_wrong_way_import(tmp_path: Path):
    module = tmp_path / "module.py"
    module.write_text("def later():\n    from spark_jobs.gold import job\n    import ops.demo\n")
    assert project_imports(module) == {"spark_jobs", "ops"}
