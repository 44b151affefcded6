"""``migrate apply`` and ``migrate rollback``: move a database safely, or not at all.

Safety, in the order it is enforced:
1. a database not on this machine needs ``confirm`` (dry runs excepted);
2. a PostgreSQL advisory lock: a second operator fails fast (or waits, with ``wait``);
3. ``lock_timeout`` from the first read of ``alembic_version`` on, and
   ``statement_timeout`` for the migration's transaction;
4. the whole range runs in ONE transaction (PostgreSQL DDL is transactional): any
   exception (a Python error, an interrupt), a timeout or a killed process leaves the old
   revision and nothing half-created. A range holding revisions with ``autocommit_block()``
   runs in segments (see ``segments`` and ``transactions``), each committed in turn,
   stopping at a revision;
5. a dry run does all of it, reports what changed, and rolls back (a range with segments
   is refused: it could not be rolled back);
6. every real run (applied or failed) is written to the audit trail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, pool, text
from sqlalchemy.exc import DBAPIError, OperationalError

from lumiku_ops.db.connect import resolve_database_url
from lumiku_ops.db.reader import read_recorded_revision
from lumiku_ops.durations import postgres_interval
from lumiku_ops.errors import DatabaseUnreachableError, MigrationError, database_reason
from lumiku_ops.migrate import runner
from lumiku_ops.migrate.confirm import require_confirmation
from lumiku_ops.migrate.lock import (
    acquire_migration_lock,
    release_migration_lock,
)
from lumiku_ops.migrate.plan import DEFAULT_LOCK_TIMEOUT_S, DEFAULT_STATEMENT_TIMEOUT_S
from lumiku_ops.migrate.progress import Progress
from lumiku_ops.migrate.scripts import script_directory
from lumiku_ops.migrate.segments import split_into_segments
from lumiku_ops.migrate.transactions import (
    Move,
    RangeRun,
    audit,
    explain,
    roll_back,
)
from lumiku_ops.redaction import mask_url
from lumiku_ops.settings import Settings


@dataclass
class ApplyResult:
    """What an apply or rollback did (or, for a dry run, would do)."""

    action: str
    outcome: str  # applied | dry-run | noop
    database: str
    from_revision: str | None
    to_revision: str | None
    revisions: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    duration_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        data = vars(self).copy()
        data["duration_ms"] = round(self.duration_ms, 1)
        return data


def _run(
    settings: Settings,
    *,
    action: str,
    plan: Callable[[Connection, str | None], tuple[list[str], str | None]],
    move: Move,
    dry_run: bool,
    confirm: bool,
    lock_timeout_s: float,
    statement_timeout_s: float,
    wait: bool,
) -> ApplyResult:
    url = resolve_database_url(settings)
    require_confirmation(url, action=action, dry_run=dry_run, confirm=confirm)
    project = settings.project
    started = time.perf_counter()
    engine = create_engine(
        url,
        poolclass=pool.NullPool,
        connect_args={"connect_timeout": 5, "application_name": f"lumiku-ops migrate {action}"},
    )
    try:
        connection = engine.connect()
    except OperationalError as exc:
        raise DatabaseUnreachableError(
            f"cannot connect to {mask_url(url)}: {database_reason(exc, [url])}"
        ) from None
    with connection:
        if connection.dialect.server_version_info >= (14,):  # type: ignore[operator]
            # Notice a dead client (kill -9, lost network) even mid-statement, so its
            # transaction rolls back and its locks go at once instead of at the next write.
            connection.execute(text("SET client_connection_check_interval = '1s'"))
            connection.commit()
        acquire_migration_lock(connection, wait=wait)
        try:
            # From here on every statement, the first read of alembic_version included,
            # gives up after lock_timeout: a session holding a lock on the version table
            # must not keep the apply queued (and every later query behind it) for ever.
            connection.execute(text(f"SET lock_timeout = '{postgres_interval(lock_timeout_s)}'"))
            connection.commit()
            try:
                with connection.begin():
                    current = read_recorded_revision(connection)[1]
            except DBAPIError as exc:
                reason = explain(exc, lock_timeout_s, statement_timeout_s)
                if not dry_run:
                    audit(connection, action, None, None, "failed", reason, started)
                raise MigrationError(
                    f"{action} failed before reading the current revision: {reason}"
                ) from None
            revisions, target = plan(connection, current)
            result = ApplyResult(action, "noop", mask_url(url), current, current, revisions)
            if not revisions:
                return result
            segments = split_into_segments(
                script_directory(project), revisions, target, upgrade=action == "apply"
            )
            RangeRun(
                connection,
                settings,
                result,
                target,
                move,
                lock_timeout_s,
                statement_timeout_s,
                dry_run,
                started,
            ).run(segments)
            result.duration_ms = (time.perf_counter() - started) * 1000
            return result
        finally:
            roll_back(connection)
            release_migration_lock(connection)


def _require_known(scripts: ScriptDirectory, current: str | None) -> None:
    """Refuse to move a database whose recorded revision this history does not have."""
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    for revision in (current or "").split(","):
        if not revision:
            continue
        try:
            known = scripts.get_revision(revision) is not None
        except (RevisionError, CommandError):  # alembic raises for an unknown id
            known = False
        if not known:
            raise MigrationError(
                f"the database records revision {revision}, which this history does not have "
                "(REVISION_MISMATCH); nothing was changed. Run `lumiku-ops diagnose` to see "
                "which revision its tables match, or point --project/--migrations at the "
                "history that wrote it"
            )


def apply_migrations(
    settings: Settings,
    *,
    target: str = "head",
    dry_run: bool = False,
    confirm: bool = False,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S,
    wait: bool = False,
) -> ApplyResult:
    """Apply the pending revisions up to ``target`` atomically, under the migration lock.

    Raises:
        ConfirmationRequiredError, MigrationLockedError, MigrationError,
        DatabaseUnreachableError: each with a message that says what to do.
    """
    from lumiku_ops.history import history_for

    return history_for(settings).apply(
        target=target,
        dry_run=dry_run,
        confirm=confirm,
        lock_timeout_s=lock_timeout_s,
        statement_timeout_s=statement_timeout_s,
        wait=wait,
    )


def apply_alembic(
    settings: Settings,
    *,
    target: str,
    dry_run: bool,
    confirm: bool,
    lock_timeout_s: float,
    statement_timeout_s: float,
    wait: bool,
) -> ApplyResult:
    """``apply_migrations`` for an Alembic history."""
    project = settings.project
    scripts = script_directory(project)

    def plan(connection: Connection, current: str | None) -> tuple[list[str], str | None]:
        _require_known(scripts, current)
        upper = scripts.get_current_head() if target == "head" else target
        pending = [s.revision for s in scripts.iterate_revisions(upper, current)]
        return list(reversed(pending)), upper

    def move(connection: Connection, destination: str, progress: Progress) -> None:
        runner.upgrade(project, connection, destination, progress=progress)

    return _run(
        settings,
        action="apply",
        plan=plan,
        move=move,
        dry_run=dry_run,
        confirm=confirm,
        lock_timeout_s=lock_timeout_s,
        statement_timeout_s=statement_timeout_s,
        wait=wait,
    )


def rollback_migrations(
    settings: Settings,
    *,
    to: str | None = None,
    dry_run: bool = False,
    confirm: bool = False,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S,
    wait: bool = False,
) -> ApplyResult:
    """Downgrade to ``to`` (default: the revision before the current one), like apply."""
    from lumiku_ops.history import history_for

    return history_for(settings).rollback(
        to=to,
        dry_run=dry_run,
        confirm=confirm,
        lock_timeout_s=lock_timeout_s,
        statement_timeout_s=statement_timeout_s,
        wait=wait,
    )


def rollback_alembic(
    settings: Settings,
    *,
    to: str | None,
    dry_run: bool,
    confirm: bool,
    lock_timeout_s: float,
    statement_timeout_s: float,
    wait: bool,
) -> ApplyResult:
    """``rollback_migrations`` for an Alembic history."""
    project = settings.project
    scripts = script_directory(project)

    def plan(connection: Connection, current: str | None) -> tuple[list[str], str | None]:
        _require_known(scripts, current)
        if current is None:
            return [], None
        script = scripts.get_revision(current)
        down = to if to is not None else (script.down_revision if script else None)
        destination = None if down in (None, "base") else str(down)
        undone = [s.revision for s in scripts.iterate_revisions(current, destination)]
        return undone, destination

    def move(connection: Connection, destination: str, progress: Progress) -> None:
        runner.downgrade(project, connection, destination, progress=progress)

    return _run(
        settings,
        action="rollback",
        plan=plan,
        move=move,
        dry_run=dry_run,
        confirm=confirm,
        lock_timeout_s=lock_timeout_s,
        statement_timeout_s=statement_timeout_s,
        wait=wait,
    )
