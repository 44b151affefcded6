"""Scratch copies of the migrations folder, with revisions removed or added."""

from __future__ import annotations

from pathlib import Path

from lumiku_ops.migrate.revisions import copy_migrations
from tests.utils.project import REFERENCE

REVISION = '''"""{message}

Revision ID: {revision}
Revises: {down}
"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = {down_repr}
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


def scratch(folder: Path, *, without: tuple[str, ...] = ()) -> Path:
    """A copy of the project's migrations, minus the revisions in ``without``."""
    return copy_migrations(REFERENCE, folder / "migrations", without=without)


def add_revision(
    migrations: Path, revision: str, down: str | None, upgrade: str, downgrade: str = "pass"
) -> Path:
    """Write a hand-made revision file; ``upgrade``/``downgrade`` are Python statements."""
    path = migrations / "versions" / f"{revision}_test_{revision}.py"
    path.write_text(
        REVISION.format(
            message=f"test_{revision}",
            revision=revision,
            down=down,
            down_repr=repr(down),
            upgrade="\n".join("    " + line for line in upgrade.splitlines()),
            downgrade="\n".join("    " + line for line in downgrade.splitlines()),
        )
    )
    return path


SLOW_UPGRADE = """op.create_table("slow_marker", sa.Column("id", sa.Integer(), primary_key=True))
op.execute("SELECT pg_sleep(20)")"""
