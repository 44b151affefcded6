"""Alembic's migration context, configured in-process on lumiku-ops's own connection.

Many real ``env.py`` files build their URL from the service's own settings object and
ignore anything handed in, so running them could migrate a database other than the one the
operator named. Alembic's commands are thin: an ``EnvironmentContext`` over the project's
``ScriptDirectory`` with a function that picks the revisions, then ``env.py``. Here the
same context is configured directly, on the connection lumiku-ops opened (or, offline, on
the PostgreSQL dialect), with the project's models and its non-model objects filter.

Its own module because both running revisions (``runner``) and writing one
(``autogenerate``) go through it; the DDL runner's memo is here too, being the context's
memory that a resumed replay has to hand back (see ``runner.replay``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from alembic.runtime.environment import EnvironmentContext
from sqlalchemy import Connection

from lumiku_ops.errors import MigrationError
from lumiku_ops.migrate.scripts import (
    innermost_file,
    new_config,
    script_directory,
    version_locations,
)
from lumiku_ops.project import Project
from lumiku_ops.project_code import project_code

OFFLINE_URL = "postgresql+psycopg://"
RevisionPicker = Callable[[Any, Any], Iterable[Any]]


def run_in_context(
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
    """Run what ``picker`` picks in a migration context on ``connection`` (None: offline,
    writing the SQL to ``output``), as ``env.py`` would, but never through it."""
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
            # What the DDL runner remembers having created (see ``runner.replay``).
            context.get_context().impl.memo.update(thaw_memo(memo))
        try:
            with context.begin_transaction():
                context.run_migrations()
        except SystemExit as exc:  # a revision's sys.exit() must not end lumiku-ops with 0
            where = innermost_file(exc, version_locations(project) or [project.migrations_dir])
            raise MigrationError(
                f"revision file {where or 'in ' + str(project.migrations_dir)} called "
                f"sys.exit({exc.code!r}) while running"
            ) from None


def freeze_memo(memo: dict[str, Any]) -> dict[str, Any] | None:
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


def thaw_memo(frozen: dict[str, Any]) -> dict[str, Any]:
    """The memo ``freeze_memo`` made JSON, as the DDL runner keeps it."""
    return {key: {tuple(item) for item in items} for key, items in frozen.items()}
