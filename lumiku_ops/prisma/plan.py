"""``migrate plan`` on a Prisma project: the pending ``migration.sql`` files, in the one
transaction ``migrate apply`` runs them in, with its timeouts, ready to review or paste."""

from __future__ import annotations

from lumiku_ops.db.connect import resolve_database_url
from lumiku_ops.db.reader import read_only_connection
from lumiku_ops.durations import postgres_interval
from lumiku_ops.errors import DatabaseUnreachableError, MigrationError, database_reason
from lumiku_ops.history import history_for
from lumiku_ops.history.prisma import PrismaHistory
from lumiku_ops.migrate.plan import MigrationPlan
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
        return MigrationPlan(current=current, target=target, pending=[], sql="")
    by_name = {m.name: m for m in history.migrations}
    parts = [
        "BEGIN;\n\n",
        f"SET LOCAL lock_timeout = '{postgres_interval(lock_timeout_s)}';\n",
        f"SET LOCAL statement_timeout = '{postgres_interval(statement_timeout_s)}';\n\n",
    ]
    for name in pending:
        sql = by_name[name].sql
        parts.append(f"-- Migration {name} ({by_name[name].path.name}, one batch)\n")
        parts.append(sql if sql.endswith("\n") else sql + "\n")
        parts.append("\n")
    parts.append("COMMIT;\n")
    return MigrationPlan(current=current, target=target, pending=pending, sql="".join(parts))
