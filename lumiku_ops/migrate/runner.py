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
import shutil
import sys
import warnings
from argparse import Namespace
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection, create_engine, pool

from lumiku_ops.errors import ConfigError, LumikuOpsError, MigrationError
from lumiku_ops.migrate.segments import describe_script, uses_autocommit_block
from lumiku_ops.project import Project
from lumiku_ops.project_code import (
    describe_exit,
    prepend_to_sys_path,
    project_code,
    resolve_location,
)

OFFLINE_URL = "postgresql+psycopg://"
_histories: dict[Project, tuple[tuple[tuple[str, int, int], ...], ScriptDirectory]] = {}
RevisionPicker = Callable[[Any, Any], Iterable[Any]]


@cache
def alembic_config(project: Project) -> Config:
    """The one Config for the project's migrations (built once per process and project).

    The project's ``alembic.ini`` supplies its own options (``file_template``,
    ``version_locations``, post-write hooks); ``script_location`` is always the project's
    resolved migrations folder, so the current directory never matters. Revisions are run
    with a per-call copy (``_run``) that also carries the database's URL.
    """
    return _new_config(project)


def _new_config(project: Project) -> Config:
    ini = str(project.alembic_ini) if project.alembic_ini else None
    # Alembic's progress messages would pollute --json output; results carry what matters.
    # ``x`` is what ``alembic -x`` would pass, so context.get_x_argument() answers.
    options = Namespace(quiet=True, x=list(project.x_arguments) or None)
    config = Config(ini, stdout=io.StringIO(), cmd_opts=options)
    config.set_main_option("script_location", str(project.migrations_dir))
    _place_folders(project, config)
    if not config.get_main_option("file_template"):
        config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
        config.set_main_option("truncate_slug_length", "60")
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not config.get_section("post_write_hooks") and Path(ruff).exists():
        # Generated revisions come out formatted like the rest of the code base.
        config.set_section_option("post_write_hooks", "hooks", "ruff_format")
        config.set_section_option("post_write_hooks", "ruff_format.type", "exec")
        config.set_section_option("post_write_hooks", "ruff_format.executable", ruff)
        config.set_section_option(
            "post_write_hooks", "ruff_format.options", "format --quiet REVISION_SCRIPT_FILENAME"
        )
    return config


def version_locations(project: Project) -> list[Path]:
    """The revision folders: ``version_locations`` from ``[tool.lumiku-ops]``, else the ini's.

    Resolved as Alembic resolves them (``%(here)s``, ``package:path``), but a relative path
    is taken from the file that names it (the project root, or the ini's folder), never from
    the current directory.
    """
    if project.version_locations:
        base, entries = project.root, list(project.version_locations)
        where = f"{project.pyproject}: [tool.lumiku-ops] version_locations"
    elif project.alembic_ini is not None:
        base, where = project.alembic_ini.parent, f"{project.alembic_ini}: version_locations"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Alembic's note about path_separator
            entries = Config(str(project.alembic_ini)).get_version_locations_list() or []
    else:
        return []
    return [
        resolve_location(entry.replace("%(here)s", str(base)), base, where)
        for entry in entries
        if entry.strip()
    ]


def _place_folders(project: Project, config: Config) -> None:
    locations = version_locations(project)
    if config.get_main_option("prepend_sys_path"):
        # Alembic would resolve it from the current directory; the ini's folder is meant.
        base = project.alembic_ini.parent if project.alembic_ini else project.root
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            entries = config.get_prepend_sys_paths_list() or []
        for entry in reversed(entries):
            prepend_to_sys_path((base / entry.strip()).resolve())
        config.remove_main_option("prepend_sys_path")
    if locations:
        config.set_main_option("path_separator", "newline")
        config.set_main_option(
            "version_locations", "\n".join(str(p).replace("%", "%%") for p in locations)
        )


def script_directory(project: Project) -> ScriptDirectory:
    """Alembic's view of the project's migrations, every revision loaded.

    Raises:
        ConfigError: the folder is not an Alembic folder, the history holds no revision,
            or a revision file fails to import (the message names the file).
    """
    folder = project.migrations_dir
    config = alembic_config(project)
    locations = version_locations(project)
    if not folder.is_dir() or not ((folder / "versions").is_dir() or locations):
        raise ConfigError(
            f"{folder} is not an Alembic migrations folder (no versions/); check "
            f"script_location in {project.alembic_ini or 'alembic.ini'} or pass --migrations DIR"
        )
    prepend_to_sys_path(project.root)
    folders = locations or [folder / "versions"]
    # Loading imports every revision file: once per command, unless a file changed since.
    signature = _files_signature(folders)
    known = _histories.get(project)
    if known is not None and known[0] == signature:
        return known[1]
    scripts = ScriptDirectory.from_config(config)
    try:
        with project_code():
            heads = scripts.get_heads()  # loads (imports) every revision file
    except BaseException as exc:  # noqa: BLE001  (a revision module is the project's code)
        raise ConfigError(
            _revision_import_failure(exc, locations or [folder / "versions"])
        ) from None
    if not heads:
        searched = ", ".join(str(p) for p in (locations or [folder / "versions"]))
        raise ConfigError(
            f"the history is empty: no revision in {searched}. If env.py chooses the "
            "revision folders, list them as version_locations in [tool.lumiku-ops]; a new "
            "project's first revision comes from: alembic revision --autogenerate"
        )
    _histories[project] = (signature, scripts)
    return scripts


def _files_signature(folders: list[Path]) -> tuple[tuple[str, int, int], ...]:
    entries = []
    for folder in folders:
        for path in folder.rglob("*.py") if folder.is_dir() else ():
            stat = path.stat()
            entries.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(entries))


def _innermost_file(exc: BaseException, folders: list[Path]) -> str | None:
    """The innermost file of the traceback inside one of ``folders``: the revision."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if any(Path(name).resolve().is_relative_to(folder.resolve()) for folder in folders):
            found = name
        tb = tb.tb_next
    return found


def _revision_import_failure(exc: BaseException, folders: list[Path]) -> str:
    """One line naming the revision file that failed to load, and why."""
    from alembic.util import CommandError

    culprit = getattr(exc, "filename", None) if isinstance(exc, SyntaxError) else None
    culprit = culprit or _innermost_file(exc, folders)
    if isinstance(exc, CommandError) and culprit is None:
        return f"alembic: {exc}"
    where = f"revision file {culprit}" if culprit else f"a revision file in {folders[0]}"
    return f"{where} fails to load: {describe_exit(exc)}"


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
    config = _new_config(project)
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
            where = _innermost_file(exc, version_locations(project) or [project.migrations_dir])
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
