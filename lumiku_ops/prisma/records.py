"""``_prisma_migrations``: the table as Prisma creates it, and what its rows record, read by
Prisma's rules against the migrations folder.

A row is *applied* when ``finished_at`` is set and ``rolled_back_at`` is NULL; *failed* when
both are NULL (it blocks every later deploy: P3009); ``migrate resolve --rolled-back`` sets
``rolled_back_at`` on a failed row, and the next deploy inserts a new row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from lumiku_ops.prisma.migrations import PrismaMigration, checksum_matches

TABLE = "_prisma_migrations"
# Exactly what the schema engine runs (flavour/postgres.rs, create_migrations_table).
CREATE_TABLE = """\
CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
);
"""

_TABLE_EXISTS = text("SELECT to_regclass('_prisma_migrations') IS NOT NULL")
_ROWS = text(
    "SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at,"
    " applied_steps_count FROM _prisma_migrations ORDER BY started_at, id"
)


@dataclass(frozen=True)
class MigrationRow:
    """One row of ``_prisma_migrations``."""

    id: str
    checksum: str
    finished_at: datetime | None
    migration_name: str
    logs: str | None
    rolled_back_at: datetime | None
    started_at: datetime
    applied_steps_count: int

    @property
    def applied(self) -> bool:
        """Finished and not rolled back: Prisma counts the migration as applied."""
        return self.finished_at is not None and self.rolled_back_at is None

    @property
    def failed(self) -> bool:
        """Neither finished nor rolled back: Prisma refuses to deploy (P3009)."""
        return self.finished_at is None and self.rolled_back_at is None

    @property
    def rolled_back(self) -> bool:
        """Marked by ``prisma migrate resolve --rolled-back``: ignored from then on."""
        return self.rolled_back_at is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        data = vars(self).copy()
        for key in ("finished_at", "rolled_back_at", "started_at"):
            data[key] = data[key].isoformat() if data[key] is not None else None
        return data


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class RecordedMigrations:
    """What ``_prisma_migrations`` records, against the migrations folder.

    Names are listed once each: ``applied``, ``failed``, ``rolled_back`` and
    ``missing_from_folder`` in the order the rows were started, ``edited`` and ``pending`` in
    folder order.
    """

    has_table: bool
    rows: tuple[MigrationRow, ...] = ()
    # A row finished and not rolled back.
    applied: list[str] = field(default_factory=list)
    # A row neither finished nor rolled back: it blocks every later deploy (P3009).
    failed: list[str] = field(default_factory=list)
    # A row marked by `prisma migrate resolve --rolled-back` (the next deploy runs it again).
    rolled_back: list[str] = field(default_factory=list)
    # Applied, but its migration.sql now matches none of the applied rows' checksums.
    edited: list[str] = field(default_factory=list)
    # Recorded, but no folder has that name (Prisma: migrationsDirectoryIsBehind).
    missing_from_folder: list[str] = field(default_factory=list)
    # Folder migrations without an applied row, in the order a deploy runs them.
    pending: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        """A failed row stops every deploy until it is resolved."""
        return bool(self.failed)

    def rows_named(self, name: str) -> list[MigrationRow]:
        """Every row of one migration, oldest first (a failed one's ``logs`` say why)."""
        return [row for row in self.rows if row.migration_name == name]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "has_table": self.has_table,
            "applied": list(self.applied),
            "failed": list(self.failed),
            "rolled_back": list(self.rolled_back),
            "edited": list(self.edited),
            "missing_from_folder": list(self.missing_from_folder),
            "pending": list(self.pending),
            "rows": [row.to_dict() for row in self.rows],
        }


def read_rows(connection: Connection) -> tuple[MigrationRow, ...] | None:
    """Every row of ``_prisma_migrations``, oldest first; None when the table is absent."""
    if not connection.execute(_TABLE_EXISTS).scalar_one():
        return None
    return tuple(MigrationRow(**row._asdict()) for row in connection.execute(_ROWS))


def state(connection: Connection, migrations: Sequence[PrismaMigration]) -> RecordedMigrations:
    """What the database records about ``migrations`` (``list_migrations``), by Prisma's rules.

    The table absent means nothing is recorded: every migration is pending.
    """
    rows = read_rows(connection)
    if rows is None:
        return RecordedMigrations(has_table=False, pending=[m.name for m in migrations])
    in_folder = {migration.name for migration in migrations}
    applied_rows: dict[str, list[MigrationRow]] = {}
    for row in rows:
        if row.applied:
            applied_rows.setdefault(row.migration_name, []).append(row)
    edited = [
        m.name
        for m in migrations
        if m.name in applied_rows
        and not any(
            checksum_matches(row.checksum, m.sql.encode("utf-8")) for row in applied_rows[m.name]
        )
    ]
    return RecordedMigrations(
        has_table=True,
        rows=rows,
        applied=list(applied_rows),
        failed=_unique(row.migration_name for row in rows if row.failed),
        rolled_back=_unique(row.migration_name for row in rows if row.rolled_back),
        edited=edited,
        missing_from_folder=_unique(
            row.migration_name for row in rows if row.migration_name not in in_folder
        ),
        pending=[m.name for m in migrations if m.name not in applied_rows],
    )


def ensure_migrations_table(connection: Connection) -> bool:
    """Create ``_prisma_migrations`` with Prisma's own DDL unless it exists; True if created.

    Runs in the caller's transaction. (Prisma's deploy also refuses, with P3005, a schema
    that holds other tables but no ``_prisma_migrations``: baselining is the caller's call.)
    """
    if connection.execute(_TABLE_EXISTS).scalar_one():
        return False
    connection.exec_driver_sql(CREATE_TABLE, execution_options={"no_parameters": True})
    return True
