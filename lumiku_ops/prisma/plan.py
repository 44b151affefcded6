"""``migrate plan`` on a Prisma project: the pending ``migration.sql`` files, in the one
transaction ``migrate apply`` runs them in, with its timeouts, ready to review or paste.

Pasted, the script leaves what ``migrate apply`` leaves: each migration's ``_prisma_migrations``
row is written around its file as ``prisma migrate deploy`` writes it (the table created
first with Prisma's DDL when absent), so the database is not left holding tables no row
records (``REVISION_MISMATCH``).
"""

from __future__ import annotations

import uuid

from lumiku_ops.db.connect import resolve_database_url
from lumiku_ops.db.reader import read_only_connection
from lumiku_ops.durations import postgres_interval
from lumiku_ops.errors import DatabaseUnreachableError, MigrationError, database_reason
from lumiku_ops.history import history_for
from lumiku_ops.history.prisma import PrismaHistory
from lumiku_ops.migrate.plan import MigrationPlan
from lumiku_ops.prisma.migrations import PrismaMigration
from lumiku_ops.prisma.records import CREATE_TABLE, TABLE
from lumiku_ops.redaction import mask_url
from lumiku_ops.settings import Settings


def plan_prisma(
    settings: Settings,
    *,
    target: str,
    from_revision: str | None,
    lock_timeout_s: float,
    statement_timeout_s: float,
) -> MigrationPlan:
    """The SQL ``migrate apply`` would run: every pending migration, one transaction.

    ``from_revision`` plans as if the database had applied every migration up to it
    (``base``: none) instead of reading ``_prisma_migrations``.
    """
    history = history_for(settings)
    if not isinstance(history, PrismaHistory):
        raise MigrationError('this project is not a Prisma project (kind = "prisma")')
    names = [m.name for m in history.migrations]
    for name in (from_revision, target):
        if name not in (None, "base", "head", "heads") and name not in names:
            raise MigrationError(f"no migration named {name} in {history.directory}")
    if from_revision is not None:
        current = None if from_revision == "base" else from_revision
        pending = names[names.index(current) + 1 :] if current else names
    else:
        url = resolve_database_url(settings)
        try:
            with read_only_connection(url, purpose="migrate plan") as connection:
                recorded = history.recorded(connection)
        except Exception as exc:  # any driver error: say which database, not how
            raise DatabaseUnreachableError(
                f"cannot read _prisma_migrations from {mask_url(url)}: "
                f"{database_reason(exc, [url])}. Pass --from NAME to plan without it."
            ) from None
        current, pending = recorded.current, recorded.pending
    if target not in ("head", "heads"):
        pending = pending[: pending.index(target) + 1] if target in pending else []
    if not pending:
        return MigrationPlan(
            current=current, target=target, pending=[], sql="", version_table=TABLE
        )
    by_name = {m.name: m for m in history.migrations}
    parts = [
        "BEGIN;\n\n",
        f"SET LOCAL lock_timeout = '{postgres_interval(lock_timeout_s)}';\n",
        f"SET LOCAL statement_timeout = '{postgres_interval(statement_timeout_s)}';\n\n",
        "-- Prisma's own table, as `prisma migrate deploy` creates it when absent\n",
        CREATE_TABLE.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1),
        "\n",
    ]
    for name in pending:
        parts.append(_recorded(by_name[name]))
    parts.append("COMMIT;\n")
    return MigrationPlan(
        current=current, target=target, pending=pending, sql="".join(parts), version_table=TABLE
    )


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _recorded(migration: PrismaMigration) -> str:
    """One migration as ``migrate apply`` runs it: its row started, the file as one batch,
    the row finished (the same id, checksum and counts ``prisma migrate deploy`` writes)."""
    row = _literal(str(uuid.uuid4()))
    sql = migration.sql if migration.sql.endswith("\n") else migration.sql + "\n"
    if not sql.rstrip().endswith(";"):
        sql += ";\n"  # a file's last statement may end without one (or in a comment)
    return (
        f"-- Migration {migration.name} ({migration.path.name}, one batch)\n"
        f"INSERT INTO {TABLE} (id, checksum, started_at, migration_name) VALUES ({row}, "
        f"{_literal(migration.checksum)}, clock_timestamp(), {_literal(migration.name)});\n"
        f"{sql}"
        f"UPDATE {TABLE} SET applied_steps_count = applied_steps_count + 1, "
        f"finished_at = clock_timestamp() WHERE id = {row};\n\n"
    )
