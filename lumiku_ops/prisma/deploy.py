"""``migrate apply`` on a Prisma project: ``prisma migrate deploy``'s rows, with lumiku-ops's
guarantees.

The pending migrations run under the migration lock, with ``lock_timeout`` and
``statement_timeout``, in ONE transaction, each ``migration.sql`` as one batch, and each
gets its ``_prisma_migrations`` row exactly as ``prisma migrate deploy`` writes it. If one
fails, the whole range is rolled back (nothing half-applied), and the failed row Prisma
would have left is committed on its own, so Prisma's tools and ``diagnose`` both see
``MIGRATION_FAILED`` until it is resolved. A dry run does all of it and rolls back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection, create_engine, pool, text
from sqlalchemy.exc import DBAPIError, OperationalError

from lumiku_ops.db.catalog import read_model_tables
from lumiku_ops.db.connect import resolve_database_url
from lumiku_ops.durations import postgres_interval
from lumiku_ops.errors import (
    DatabaseUnreachableError,
    MigrationError,
    PrismaMigrationFailedError,
    database_reason,
)
from lumiku_ops.history import history_for
from lumiku_ops.history.prisma import PrismaHistory
from lumiku_ops.migrate.apply import ApplyResult
from lumiku_ops.migrate.confirm import require_confirmation
from lumiku_ops.migrate.lock import acquire_migration_lock, release_migration_lock
from lumiku_ops.migrate.transactions import audit, describe_changes, explain, roll_back
from lumiku_ops.prisma.migrations import PrismaMigration
from lumiku_ops.prisma.records import state
from lumiku_ops.prisma.rows import PRISMA_ADVISORY_LOCK_KEY, apply_migration, record_failure
from lumiku_ops.redaction import mask_url, url_secrets
from lumiku_ops.settings import Settings


def deploy(
    settings: Settings,
    *,
    target: str = "head",
    dry_run: bool = False,
    confirm: bool = False,
    lock_timeout_s: float,
    statement_timeout_s: float,
    wait: bool = False,
) -> ApplyResult:
    """Apply the pending Prisma migrations up to ``target`` (a migration name, or ``head``).

    Raises:
        ConfirmationRequiredError, MigrationLockedError, MigrationError,
        DatabaseUnreachableError: each with a message that says what to do.
    """
    url = resolve_database_url(settings)
    require_confirmation(url, action="apply", dry_run=dry_run, confirm=confirm)
    history = history_for(settings)
    if not isinstance(history, PrismaHistory):
        raise MigrationError('deploy is for Prisma projects (kind = "prisma")')
    migrations = history.migrations
    names = [m.name for m in migrations]
    if target not in ("head", "heads") and target not in names:
        raise MigrationError(f"no migration named {target} in {history.directory}")
    started = time.perf_counter()
    engine = create_engine(
        url,
        poolclass=pool.NullPool,
        connect_args={"connect_timeout": 5, "application_name": "lumiku-ops migrate apply"},
    )
    try:
        connection = engine.connect()
    except OperationalError as exc:
        raise DatabaseUnreachableError(
            f"cannot connect to {mask_url(url)}: {database_reason(exc, [url])}"
        ) from None
    with connection:
        acquire_migration_lock(connection, wait=wait)
        try:
            # Prisma's own lock too: a `prisma migrate deploy` running now is kept out.
            acquire_migration_lock(connection, wait=wait, key=PRISMA_ADVISORY_LOCK_KEY)
        except BaseException:
            release_migration_lock(connection)
            raise
        try:
            connection.execute(text(f"SET lock_timeout = '{postgres_interval(lock_timeout_s)}'"))
            connection.commit()
            with connection.begin():
                recorded = state(connection, migrations)
            _refuse_blocked(recorded.failed, recorded.missing_from_folder, history.directory)
            applied = [name for name in names if name in set(recorded.applied)]
            current = applied[-1] if applied else None
            upper = len(names) if target in ("head", "heads") else names.index(target) + 1
            pending = [m for m in migrations[:upper] if m.name in set(recorded.pending)]
            result = ApplyResult(
                "apply", "noop", mask_url(url), current, current, [m.name for m in pending]
            )
            if not pending:
                return result
            _run(
                connection,
                pending,
                result,
                url,
                dry_run,
                statement_timeout_s,
                lock_timeout_s,
                started,
                settings.project.is_model_object,
            )
            result.duration_ms = (time.perf_counter() - started) * 1000
            return result
        finally:
            roll_back(connection)
            release_migration_lock(connection, PRISMA_ADVISORY_LOCK_KEY)
            release_migration_lock(connection)


def _refuse_blocked(failed: list[str], unknown: list[str], folder: object) -> None:
    if failed:
        raise MigrationError(
            f"migration {failed[0]} failed on this database and blocks every later one "
            "(MIGRATION_FAILED); nothing was changed. Fix it, then run `npx prisma migrate "
            f"resolve --rolled-back {failed[0]}` and apply again"
        )
    if unknown:
        raise MigrationError(
            f"the database records migration {unknown[0]}, which {folder} does not have "
            "(REVISION_MISMATCH); nothing was changed. Point --project at the history that "
            "wrote it"
        )


def _run(
    connection: Connection,
    pending: list[PrismaMigration],
    result: ApplyResult,
    url: str,
    dry_run: bool,
    statement_timeout_s: float,
    lock_timeout_s: float,
    started: float,
    is_model: Callable[[str | None], bool],
) -> None:
    transaction = connection.begin()
    try:
        connection.execute(
            text(f"SET LOCAL statement_timeout = '{postgres_interval(statement_timeout_s)}'")
        )
        before = read_model_tables(connection, is_model=is_model)
        for migration in pending:
            apply_migration(connection, migration, secrets=url_secrets(url))
        result.changes = describe_changes(before, read_model_tables(connection, is_model=is_model))
        result.to_revision = pending[-1].name
    except PrismaMigrationFailedError as failure:
        transaction.rollback()
        if not dry_run:
            record_failure(connection, failure)
            audit(connection, "apply", result.from_revision, None, "failed", str(failure), started)
        raise MigrationError(
            f"{failure}; the whole range was rolled back"
            + (
                ""
                if dry_run
                else f" and {failure.migration_name} recorded as failed, as "
                "`prisma migrate deploy` records it"
            )
        ) from None
    except DBAPIError as exc:
        transaction.rollback()
        reason = explain(exc, lock_timeout_s, statement_timeout_s)
        if not dry_run:
            audit(connection, "apply", result.from_revision, None, "failed", reason, started)
        raise MigrationError(f"apply failed and was rolled back: {reason}") from None
    except BaseException as exc:
        transaction.rollback()
        if not dry_run:
            detail = type(exc).__name__
            audit(connection, "apply", result.from_revision, None, "failed", detail, started)
        raise
    if dry_run:
        transaction.rollback()
        result.outcome = "dry-run"
        return
    transaction.commit()
    result.outcome = "applied"
    audit(connection, "apply", result.from_revision, result.to_revision, "applied", None, started)
