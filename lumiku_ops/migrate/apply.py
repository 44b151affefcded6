"""``migrate apply`` and ``migrate rollback``: move a database safely, or not at all.

Safety, in the order it is enforced:
1. a database not on this machine needs ``confirm`` (dry runs excepted);
2. a PostgreSQL advisory lock: a second operator fails fast (or waits, with ``wait``);
3. ``lock_timeout`` from the first read of ``alembic_version`` on, and
   ``statement_timeout`` for the migration's transaction;
4. the whole range runs in ONE transaction (PostgreSQL DDL is transactional): any
   exception (a Python error, an interrupt), a timeout or a killed process leaves the old
   revision and nothing half-created. A range holding revisions with ``autocommit_block()``
   runs in segments (see ``segments``), each committed in turn, stopping at a revision;
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

from lumiku_ops.db.catalog import read_model_tables
from lumiku_ops.db.connect import resolve_database_url
from lumiku_ops.db.reader import read_recorded_revision
from lumiku_ops.durations import postgres_interval
from lumiku_ops.errors import (
    DatabaseUnreachableError,
    MigrationError,
    database_reason,
    sqlstate,
)
from lumiku_ops.migrate import runner
from lumiku_ops.migrate.audit import write_audit
from lumiku_ops.migrate.confirm import require_confirmation
from lumiku_ops.migrate.lock import (
    acquire_migration_lock,
    release_migration_lock,
)
from lumiku_ops.migrate.plan import DEFAULT_LOCK_TIMEOUT_S, DEFAULT_STATEMENT_TIMEOUT_S
from lumiku_ops.migrate.segments import Segment, describe_script, split_into_segments
from lumiku_ops.project import Project
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


def describe_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Human lines for what changed between two catalogs."""
    lines = [f"created table {name}" for name in sorted(set(after) - set(before))]
    lines += [f"dropped table {name}" for name in sorted(set(before) - set(after))]
    lines += [
        f"altered table {name}"
        for name in sorted(set(before) & set(after))
        if before[name] != after[name]
    ]
    return lines


def _explain(exc: DBAPIError, lock_timeout_s: float, statement_timeout_s: float) -> str:
    state = sqlstate(exc)
    if state == "55P03":
        return (
            f"a table stayed locked longer than --lock-timeout ({lock_timeout_s:g}s), so nothing "
            "was changed; retry when traffic is lower or raise --lock-timeout"
        )
    if state == "57014":
        return (
            f"a statement ran longer than --statement-timeout ({statement_timeout_s:g}s), so "
            "nothing was changed; raise --statement-timeout for large tables"
        )
    return f"{database_reason(exc)} (SQLSTATE {state}); nothing was changed"


@dataclass(frozen=True)
class _Limits:
    lock_timeout_s: float
    statement_timeout_s: float

    def set_local(self, connection: Connection) -> None:
        lock = postgres_interval(self.lock_timeout_s)
        connection.execute(text(f"SET LOCAL lock_timeout = '{lock}'"))
        statement = postgres_interval(self.statement_timeout_s)
        connection.execute(text(f"SET LOCAL statement_timeout = '{statement}'"))


def _reason(exc: BaseException, limits: _Limits) -> str:
    if isinstance(exc, DBAPIError):
        return _explain(exc, limits.lock_timeout_s, limits.statement_timeout_s)
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _roll_back(connection: Connection) -> None:
    # Before anything else touches the session (the audit, the lock release), so that
    # nothing of the failed segment can be committed on its way out.
    if not connection.invalidated and connection.in_transaction():
        connection.rollback()


def _run(
    settings: Settings,
    *,
    action: str,
    plan: Callable[[Connection, str | None], tuple[list[str], str | None]],
    move: Callable[[Connection, str, runner.Progress], None],
    dry_run: bool,
    confirm: bool,
    lock_timeout_s: float,
    statement_timeout_s: float,
    wait: bool,
) -> ApplyResult:
    url = resolve_database_url(settings)
    require_confirmation(url, action=action, dry_run=dry_run, confirm=confirm)
    limits = _Limits(lock_timeout_s, statement_timeout_s)
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
                reason = _explain(exc, lock_timeout_s, statement_timeout_s)
                if not dry_run:
                    _audit(connection, action, None, None, "failed", reason, started)
                raise MigrationError(
                    f"{action} failed before reading the current revision: {reason}"
                ) from None
            revisions, target = plan(connection, current)
            result = ApplyResult(action, "noop", mask_url(url), current, current, revisions)
            if not revisions:
                return result
            segments = split_into_segments(
                runner.script_directory(project), revisions, target, upgrade=action == "apply"
            )
            if len(segments) == 1 and not segments[0].autocommit:
                _run_one_transaction(
                    connection, settings, result, target, move, limits, dry_run, started
                )
            else:
                _run_segments(
                    connection, settings, result, target, segments, move, limits, dry_run, started
                )
            result.duration_ms = (time.perf_counter() - started) * 1000
            return result
        finally:
            _roll_back(connection)
            release_migration_lock(connection)


def _fail(
    connection: Connection,
    settings: Settings,
    result: ApplyResult,
    target: str | None,
    exc: BaseException,
    progress: runner.Progress,
    limits: _Limits,
    dry_run: bool,
    started: float,
    *,
    reached: str | None = None,
) -> MigrationError:
    """Roll back, audit (real runs only), and the one-line error naming the revision."""
    _roll_back(connection)
    where = progress.describe(settings.project)
    reason = _reason(exc, limits)
    if reached is None:
        message = f"{result.action} failed and was rolled back: {where}: {reason}"
    else:
        message = (
            f"{result.action} stopped at {where}: {reason}; the database is at revision "
            f"{reached} (the segments before it were committed)"
        )
    if not dry_run:
        try:
            _audit(
                connection, result.action, result.from_revision, target, "failed", message, started
            )
        except Exception as audit_exc:  # the failure itself is what the operator must see
            message += f"; the audit trail could not be written: {_reason(audit_exc, limits)}"
    return MigrationError(message)


def _run_one_transaction(
    connection: Connection,
    settings: Settings,
    result: ApplyResult,
    target: str | None,
    move: Callable[[Connection, str, runner.Progress], None],
    limits: _Limits,
    dry_run: bool,
    started: float,
) -> None:
    """The whole range in ONE transaction: it commits whole (or, dry, not at all)."""
    is_model = settings.project.is_model_object
    progress = runner.Progress()
    connection.begin()
    try:
        limits.set_local(connection)
        before = read_model_tables(connection, is_model=is_model)
        move(connection, target or "base", progress)
        result.to_revision = read_recorded_revision(connection)[1]
        result.changes = describe_changes(before, read_model_tables(connection, is_model=is_model))
    except BaseException as exc:  # KeyboardInterrupt too: never half a range
        error = _fail(connection, settings, result, target, exc, progress, limits, dry_run, started)
        if not isinstance(exc, Exception | KeyboardInterrupt):
            raise  # SystemExit (SIGTERM): rolled back and audited, now let it end the process
        raise error from exc
    if dry_run:
        connection.rollback()
        result.outcome = "dry-run"
    else:
        connection.commit()
        result.outcome = "applied"
        _audit(
            connection,
            result.action,
            result.from_revision,
            result.to_revision,
            "applied",
            None,
            started,
        )


def _run_segments(
    connection: Connection,
    settings: Settings,
    result: ApplyResult,
    target: str | None,
    segments: list[Segment],
    move: Callable[[Connection, str, runner.Progress], None],
    limits: _Limits,
    dry_run: bool,
    started: float,
) -> None:
    """Segments in order, each committed before the next; a failure stops at a revision."""
    project = settings.project
    if dry_run:
        raise _dry_run_refusal(project, result.action, segments)
    with connection.begin():
        before = read_model_tables(connection, is_model=project.is_model_object)
    for segment in segments:
        progress = runner.Progress()
        try:
            if segment.autocommit:
                # Alembic begins and commits around the block itself, so SET LOCAL has no
                # transaction to live in: the session carries the timeout for this segment.
                statement = postgres_interval(limits.statement_timeout_s)
                connection.execute(text(f"SET statement_timeout = '{statement}'"))
                connection.commit()
                move(connection, segment.destination, progress)
                connection.execute(text("RESET statement_timeout"))
                connection.commit()
            else:
                connection.begin()
                limits.set_local(connection)
                move(connection, segment.destination, progress)
                connection.commit()
        except BaseException as exc:  # KeyboardInterrupt too
            reached = _recorded_after_failure(connection, result.from_revision)
            error = _fail(
                connection,
                settings,
                result,
                target,
                exc,
                progress,
                limits,
                dry_run,
                started,
                reached=None if reached == result.from_revision else reached or "base",
            )
            if not isinstance(exc, Exception | KeyboardInterrupt):
                raise
            raise error from exc
    with connection.begin():
        result.to_revision = read_recorded_revision(connection)[1]
        after = read_model_tables(connection, is_model=project.is_model_object)
    result.changes = describe_changes(before, after)
    result.outcome = "applied"
    _audit(
        connection,
        result.action,
        result.from_revision,
        result.to_revision,
        "applied",
        f"{len(segments)} segments, each committed in turn",
        started,
    )


def _recorded_after_failure(connection: Connection, fallback: str | None) -> str | None:
    _roll_back(connection)
    try:
        with connection.begin():
            return read_recorded_revision(connection)[1]
    except Exception:  # a dead session: say what we knew before the segment began
        return fallback


def _dry_run_refusal(project: Project, action: str, segments: list[Segment]) -> MigrationError:
    scripts = runner.script_directory(project)
    index = next(i for i, segment in enumerate(segments) if segment.autocommit)
    script = scripts.get_revision(segments[index].revisions[0])
    flag = "--target" if action == "apply" else "--to"
    shorter = (
        f", or dry-run the range before it with {flag} {segments[index - 1].destination}"
        if index
        else ""
    )
    return MigrationError(
        f"a dry run cannot roll back {describe_script(script, project.root)}: it uses "
        "autocommit_block() (CREATE INDEX CONCURRENTLY and the like cannot run inside a "
        f"transaction), so this {action} commits in {len(segments)} segments; nothing was "
        f"changed. Read its SQL with `lumiku-ops migrate plan`{shorter}"
    )


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


def _audit(
    connection: Connection,
    action: str,
    source: str | None,
    target: str | None,
    outcome: str,
    detail: str | None,
    started: float,
) -> None:
    write_audit(
        connection,
        action=action,
        from_revision=source,
        to_revision=target,
        outcome=outcome,
        detail=detail,
        duration_ms=int((time.perf_counter() - started) * 1000),
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
    project = settings.project
    scripts = runner.script_directory(project)

    def plan(connection: Connection, current: str | None) -> tuple[list[str], str | None]:
        _require_known(scripts, current)
        upper = scripts.get_current_head() if target == "head" else target
        pending = [s.revision for s in scripts.iterate_revisions(upper, current)]
        return list(reversed(pending)), upper

    def move(connection: Connection, destination: str, progress: runner.Progress) -> None:
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
    project = settings.project
    scripts = runner.script_directory(project)

    def plan(connection: Connection, current: str | None) -> tuple[list[str], str | None]:
        _require_known(scripts, current)
        if current is None:
            return [], None
        script = scripts.get_revision(current)
        down = to if to is not None else (script.down_revision if script else None)
        destination = None if down in (None, "base") else str(down)
        undone = [s.revision for s in scripts.iterate_revisions(current, destination)]
        return undone, destination

    def move(connection: Connection, destination: str, progress: runner.Progress) -> None:
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
