"""``migrate plan``: the SQL a pending range would run (its risks are ``lint``'s).

The plan is Alembic's offline SQL: one transaction that also moves the version table, so
running it by hand (the seed's "Option B") leaves the database and the history in step.
A range holding ``autocommit_block()`` revisions is planned segment by segment, as
``apply`` runs it: each transaction gets its own timeouts, and the plan says how many.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lumiku_ops.db.connect import resolve_database_url
from lumiku_ops.db.reader import read_only_connection, read_recorded_revision
from lumiku_ops.durations import postgres_interval
from lumiku_ops.errors import DatabaseUnreachableError, database_reason
from lumiku_ops.migrate.runner import offline_sql
from lumiku_ops.migrate.scripts import script_directory
from lumiku_ops.migrate.segments import split_into_segments
from lumiku_ops.project import Project
from lumiku_ops.redaction import mask_url
from lumiku_ops.settings import Settings

DEFAULT_LOCK_TIMEOUT_S = 5.0
DEFAULT_STATEMENT_TIMEOUT_S = 300.0


@dataclass
class MigrationPlan:
    """The revisions between the database and ``target``, and the SQL they would run."""

    current: str | None
    target: str
    pending: list[str]
    sql: str
    transactions: int = 1
    outside_transaction: list[str] = field(default_factory=list)  # autocommit_block() revisions
    # Where the script records the revisions it runs.
    version_table: str = "alembic_version"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return vars(self).copy()


def recorded_revision(settings: Settings) -> str | None:
    """The target database's recorded revision, read in a read-only session."""
    url = resolve_database_url(settings)
    try:
        with read_only_connection(url, purpose="migrate plan") as connection:
            return read_recorded_revision(connection)[1]
    except Exception as exc:  # any driver error: say which database, not how
        raise DatabaseUnreachableError(
            f"cannot read the recorded revision from {mask_url(url)}: "
            f"{database_reason(exc, [url])}. Pass --from REV to plan without it."
        ) from None


def pending_revisions(project: Project, current: str | None, target: str) -> list[str]:
    """Revision ids from after ``current`` up to ``target``, oldest first."""
    scripts = script_directory(project)
    upper = scripts.get_current_head() if target == "head" else target
    revisions = [s.revision for s in scripts.iterate_revisions(upper, current)]
    revisions.reverse()
    return revisions


def _with_timeouts(sql: str, lock_timeout_s: float, statement_timeout_s: float) -> str:
    # Safe to paste: each transaction gives up instead of queueing behind traffic.
    guard = (
        f"SET LOCAL lock_timeout = '{postgres_interval(lock_timeout_s)}';\n"
        f"SET LOCAL statement_timeout = '{postgres_interval(statement_timeout_s)}';\n"
    )
    return sql.replace("BEGIN;\n", "BEGIN;\n\n" + guard)


# Alembic commits before an autocommit block even when nothing ran before it.
_EMPTY_TRANSACTION = re.compile(r"BEGIN;\n\n((?:--[^\n]*\n\n)*)COMMIT;\n\n")


def plan_migrations(
    settings: Settings,
    *,
    target: str = "head",
    from_revision: str | None = None,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S,
) -> MigrationPlan:
    """The offline SQL from the database's revision (or ``from_revision``) to ``target``.

    Raises:
        MigrationError: a revision cannot run without a database (it reads rows); the
            message names it and suggests ``migrate apply --dry-run``.
    """
    from lumiku_ops.history import history_for

    return history_for(settings).plan(
        target=target,
        from_revision=from_revision,
        lock_timeout_s=lock_timeout_s,
        statement_timeout_s=statement_timeout_s,
    )


def plan_alembic(
    settings: Settings,
    *,
    target: str,
    from_revision: str | None,
    lock_timeout_s: float,
    statement_timeout_s: float,
) -> MigrationPlan:
    """``plan_migrations`` for an Alembic history: Alembic's offline SQL, in segments."""
    current = from_revision if from_revision is not None else recorded_revision(settings)
    if current == "base":
        current = None
    project = settings.project
    pending = pending_revisions(project, current, target)
    if not pending:
        return MigrationPlan(current=current, target=target, pending=[], sql="")
    segments = split_into_segments(script_directory(project), pending, pending[-1])
    parts, start = [], current
    for segment in segments:
        span = f"{start}:{segment.destination}" if start else segment.destination
        if segment.autocommit:
            # SET LOCAL is void outside a transaction: the session carries the timeouts,
            # as apply sets them for this segment.
            parts.append(
                f"-- {segment.revisions[0]} runs its autocommit_block() outside a transaction:\n"
                f"SET lock_timeout = '{postgres_interval(lock_timeout_s)}';\n"
                f"SET statement_timeout = '{postgres_interval(statement_timeout_s)}';\n\n"
            )
        parts.append(_EMPTY_TRANSACTION.sub(r"\1", offline_sql(project, span)))
        start = segment.destination
    sql = _with_timeouts("".join(parts), lock_timeout_s, statement_timeout_s)
    return MigrationPlan(
        current=current,
        target=target,
        pending=pending,
        sql=sql,
        transactions=sql.count("BEGIN;\n"),
        outside_transaction=[s.revisions[0] for s in segments if s.autocommit],
    )
