"""``migrate create``: autogenerate the missing revision from the models, on a shadow database.

The comparison runs against a shadow database replayed from the existing revisions, never
against the target, so the new revision holds exactly what the models add to the history
(and nothing from whatever state a real database drifted into).
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.operations.ops import MigrationScript

from lumiku_ops.db.catalog import TableCatalog
from lumiku_ops.db.compare import compare_table
from lumiku_ops.db.scratch import scratch_server_url, shadow_database
from lumiku_ops.errors import MigrationError, NothingToCreateError
from lumiku_ops.migrate import runner
from lumiku_ops.migrate.revisions import next_revision_id
from lumiku_ops.migrate.runner import offline_sql, script_directory
from lumiku_ops.migrate.shadow import replay_and_models
from lumiku_ops.settings import Settings

_MESSAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,59}$")


@dataclass
class MigrationCreated:
    """A new revision file, its SQL, and a checklist against the models."""

    revision: str
    down_revision: str | None
    message: str
    path: Path
    python_source: str
    sql: str
    checklist: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every table, index and key of the models exists after this revision."""
        return all(item["ok"] for item in self.checklist)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "revision": self.revision,
            "down_revision": self.down_revision,
            "message": self.message,
            "path": str(self.path),
            "complete": self.complete,
            "checklist": self.checklist,
            "python_source": self.python_source,
            "sql": self.sql,
        }


def build_checklist(models: TableCatalog, migrated: TableCatalog) -> list[dict[str, Any]]:
    """One row per model table: does the replayed history give it every column, index, key?"""
    rows = []
    for table in sorted(models):
        want, have = models[table], migrated.get(table)
        columns = {c["name"] for c in want["columns"]}
        present_columns = {c["name"] for c in have["columns"]} if have else set()
        indexes = {
            name: bool(have and have["indexes"].get(name) == d)
            for name, d in want["indexes"].items()
        }
        keys = {
            name: bool(have and have["constraints"].get(name) == d)
            for name, d in want["constraints"].items()
        }
        rows.append(
            {
                "table": table,
                "exists": have is not None,
                "columns": f"{len(columns & present_columns)}/{len(columns)}",
                "indexes": indexes,
                "constraints": keys,
                # By name, not position: ADD COLUMN appends, wherever the model declares it.
                "ok": have is not None and compare_table(table, want, have).is_clean,
            }
        )
    return rows


def create_migration(
    settings: Settings, message: str, *, cache_dir: Path | None = None
) -> MigrationCreated:
    """Autogenerate a revision for what the models hold and the revisions lack.

    Raises:
        NothingToCreateError: the models and the revisions already agree.
        MigrationError: the message is unusable or the history has several heads.
    """
    if not _MESSAGE.match(message):
        raise MigrationError(
            "--message must be 1-60 letters, digits, spaces, '_' or '-' "
            "(e.g. add_background_remover_models)"
        )
    project = settings.project
    scripts = script_directory(project)
    heads = scripts.get_heads()
    if len(heads) > 1:
        raise MigrationError(
            f"the history has {len(heads)} heads ({', '.join(sorted(heads))}); "
            "merge them first: alembic merge heads -m merge"
        )
    # Replaying first turns a revision that cannot run on the shadow into one clear error.
    replay, models = replay_and_models(settings, cache_dir=cache_dir)
    revision_id = next_revision_id(scripts)
    empty: list[bool] = []

    def keep_only_real_changes(
        context: Any, revision: Any, directives: list[MigrationScript]
    ) -> None:
        if (
            directives
            and directives[0].upgrade_ops is not None
            and directives[0].upgrade_ops.is_empty()
        ):
            empty.append(True)
            directives[:] = []  # write no file

    with shadow_database(scratch_server_url(settings)) as connection:
        runner.upgrade(
            project, connection, "heads"
        )  # Alembic commits, around autocommit blocks too
        # Alembic's post-write hooks print progress straight to stdout; keep --json clean.
        with connection.begin(), contextlib.redirect_stdout(io.StringIO()):
            runner.autogenerate_revision(
                project,
                connection,
                message=message,
                rev_id=revision_id,
                process_revision_directives=keep_only_real_changes,
            )
    if empty:
        raise NothingToCreateError(
            "nothing to create: every table, column, index and key of the models is already "
            "created by a revision"
        )
    script = script_directory(project).get_revision(revision_id)
    if script is None:
        raise MigrationError(f"revision {revision_id} was generated but cannot be read back")
    down = script.down_revision if isinstance(script.down_revision, str) else None
    path = Path(script.path)
    replay, models = replay_and_models(settings, cache_dir=cache_dir)
    return MigrationCreated(
        revision=revision_id,
        down_revision=down,
        message=message,
        path=path,
        python_source=path.read_text(),
        sql=offline_sql(project, f"{down}:{revision_id}" if down else revision_id),
        checklist=build_checklist(models, replay.head_catalog),
    )
