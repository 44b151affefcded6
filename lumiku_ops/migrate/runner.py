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
from argparse import Namespace
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection, create_engine, pool

from lumiku_ops.errors import ConfigError
from lumiku_ops.project import Project, prepend_to_sys_path

OFFLINE_URL = "postgresql+psycopg://"
RevisionPicker = Callable[[Any, Any], Iterable[Any]]


@cache
def alembic_config(project: Project) -> Config:
    """The one Config for the project's migrations (built once per process and project).

    The project's ``alembic.ini`` supplies its own options (``file_template``,
    ``version_locations``, post-write hooks); ``script_location`` is always the project's
    resolved migrations folder, so the current directory never matters.
    """
    ini = str(project.alembic_ini) if project.alembic_ini else None
    # Alembic's progress messages would pollute --json output; results carry what matters.
    config = Config(ini, stdout=io.StringIO(), cmd_opts=Namespace(quiet=True, x=None))
    config.set_main_option("script_location", str(project.migrations_dir))
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


def script_directory(project: Project) -> ScriptDirectory:
    """Alembic's view of the project's migrations; a clear error when it is not one."""
    folder = project.migrations_dir
    config = alembic_config(project)
    if not folder.is_dir() or not (
        (folder / "versions").is_dir() or config.get_main_option("version_locations")
    ):
        raise ConfigError(
            f"{folder} is not an Alembic migrations folder (no versions/); check "
            f"script_location in {project.alembic_ini or 'alembic.ini'} or pass --migrations DIR"
        )
    prepend_to_sys_path(project.root)
    return ScriptDirectory.from_config(config)


def _run(
    project: Project,
    picker: RevisionPicker,
    *,
    connection: Connection | None,
    output: io.StringIO | None = None,
    autogenerate: bool = False,
    **environment: Any,
) -> None:
    config = alembic_config(project)
    scripts = script_directory(project)
    options: dict[str, Any] = {"transaction_per_migration": False}
    if autogenerate:
        # The same comparison as check and diagnose: the project's hooks and switches.
        from lumiku_ops.migrate.comparison import comparison_options

        options.update(target_metadata=project.metadata(), **comparison_options(project))
    with EnvironmentContext(config, scripts, fn=picker, **environment) as context:
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
        with context.begin_transaction():
            context.run_migrations()


def upgrade(project: Project, connection: Connection, target: str = "heads") -> None:
    """Run the revisions up to ``target`` on ``connection`` (the caller owns the transaction)."""
    scripts = script_directory(project)
    _run(
        project,
        lambda rev, _: scripts._upgrade_revs(target, rev),
        connection=connection,
        destination_rev=target,
    )


def downgrade(project: Project, connection: Connection, target: str) -> None:
    """Undo revisions down to ``target`` (``base`` for all) on ``connection``."""
    scripts = script_directory(project)
    _run(
        project,
        lambda rev, _: scripts._downgrade_revs(target, rev),
        connection=connection,
        destination_rev=target,
    )


def offline_sql(project: Project, revision_range: str, *, downgrade: bool = False) -> str:
    """The SQL for ``revision_range`` (``from:to`` or ``to``), as Alembic's ``--sql`` prints it."""
    scripts = script_directory(project)
    start, _, end = revision_range.rpartition(":")
    buffer = io.StringIO()
    if downgrade:
        picker: RevisionPicker = lambda rev, _: scripts._downgrade_revs(end, rev)  # noqa: E731
    else:
        picker = lambda rev, _: scripts._upgrade_revs(end, rev)  # noqa: E731
    _run(
        project,
        picker,
        connection=None,
        output=buffer,
        as_sql=True,
        starting_rev=start or None,
        destination_rev=end,
    )
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
    return [script for script in revision_context.generate_scripts() if script is not None]


def upgrade_database(url: str, project: Project, target: str = "heads") -> None:
    """Upgrade the database at ``url`` to ``target`` in one transaction."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            upgrade(project, connection, target)
    finally:
        engine.dispose()
