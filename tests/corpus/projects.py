"""The corpus: real projects installed from PyPI, and how each runs its own migrations.

Each entry names a folder under ``tests/projects/`` (reached by lumiku-ops only through
``--project``), the revision a test removes (the history's newest column- or table-adding
one) with exactly the objects it adds, and how the project itself brings a database to a
revision: Alembic's ``command.upgrade`` through the package's own ``env.py``, after the
baseline the package creates outside Alembic, if any. ``bench/real_projects.py`` uses the
same table.
"""

from __future__ import annotations

import importlib
import io
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData

from tests.utils.db import connection_to

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECTS = REPO_ROOT / "tests" / "projects"
# The models whose env.py imports alembic_postgresql_enum (see alembic_differences).
_ENUM_PLUGIN_METADATA: set[int] = set()


def _mlflow_baseline(connection: Connection) -> None:
    # MLflow's history starts after its first schema: mlflow.store.db.utils creates the
    # tables of initial_models with create_all, then runs `alembic upgrade head`.
    from mlflow.store.db.utils import InitialBase

    InitialBase.metadata.create_all(connection)


def _resource(reference: str) -> Path:
    package, _, inner = reference.partition(":")
    return Path(list(importlib.import_module(package).__path__)[0]) / inner


@dataclass(frozen=True)
class RealProject:
    """One project of the corpus and the facts its tests check."""

    name: str
    migrations: str  # "package.module:folder", as the project's alembic.ini names it
    removed: str  # the newest revision that adds a column or a table
    removed_tables: tuple[str, ...]  # the tables it creates
    removed_columns: tuple[str, ...]  # "table.column" it adds to existing tables
    drift: str  # a statement that adds a column by hand
    drift_table: str
    package_ini: str  # "package.module:alembic.ini", the ini the package itself uses
    baseline: Callable[[Connection], None] | None = None
    # Alembic plugins the package's env.py imports: they change what `alembic check` reports.
    plugins: tuple[str, ...] = ()
    # What the package's models declare and PostgreSQL refuses to create, as (kind, table,
    # name) in the models catalog's terms: no revision creates it, no database holds it.
    refused: tuple[tuple[str, str, str | None], ...] = ()

    @property
    def folder(self) -> Path:
        return PROJECTS / self.name

    @property
    def affected(self) -> list[str]:
        return sorted({*self.removed_tables, *(c.split(".")[0] for c in self.removed_columns)})

    def migrations_dir(self) -> Path:
        return _resource(self.migrations)

    def ini(self) -> Path:
        return _resource(self.package_ini)

    def metadata(self) -> MetaData:
        """The models' MetaData, read the way the project's pyproject.toml names it."""
        import tomllib

        table = tomllib.loads((self.folder / "pyproject.toml").read_text())["tool"]["lumiku-ops"]
        module_name, _, attribute = table["metadata"].partition(":")
        import sys

        if str(self.folder) not in sys.path:
            sys.path.insert(0, str(self.folder))
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
        assert isinstance(target, MetaData)
        if "alembic_postgresql_enum" in self.plugins:
            _ENUM_PLUGIN_METADATA.add(id(target))
        return target


CORPUS = [
    RealProject(
        name="optuna",
        migrations="optuna.storages._rdb:alembic",
        package_ini="optuna.storages._rdb:alembic.ini",
        removed="v3.0.0.d",
        removed_tables=(),
        removed_columns=("trial_values.value_type",),
        drift="ALTER TABLE studies ADD COLUMN owner text",
        drift_table="studies",
    ),
    RealProject(
        name="mlflow",
        migrations="mlflow.store:db_migrations",
        package_ini="mlflow.store.db_migrations:alembic.ini",
        removed="8b6ad64cb8f5",
        removed_tables=("issue_categories",),
        removed_columns=(
            "issues.last_seen_timestamp",
            "issues.last_updated_by",
            "issues.metadata",
        ),
        drift="ALTER TABLE experiments ADD COLUMN owner text",
        drift_table="experiments",
        baseline=_mlflow_baseline,
        refused=(
            # A foreign key to inputs.input_uuid, which has no unique constraint.
            ("foreign_key", "input_tags", None),
            # Indexes on no column (CREATE INDEX ... ON trace_tags ()).
            ("index", "trace_request_metadata", "index_trace_request_metadata_request_id"),
            ("index", "trace_tags", "index_trace_tags_request_id"),
        ),
    ),
    RealProject(
        name="dstack",
        migrations="dstack._internal.server:migrations",
        package_ini="dstack._internal.server:alembic.ini",
        removed="652af7a3c9c9",
        removed_tables=(),
        removed_columns=("jobs.running_at",),
        drift="ALTER TABLE projects ADD COLUMN owner_note text",
        drift_table="projects",
        plugins=("alembic_postgresql_enum",),
    ),
]
BY_NAME = {project.name: project for project in CORPUS}


def alembic_config(
    project: RealProject, url: str, migrations: Path | None = None, connection: Any = None
) -> Config:
    """The Config the package's own code builds: its ini, its folder, its env.py, a database.

    The URL goes where optuna's env.py reads it (``sqlalchemy.url``); the connection where
    dstack's and MLflow's read one (``attributes["connection"]``).
    """
    config = Config(str(project.ini()), stdout=io.StringIO())
    config.set_main_option("script_location", str(migrations or project.migrations_dir()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    config.attributes["configure_logging"] = False  # dstack's env.py honours it
    return config


def upgrade(project: RealProject, url: str, to: str, migrations: Path | None = None) -> None:
    """Bring the database at ``url`` to revision ``to`` the project's way."""
    with connection_to(url) as connection:
        if project.baseline is not None:
            with connection.begin():
                if not connection.dialect.has_table(connection, "alembic_version"):
                    project.baseline(connection)
        command.upgrade(alembic_config(project, url, migrations, connection), to)
        connection.commit()


def script_directory(project: RealProject, migrations: Path | None = None) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(project, "postgresql://", migrations))


def alembic_differences(url: str, metadata: MetaData) -> list[Any]:
    """What ``alembic check`` finds: autogenerate's default comparison of models and database.

    The corpus's env.py files configure no hooks and leave ``compare_type`` and
    ``compare_server_default`` at Alembic's defaults; modules they import for their side
    effects (dstack's ``alembic_postgresql_enum``) are imported by the metadata's module.
    """
    with connection_to(url) as connection, _enum_plugin(id(metadata) in _ENUM_PLUGIN_METADATA):
        context = MigrationContext.configure(connection, opts={"target_metadata": metadata})
        return list(compare_metadata(context, metadata))


@contextmanager
def _enum_plugin(active: bool) -> Iterator[None]:
    """alembic_postgresql_enum, once imported (dstack's models import it), compares enums in
    every later comparison of the process; only the project whose env.py imports it has it."""
    import sys

    plugin = sys.modules.get("alembic_postgresql_enum.configuration")
    if plugin is None or active:
        yield
        return
    from dataclasses import replace

    kept = plugin.get_configuration()
    plugin.set_configuration(replace(kept, include_name=lambda _name: False))
    try:
        yield
    finally:
        plugin.set_configuration(kept)


def alembic_check(project: RealProject, url: str) -> list[Any]:
    """``alembic check`` itself, through the package's env.py; the differences it reports."""
    from alembic.util.exc import AutogenerateDiffsDetected

    with connection_to(url) as connection:
        try:
            command.check(alembic_config(project, url, connection=connection))
        except AutogenerateDiffsDetected as exc:
            return list(exc.diffs)
        finally:
            connection.rollback()
    return []


def copy_without(project: RealProject, target: Path) -> Path:
    """The project's migrations copied to ``target`` without the removed revision.

    The revision that followed it is re-linked to the removed one's parent, as a history
    written without the removed revision would have it.
    """
    shutil.copytree(project.migrations_dir(), target, ignore=shutil.ignore_patterns("__pycache__"))
    scripts = script_directory(project, target)
    removed = scripts.get_revision(project.removed)
    assert removed is not None and removed.path is not None
    parent = removed.down_revision
    for child_id in removed.nextrev:
        child = scripts.get_revision(child_id)
        assert child is not None and child.path is not None
        source = Path(child.path).read_text()
        pattern = re.compile(
            r"^(down_revision\s*(?::[^=]*)?=\s*)(['\"])" + re.escape(project.removed) + r"\2", re.M
        )
        assert pattern.search(source), f"{child.path}: no down_revision = {project.removed!r}"
        Path(child.path).write_text(
            pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{parent}{m.group(2)}", source)
        )
    Path(removed.path).unlink()
    return target


def differing_tables(diffs: list[Any]) -> list[str]:
    """The tables Alembic's differences touch, sorted."""
    tables: set[str] = set()
    for diff in diffs:
        first = diff[0] if isinstance(diff, list) else diff
        kind, target = first[0], first[1]
        if kind.startswith("modify_") or kind in ("add_column", "remove_column"):
            tables.add(first[2])  # (kind, schema, table, ...)
        elif kind.endswith("_table"):
            tables.add(target.name)
        elif "enum" in kind:  # alembic_postgresql_enum: the columns that use the type
            tables.update(
                ref.table_name
                for part in first
                for ref in _listed(part)
                if hasattr(ref, "table_name")
            )
        else:
            tables.add(target.table.name)
    return sorted(tables)


def _listed(part: Any) -> list[Any]:
    return list(part) if isinstance(part, (list, tuple)) else []


def added_objects(diffs: list[Any]) -> set[str]:
    """``table`` for each table and ``table.column`` for each column Alembic would add."""
    added: set[str] = set()
    for diff in diffs:
        if isinstance(diff, tuple) and diff[0] == "add_table":
            added.add(diff[1].name)
        elif isinstance(diff, tuple) and diff[0] == "add_column":
            added.add(f"{diff[2]}.{diff[3].name}")
    return added


def objects_of(diffs: list[Any]) -> set[tuple[str, str, str]]:
    """Each difference as (what, table, name), whichever side holds it: ``add_index`` and
    ``remove_index`` of one index are the same object, as are the modifications of one
    column's same attribute."""
    found: set[tuple[str, str, str]] = set()
    for diff in diffs:
        for entry in diff if isinstance(diff, list) else [diff]:
            kind = entry[0]
            what = kind.split("_", 1)[1]
            if kind.startswith("modify_") or kind in ("add_column", "remove_column"):
                column = entry[3] if isinstance(entry[3], str) else entry[3].name
                found.add((what, entry[2], column))
            elif what == "table":
                found.add((what, entry[1].name, ""))
            else:
                found.add((what, entry[1].table.name, str(entry[1].name)))
    return found


def refused_objects(project: RealProject) -> set[tuple[str, str, str]]:
    """``project.refused`` as ``objects_of`` names Alembic's differences."""
    what = {"foreign_key": "fk", "index": "index", "unique_constraint": "constraint"}
    return {(what[kind], table, str(name)) for kind, table, name in project.refused}


def catalog_differences(url: str, reference_url: str) -> list[Any]:
    """Alembic's comparison of one database against another's reflected catalog."""
    reference = MetaData()
    with connection_to(reference_url) as connection:
        reference.reflect(connection)
    reference.remove(reference.tables["alembic_version"])
    return alembic_differences(url, reference)
