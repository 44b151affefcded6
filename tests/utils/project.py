"""The reference project, loaded the way any user's project is: through its pyproject."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from lumiku_ops.project import Project, load_project

REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE = load_project(REPO_ROOT)
MIGRATIONS = REFERENCE.migrations_dir


def with_migrations(folder: Path) -> Project:
    """The reference project with another migrations folder (a scratch copy)."""
    return replace(REFERENCE, migrations_dir=folder.resolve())
