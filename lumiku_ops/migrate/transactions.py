"""Running a planned range on the locked connection: in one transaction, or in segments.

Whatever goes wrong (a database error, a Python error in a data step, Ctrl-C), the open
transaction is rolled back here, before the caller releases the lock, the failure is
audited (real runs only), and the error names the revision that was running and its file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from lumiku_ops.db.catalog import TableCatalog, read_model_tables
from lumiku_ops.db.reader import read_recorded_revision
from lumiku_ops.durations import postgres_interval
from lumiku_ops.errors import MigrationError, database_reason, sqlstate
from lumiku_ops.migrate.audit import write_audit
from lumiku_ops.migrate.progress import Progress
from lumiku_ops.migrate.scripts import script_directory
from lumiku_ops.migrate.segments import Segment, describe_script
from lumiku_ops.settings import Settings

if TYPE_CHECKING:
    from lumiku_ops.migrate.apply import ApplyResult

# Moves the database to a destination revision ("base" for none), reporting progress.
Move = Callable[[Connection, str, Progress], None]


def explain(exc: DBAPIError, lock_timeout_s: float, statement_timeout_s: float) -> str:
    """What a database error means for the operator (timeouts name their flag)."""
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


def roll_back(connection: Connection) -> None:
    """Roll back whatever is open (before the audit or the lock release can commit it)."""
    if not connection.invalidated and connection.in_transaction():
        connection.rollback()


def audit(
    connection: Connection,
    action: str,
    source: str | None,
    target: str | None,
    outcome: str,
    detail: str | None,
    started: float,
) -> None:
    """One audit row, timed from ``started``."""
    write_audit(
        connection,
        action=action,
        from_revision=source,
        to_revision=target,
        outcome=outcome,
        detail=detail,
        duration_ms=int((time.perf_counter() - started) * 1000),
    )


@dataclass
class RangeRun:
    """One apply or rollback of a planned range, on a connection holding the lock."""

    connection: Connection
    settings: Settings
    result: ApplyResult
    target: str | None
    move: Move
    lock_timeout_s: float
    statement_timeout_s: float
    dry_run: bool
    started: float

    def run(self, segments: list[Segment]) -> None:
        """The range, ONE transaction when it can be; fills in ``result``."""
        if len(segments) == 1 and not segments[0].autocommit:
            self._in_one_transaction()
        elif self.dry_run:
            raise self._dry_run_refusal(segments)
        else:
            self._in_segments(segments)

    def _catalog(self) -> TableCatalog:
        return read_model_tables(self.connection, is_model=self.settings.project.is_model_object)

    def _set_local_timeouts(self) -> None:
        lock = postgres_interval(self.lock_timeout_s)
        self.connection.execute(text(f"SET LOCAL lock_timeout = '{lock}'"))
        statement = postgres_interval(self.statement_timeout_s)
        self.connection.execute(text(f"SET LOCAL statement_timeout = '{statement}'"))

    def _in_one_transaction(self) -> None:
        connection, result = self.connection, self.result
        progress = Progress()
        connection.begin()
        try:
            self._set_local_timeouts()
            before = self._catalog()
            self.move(connection, self.target or "base", progress)
            result.to_revision = read_recorded_revision(connection)[1]
            result.changes = describe_changes(before, self._catalog())
        except BaseException as exc:  # KeyboardInterrupt too: never half a range
            self._fail(exc, progress)
        if self.dry_run:
            connection.rollback()
            result.outcome = "dry-run"
            return
        connection.commit()
        result.outcome = "applied"
        self._audit(result.to_revision, "applied", None)

    def _in_segments(self, segments: list[Segment]) -> None:
        connection, result = self.connection, self.result
        with connection.begin():
            before = self._catalog()
        for segment in segments:
            progress = Progress()
            try:
                if segment.autocommit:
                    # Alembic begins and commits around the block itself, so SET LOCAL has no
                    # transaction to live in: the session carries the timeout meanwhile.
                    statement = postgres_interval(self.statement_timeout_s)
                    connection.execute(text(f"SET statement_timeout = '{statement}'"))
                    connection.commit()
                    self.move(connection, segment.destination, progress)
                    connection.execute(text("RESET statement_timeout"))
                    connection.commit()
                else:
                    connection.begin()
                    self._set_local_timeouts()
                    self.move(connection, segment.destination, progress)
                    connection.commit()
            except BaseException as exc:  # KeyboardInterrupt too
                reached = self._recorded_after_failure()
                self._fail(
                    exc,
                    progress,
                    reached=None if reached == result.from_revision else reached or "base",
                )
        with connection.begin():
            result.to_revision = read_recorded_revision(connection)[1]
            result.changes = describe_changes(before, self._catalog())
        result.outcome = "applied"
        self._audit(
            result.to_revision, "applied", f"{len(segments)} segments, each committed in turn"
        )

    def _recorded_after_failure(self) -> str | None:
        roll_back(self.connection)
        try:
            with self.connection.begin():
                return read_recorded_revision(self.connection)[1]
        except Exception:  # a dead session: say where the range began
            return self.result.from_revision

    def _reason(self, exc: BaseException) -> str:
        if isinstance(exc, DBAPIError):
            return explain(exc, self.lock_timeout_s, self.statement_timeout_s)
        lines = str(exc).strip().splitlines()
        if lines:
            return f"{type(exc).__name__}: {lines[0]}"
        return f"{type(exc).__name__} (no message; --traceback shows where it was raised)"

    def _audit(self, target: str | None, outcome: str, detail: str | None) -> None:
        audit(
            self.connection,
            self.result.action,
            self.result.from_revision,
            target,
            outcome,
            detail,
            self.started,
        )

    def _fail(
        self, exc: BaseException, progress: Progress, *, reached: str | None = None
    ) -> NoReturn:
        """Roll back, audit (real runs), and raise the one-line error naming the revision."""
        roll_back(self.connection)
        action = self.result.action
        where = progress.describe(self.settings.project)
        if reached is None:
            message = f"{action} failed and was rolled back: {where}: {self._reason(exc)}"
        else:
            message = (
                f"{action} stopped at {where}: {self._reason(exc)}; the database is at "
                f"revision {reached} (the segments before it were committed)"
            )
        if not self.dry_run:
            try:
                self._audit(self.target, "failed", message)
            except Exception as audit_exc:  # the failure itself is what the operator needs
                message += f"; the audit trail could not be written: {self._reason(audit_exc)}"
        if not isinstance(exc, Exception | KeyboardInterrupt):
            raise exc  # SystemExit (SIGTERM): rolled back and audited; let it end the process
        raise MigrationError(message) from exc

    def _dry_run_refusal(self, segments: list[Segment]) -> MigrationError:
        project, action = self.settings.project, self.result.action
        index = next(i for i, segment in enumerate(segments) if segment.autocommit)
        script = script_directory(project).get_revision(segments[index].revisions[0])
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


def describe_changes(before: TableCatalog, after: TableCatalog) -> list[str]:
    """Human lines for what changed between two catalogs."""
    lines = [f"created table {name}" for name in sorted(set(after) - set(before))]
    lines += [f"dropped table {name}" for name in sorted(set(before) - set(after))]
    lines += [
        f"altered table {name}"
        for name in sorted(set(before) & set(after))
        if before[name] != after[name]
    ]
    return lines
