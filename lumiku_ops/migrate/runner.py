"""Alembic driven in-process on lumiku-ops's own connection, never through ``env.py``.

Many real ``env.py`` files build their URL from the service's own settings object and
ignore anything handed in, so running them could migrate a database other than the one the
operator named. Alembic's commands are thin: an ``EnvironmentContext`` over the project's
``ScriptDirectory`` with a function that picks the revisions, then ``env.py``. Here the
same context is configured directly, on the connection lumiku-ops opened (or, offline, on
the PostgreSQL dialect), with the project's models and its non-model objects filter.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.runtime.environment import EnvironmentContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection, create_engine, pool

from lumiku_ops.errors import LumikuOpsError, MigrationError
from lumiku_ops.migrate.scripts import (
    alembic_config,
    innermost_file,
    new_config,
    script_directory,
    version_locations,
)
from lumiku_ops.migrate.segments import describe_script, uses_autocommit_block
from lumiku_ops.project import Project
from lumiku_ops.project_code import (
    project_code,
)

OFFLINE_URL = "postgresql+psycopg://"
RevisionPicker = Callable[[Any, Any], Iterable[Any]]


def _run(
    project: Project,
    picker: RevisionPicker,
    *,
    connection: Connection | None,
    output: io.StringIO | None = None,
    autogenerate: bool = False,
    per_revision: bool = False,
    on_version_apply: Callable[..., None] | None = None,
    memo: dict[str, Any] | None = None,
    **environment: Any,
) -> None:
    # A copy per call: revisions that read ``sqlalchemy.url`` get the database they run on.
    config = new_config(project)
    url = OFFLINE_URL if connection is None else connection.engine.url
    config.set_main_option(
        "sqlalchemy.url",
        (url if isinstance(url, str) else url.render_as_string(hide_password=False)).replace(
            "%", "%%"
        ),
    )
    scripts = script_directory(project)
    options: dict[str, Any] = {"transaction_per_migration": per_revision}
    if on_version_apply is not None:
        # Only configure() takes it: handed to EnvironmentContext it is silently dropped.
        options["on_version_apply"] = on_version_apply
    if autogenerate:
        # The same comparison as check and diagnose: the project's hooks and switches.
        from lumiku_ops.migrate.comparison import comparison_options

        options.update(target_metadata=project.metadata(), **comparison_options(project))
    with project_code(), EnvironmentContext(config, scripts, fn=picker, **environment) as context:
        if connection is None:
            context.configure(
                url=OFFLINE_URL,
                dialect_name="postgresql",
                literal_binds=True,
                output_buffer=output,
                **options,
            )
        else:
            context.configure(connection=connection, **options)
        if memo:
            # What the DDL runner remembers having created (see ``replay``).
            context.get_context().impl.memo.update(_thaw_memo(memo))
        try:
            with context.begin_transaction():
                context.run_migrations()
        except SystemExit as exc:  # a revision's sys.exit() must not end lumiku-ops with 0
            where = innermost_file(exc, version_locations(project) or [project.migrations_dir])
            raise MigrationError(
                f"revision file {where or 'in ' + str(project.migrations_dir)} called "
                f"sys.exit({exc.code!r}) while running"
            ) from None


@dataclass
class Progress:
    """The revision Alembic is running (the last one it was handed), to name it on failure."""

    running: Script | None = None

    def describe(self, project: Project) -> str:
        """``revision 0003 (migrations/versions/0003_x.py)``, or what ran before any."""
        if self.running is None:
            return "the range, before its first revision"
        return describe_script(self.running, project.root)


def _tracked(
    project: Project,
    picker: RevisionPicker,
    progress: Progress,
    *,
    in_transaction: bool,
    upgrading: bool,
) -> RevisionPicker:
    def pick(rev: Any, context: Any) -> Iterator[Any]:
        for step in picker(rev, context):
            script = getattr(step, "revision", None)
            progress.running = script
            if (
                in_transaction
                and isinstance(script, Script)
                and uses_autocommit_block(script, upgrade=upgrading)
            ):
                # Alembic would stop on an empty AssertionError: it cannot commit our transaction.
                raise MigrationError(
                    f"{describe_script(script, project.root)} uses autocommit_block(), which "
                    "cannot run inside a transaction begun by the caller; run it on its own"
                )
            yield step

    return pick


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
    _run(
        project,
        _tracked(
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
    _run(
        project,
        _tracked(
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


def _freeze_memo(memo: dict[str, Any]) -> dict[str, Any] | None:
    """The DDL runner's memo as JSON (sets of (schema, name) pairs), or None if it holds
    anything else."""
    frozen: dict[str, Any] = {}
    for key, value in memo.items():
        if not isinstance(value, set) or not all(
            isinstance(item, tuple) and all(p is None or isinstance(p, str) for p in item)
            for item in value
        ):
            return None
        frozen[key] = sorted([list(item) for item in value], key=repr)
    return frozen


def _thaw_memo(frozen: dict[str, Any]) -> dict[str, Any]:
    return {key: {tuple(item) for item in items} for key, items in frozen.items()}


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
        applied(step.up_revision_id, _freeze_memo(ctx.impl.memo))

    lay_baseline(project, connection)
    _run(
        project,
        _tracked(project, pick, progress or Progress(), in_transaction=False, upgrading=True),
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
        _run(
            project,
            _tracked(project, picker, progress, in_transaction=False, upgrading=not downgrade),
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


def autogenerate_revision(
    project: Project,
    connection: Connection,
    *,
    message: str,
    rev_id: str,
    process_revision_directives: Callable[..., None] | None = None,
) -> list[Script]:
    """Compare the project's models with ``connection`` and write the revision file.

    ``connection`` must hold the database at the current head (a shadow database).
    """
    from alembic.autogenerate import RevisionContext

    config = alembic_config(project)
    scripts = script_directory(project)
    revision_context = RevisionContext(
        config,
        scripts,
        {
            "message": message,
            "autogenerate": True,
            "sql": False,
            "head": "head",
            "splice": False,
            "branch_label": None,
            "version_path": None,
            "rev_id": rev_id,
            "depends_on": None,
        },
        process_revision_directives=process_revision_directives,
    )

    def retrieve(rev: Any, context: Any) -> list[Any]:
        revision_context.run_autogenerate(rev, context)
        return []

    _run(
        project,
        retrieve,
        connection=connection,
        autogenerate=True,
        template_args=revision_context.template_args,
        revision_context=revision_context,
    )
    _fall_back_to_generic_template(scripts)
    return [script for script in revision_context.generate_scripts() if script is not None]


def _fall_back_to_generic_template(scripts: ScriptDirectory) -> None:
    """Write with Alembic's generic ``script.py.mako`` when the history ships none.

    An installed package's migrations may come without their template (mlflow-skinny's
    do); ``alembic revision`` would fail there, and the generic one writes the same shape.
    """
    own = Path(scripts.dir, "script.py.mako")
    if own.is_file():
        return
    import alembic

    generic = Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako"
    write = scripts._generate_template

    def generate(src: Path, dest: Path, **kw: Any) -> None:
        write(generic if Path(src) == own else src, dest, **kw)

    scripts._generate_template = generate  # type: ignore[method-assign]


def upgrade_database(url: str, project: Project, target: str = "heads") -> None:
    """Upgrade the database at ``url`` to ``target`` as ``alembic upgrade`` does."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            upgrade(project, connection, target)
            connection.commit()
    finally:
        engine.dispose()
