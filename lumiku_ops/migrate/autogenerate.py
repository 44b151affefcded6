"""Writing a revision file: Alembic's autogenerate, on a shadow database at the head.

Apart from ``runner`` because it runs no revision: it compares the project's models with
a database the runner brought to the head, and writes what differs (``migrate create``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection

from lumiku_ops.migrate.migration_context import run_in_context
from lumiku_ops.migrate.scripts import alembic_config, script_directory
from lumiku_ops.project import Project


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

    run_in_context(
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
