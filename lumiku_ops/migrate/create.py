"""``migrate create``: autogenerate the missing revision from the models, on a shadow database.

The comparison runs against a shadow database replayed from the existing revisions, never
against the target, so the new revision holds exactly what the models add to the history
(and nothing from whatever state a real database drifted into). It is Alembic's own
autogenerate, with the project's comparison hooks and switches, made safe by default: no
drop, rename or narrowing type change is written unless asked for (those are listed as
"only in the revisions"), and every constraint it adds has a name, so ``downgrade()`` runs.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.operations.ops import MigrationScript
from sqlalchemy import MetaData

from lumiku_ops.db.catalog import TableCatalog
from lumiku_ops.db.compare import constraint_shape, index_shape, shape_differences
from lumiku_ops.db.scratch import scratch_server_url, shadow_database
from lumiku_ops.errors import MigrationError, NothingToCreateError
from lumiku_ops.history import history_for
from lumiku_ops.migrate import runner
from lumiku_ops.migrate.autogenerate import autogenerate_revision
from lumiku_ops.migrate.differences import (
    Difference,
    describe_change,
    tables_of,
    without_refused,
)
from lumiku_ops.migrate.operations import (
    create_enum_types,
    enum_exists,
    leave_out_destructive,
    leave_out_refused,
    not_null_without_default,
)
from lumiku_ops.migrate.revisions import next_revision_id
from lumiku_ops.migrate.runner import offline_sql
from lumiku_ops.migrate.scripts import script_directory
from lumiku_ops.project import Project
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
    # Drops, renames and narrowing type changes left out (without --allow-destructive).
    only_in_revisions: list[str] = field(default_factory=list)
    # Written as Alembic wrote them, but to review: they can fail on a database with rows.
    warnings: list[str] = field(default_factory=list)

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
            "only_in_revisions": self.only_in_revisions,
            "warnings": self.warnings,
            "python_source": self.python_source,
            "sql": self.sql,
        }


def build_checklist(
    models: TableCatalog, migrated: TableCatalog, uncaptured: list[Difference] | None = None
) -> list[dict[str, Any]]:
    """One row per model table: does the replayed history give it every column, index, key?

    Indexes and keys count by definition, not by name. ``uncaptured`` (Alembic's
    differences between the models and the new head) decides ``ok``; without it, the
    catalogs do.
    """
    missing = set(tables_of(uncaptured)) if uncaptured is not None else None
    rows = []
    for table in sorted(models):
        want, have = models[table], migrated.get(table)
        columns = {c["name"] for c in want["columns"]}
        present_columns = {c["name"] for c in have["columns"]} if have else set()
        indexes = {index_shape(d) for d in have["indexes"].values()} if have else set()
        keys = {constraint_shape(d) for d in have["constraints"].values()} if have else set()
        if missing is not None:
            ok = have is not None and table not in missing
        else:
            ok = have is not None and not shape_differences({table: want}, migrated, [table])
        rows.append(
            {
                "table": table,
                "exists": have is not None,
                "columns": f"{len(columns & present_columns)}/{len(columns)}",
                "indexes": {n: index_shape(d) in indexes for n, d in want["indexes"].items()},
                "constraints": {
                    n: constraint_shape(d) in keys for n, d in want["constraints"].items()
                },
                "ok": ok,
            }
        )
    return rows


def _refuse_models_missing_tables(
    project: Project, metadata: MetaData, head: list[Difference], allow_destructive: bool
) -> None:
    """An empty MetaData, or one that lacks tables the revisions create, is almost always a
    models module that does not import every model: autogenerate would drop real tables."""
    asks = "does that module import every model?"
    if not any(project.is_model_object(name) for name in metadata.tables):
        raise MigrationError(f"the models ({project.metadata_ref}) define no tables; {asks}")
    gone = [d.table for d in head if d.kind == "remove_table"]
    if gone and not allow_destructive:
        raise MigrationError(
            f"the models ({project.metadata_ref}) lack tables the revisions create "
            f"({', '.join(gone)}); {asks} (--allow-destructive writes the drop)"
        )


def create_migration(
    settings: Settings,
    message: str | None = None,
    *,
    cache_dir: Path | None = None,
    allow_destructive: bool = False,
) -> MigrationCreated:
    """Autogenerate a revision for what the models hold and the revisions lack.

    Args:
        settings: the project, and where the shadow database goes.
        message: the revision's message (default: what changes, e.g. ``add_note_to_orders``).
        cache_dir: where shadow replays are cached.
        allow_destructive: also write drops, renames and narrowing type changes; without
            it they are listed as ``only_in_revisions`` and left out of the file.

    Raises:
        NothingToCreateError: the models and the revisions already agree.
        MigrationError: the message is unusable, the history has several heads, or the
            models define no tables or lack tables the revisions create.
    """
    return history_for(settings, cache_dir=cache_dir).create(
        message, allow_destructive=allow_destructive
    )


def create_alembic(
    settings: Settings,
    message: str | None = None,
    *,
    cache_dir: Path | None = None,
    allow_destructive: bool = False,
) -> MigrationCreated:
    """``create_migration`` for an Alembic history: Alembic's autogenerate, made safe."""
    if message and not _MESSAGE.match(message):
        raise MigrationError(
            "--message must be 1-60 letters, digits, spaces, '_' or '-' (e.g. add_note_to_orders)"
        )
    project = settings.project
    scripts = script_directory(project)
    heads = scripts.get_heads()
    if len(heads) > 1:
        raise MigrationError(
            f"the history has {len(heads)} heads ({', '.join(sorted(heads))}); "
            "merge them first: alembic merge heads -m merge"
        )
    cache = cache_dir or settings.cache_dir
    shadow_url = scratch_server_url(settings)
    history = history_for(settings, cache_dir=cache)
    # Replaying first turns a revision that cannot run on the shadow into one clear error.
    _ = history.replay
    models = history.models
    refused = [r if isinstance(r, dict) else r.to_dict() for r in getattr(models, "refused", [])]
    head = history.head_differences
    _refuse_models_missing_tables(project, project.metadata(), head, allow_destructive)
    message = message or describe_change(head)
    revision_id = next_revision_id(scripts)
    skipped: list[str] = []
    warnings: list[str] = []
    empty: list[bool] = []

    def keep_only_safe_changes(
        context: Any, revision: Any, directives: list[MigrationScript]
    ) -> None:
        script = directives[0] if directives else None
        if script is None or script.upgrade_ops is None:
            return
        # What PostgreSQL refuses first: the drop that pairs with a refused create (mlflow's
        # index on no column) is a plain drop then, not a "change" by drop and re-create.
        warnings.extend(leave_out_refused(script.upgrade_ops, refused))
        leave_out_destructive(script.upgrade_ops, allow_destructive, skipped)
        if script.upgrade_ops.is_empty():
            empty.append(True)
            directives[:] = []  # write no file
            return
        create_enum_types(script.upgrade_ops, enum_exists(context.connection), set())
        warnings.extend(not_null_without_default(script.upgrade_ops))
        script.downgrade_ops = script.upgrade_ops.reverse()

    with shadow_database(shadow_url) as connection:
        # Alembic begins and commits, around autocommit_block() revisions too.
        runner.upgrade(project, connection, "heads")
        # Alembic's post-write hooks print progress straight to stdout; keep --json clean.
        with connection.begin(), contextlib.redirect_stdout(io.StringIO()):
            written = autogenerate_revision(
                project,
                connection,
                message=message,
                rev_id=revision_id,
                process_revision_directives=keep_only_safe_changes,
            )
    if empty:
        left_out = (
            f" (left out, being destructive: {'; '.join(skipped)}; pass --allow-destructive "
            "to write them)"
            if skipped
            else ""
        )
        # Only refusals are in the warnings yet: the others are computed for a written file.
        refusals = "".join(f"; {line}" for line in warnings)
        accepted = " that PostgreSQL accepts" if warnings else ""
        raise NothingToCreateError(
            f"nothing to create: every table, column, index and key of the models{accepted} "
            f"is already created by a revision{left_out}{refusals}"
        )
    paths = [Path(script.path) for script in written]
    try:
        return _created(settings, revision_id, message, skipped, cache, warnings)
    except BaseException:
        for path in paths:  # a failed create leaves no file behind
            path.unlink(missing_ok=True)
        raise


def _created(
    settings: Settings,
    revision_id: str,
    message: str,
    skipped: list[str],
    cache: Path,
    warnings: list[str],
) -> MigrationCreated:
    project = settings.project
    script = script_directory(project).get_revision(revision_id)
    if script is None:
        raise MigrationError(f"revision {revision_id} was generated but cannot be read back")
    down = script.down_revision if isinstance(script.down_revision, str) else None
    path = Path(script.path)
    history = history_for(settings, cache_dir=cache)  # a new one: the history has a new file
    replay, models = history.replay, history.models
    # What PostgreSQL refuses no revision can create: left out, and said so in the warnings.
    refused = [r if isinstance(r, dict) else r.to_dict() for r in getattr(models, "refused", [])]
    uncaptured = without_refused(history.uncaptured, refused)
    checklist = build_checklist(models, replay.head_catalog, uncaptured)
    for row in checklist:
        row["warnings"] = [w for w in warnings if w.startswith(f"column `{row['table']}.")]
    return MigrationCreated(
        revision=revision_id,
        down_revision=down,
        message=message,
        path=path,
        python_source=path.read_text(),
        sql=offline_sql(project, f"{down}:{revision_id}" if down else revision_id),
        checklist=checklist,
        only_in_revisions=skipped,
        warnings=warnings,
    )
