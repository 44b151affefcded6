"""database timezone utc

Revision ID: 5c0e7d2a9b14
Revises: b7e4158d2c60
Create Date: 2026-11-16 11:40:03.902117

"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import context, op
from sqlalchemy.engine import make_url

revision: str = "5c0e7d2a9b14"
down_revision: str | None = "b7e4158d2c60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _database() -> str:
    """The database being migrated, named by the Alembic config's ``sqlalchemy.url``."""
    name = make_url(op.get_context().config.get_main_option("sqlalchemy.url")).database
    if name is None and context.is_offline_mode():
        return "current_database()"
    if not name:
        raise RuntimeError("sqlalchemy.url names no database")
    return "'" + name.replace("'", "''") + "'"


def upgrade() -> None:
    # Stock movements are compared across warehouses in several time zones: store in UTC.
    op.execute(
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET timezone TO ''UTC''', "
        f"{_database()}); END $$"
    )


def downgrade() -> None:
    op.execute(
        f"DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET timezone', {_database()}); END $$"
    )
