"""Running revisions: upgrade, downgrade, replay a history, or print its offline SQL.

Every run goes through ``migration_context`` (Alembic configured on lumiku-ops's own
connection, never through the project's ``env.py``) and records which revision is running
in a ``progress.Progress``, so a failure names it. Writing a new revision is
``autogenerate``.

Callers reach ``upgrade`` and ``replay`` through this module's attributes
(``runner.upgrade(...)``), and tests replace them there to watch or forbid a run: keep
them here, and call them through the module.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, create_engine, pool

from lumiku_ops.errors import LumikuOpsError, MigrationError
from lumiku_ops.migrate.migration_context import RevisionPicker, freeze_memo, run_in_context
from lumiku_ops.migrate.progress import Progress, tracked
from lumiku_ops.migrate.scripts import script_directory
from lumiku_ops.project import Project


def upgrade(
    project: Project,
    connection: Connection,
    target: str = "heads",
    *,
    progress: Progress | None = None,
) -> None:
    """Run the revisions up to ``target`` on ``connection``.

    Inside a transaction the caller began, the whole range runs in it (a revision with an
    ``autocommit_block()`` is refused). Outside one, Alembic begins and commits, as
    ``alembic upgrade`` does, committing around each autocommit block.
    """
    scripts = script_directory(project)
    lay_baseline(project, connection)
    run_in_context(
        project,
        tracked(
            project,
            lambda rev, _: scripts._upgrade_revs(target, rev),
            progress or Progress(),
            in_transaction=connection.in_transaction(),
            upgrading=True,
        ),
        connection=connection,
        destination_rev=target,
    )


def downgrade(
    project: Project,
    connection: Connection,
    target: str,
    *,
    progress: Progress | None = None,
) -> None:
    """Undo revisions down to ``target`` (``base`` for all) on ``connection``, like upgrade."""
    scripts = script_directory(project)
    run_in_context(
        project,
        tracked(
            project,
            lambda rev, _: scripts._downgrade_revs(target, rev),
            progress or Progress(),
            in_transaction=connection.in_transaction(),
            upgrading=False,
        ),
        connection=connection,
        destination_rev=target,
    )


def _at_no_revision(connection: Connection) -> bool:
    from sqlalchemy import inspect, text

    if not inspect(connection).has_table("alembic_version"):
        return True
    return not connection.execute(text("SELECT 1 FROM alembic_version LIMIT 1")).first()


def lay_baseline(project: Project, connection: Connection) -> bool:
    """Run the project's ``baseline`` on a database at no revision; True if it ran.

    A history that starts after a ``create_all`` (MLflow's does) cannot run its first
    revision on an empty database: the baseline is what the project's own code creates
    before ``alembic upgrade``. In the caller's transaction if one is open, else in one of
    its own, committed.
    """
    baseline = project.baseline()
    if baseline is None:
        return False
    if connection.in_transaction():
        if not _at_no_revision(connection):
            return False
        baseline(connection)
        return True
    with connection.begin():
        if not _at_no_revision(connection):
            return False
        baseline(connection)
    return True


def replay(
    project: Project,
    connection: Connection,
    revisions: list[str],
    *,
    applied: Callable[[str, dict[str, Any] | None], None],
    memo: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> None:
    """Run ``revisions``, in this order, in ONE migration context, as ``alembic upgrade``
    does, calling ``applied(revision, memo)`` after each, in that revision's transaction.

    One context matters: Alembic's ``op.create_table`` creates a table's named types (a
    PostgreSQL ``ENUM``) through SQLAlchemy's create events with ``checkfirst=False`` and
    the migration context's DDL runner, whose ``memo`` remembers the types it created; a
    later revision whose ``create_table`` uses a type of the same name (optuna re-declares
    ``studydirection``, dstack ``backendtype``) relies on that memory. A context per
    revision starts with an empty memo and runs ``CREATE TYPE`` twice. ``memo`` is that
    memory as ``applied`` last received it (JSON-ready, or None when it cannot be kept),
    so a replay resumed from a database at some revision continues as the whole run would.

    Each revision runs in a transaction of its own (Alembic's ``transaction_per_migration``),
    so ``autocommit_block()`` revisions commit around their block; ``connection`` must have
    no transaction open. The project's ``baseline`` runs first on a database at no revision.
    """
    scripts = script_directory(project)
    wanted = list(revisions)
    # The heads after each revision, from Alembic's callback: the next one starts there.
    reached: list[tuple[str, ...]] = []

    def pick(rev: Any, _context: Any) -> Iterator[Any]:
        for revision in wanted:
            current = reached[-1] if reached else rev
            yield from scripts._upgrade_revs(revision, current)  # type: ignore[arg-type]

    def on_version_apply(*, ctx: Any, step: Any, heads: set[str], run_args: Any) -> None:
        reached.append(tuple(sorted(heads)))
        applied(step.up_revision_id, freeze_memo(ctx.impl.memo))

    lay_baseline(project, connection)
    run_in_context(
        project,
        tracked(project, pick, progress or Progress(), in_transaction=False, upgrading=True),
        connection=connection,
        per_revision=True,
        on_version_apply=on_version_apply,
        memo=memo,
        destination_rev=wanted[-1] if wanted else None,
    )


def offline_sql(project: Project, revision_range: str, *, downgrade: bool = False) -> str:
    """The SQL for ``revision_range`` (``from:to`` or ``to``), as Alembic's ``--sql`` prints it.

    Raises:
        MigrationError: a revision fails without a database (it reads rows, say); the
            message names it and points at ``--dry-run``.
    """
    scripts = script_directory(project)
    start, _, end = revision_range.rpartition(":")
    buffer = io.StringIO()
    if downgrade:
        picker: RevisionPicker = lambda rev, _: scripts._downgrade_revs(end, rev)  # noqa: E731
    else:
        picker = lambda rev, _: scripts._upgrade_revs(end, rev)  # noqa: E731
    progress = Progress()
    try:
        run_in_context(
            project,
            tracked(project, picker, progress, in_transaction=False, upgrading=not downgrade),
            connection=None,
            output=buffer,
            as_sql=True,
            starting_rev=start or None,
            destination_rev=end,
        )
    except LumikuOpsError:
        raise
    except Exception as exc:  # user-written revision code, run without a database
        if progress.running is None:
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        raise MigrationError(
            f"{progress.describe(project)} cannot be planned offline: "
            f"{type(exc).__name__}: {first}. It probably reads the database "
            "(op.get_bind()), which an offline plan has not got; see what it would do "
            "with `lumiku-ops migrate apply --dry-run`"
        ) from exc
    return buffer.getvalue()


def upgrade_database(url: str, project: Project, target: str = "heads") -> None:
    """Upgrade the database at ``url`` to ``target`` as ``alembic upgrade`` does."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            upgrade(project, connection, target)
            connection.commit()
    finally:
        engine.dispose()
