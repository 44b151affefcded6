"""The models' catalog is built whatever PostgreSQL refuses of the models.

Real models hold objects PostgreSQL refuses (MLflow's ``input_tags`` has a foreign key to a
column with no unique constraint) and revision modules attach objects to the models' tables
when imported (MLflow's attach second copies of two named check constraints). Neither may
stop a command: the refused object is left out and reported, the duplicate created once.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable

from lumiku_ops.db.catalog import read_model_tables
from lumiku_ops.db.models_ddl import Refusal, create_models, pristine
from lumiku_ops.history import forget
from lumiku_ops.migrate import models_catalog
from lumiku_ops.project import load_project
from tests.utils.postgres import PostgresServer

pytestmark = pytest.mark.db

MODELS = """
from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, MetaData, Table, Text

metadata = MetaData()
parents = Table(
    "parents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", Text),  # not unique: PostgreSQL refuses a foreign key to it
    CheckConstraint("id > 0", name="positive_id"),
)
children = Table(
    "children",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("parent_code", Text, ForeignKey("parents.code")),
    Column("name", Text, unique=True),
)
"""
# What a revision module does at import: a check constraint built from a model's column
# attaches itself to the model's table, a second one named as the models' own.
REVISION_MODULE = """
from sqlalchemy import CheckConstraint
from {package}.models import parents

kept_by_the_revision = CheckConstraint(parents.c.id > 0, name="positive_id")
"""


def tiny_metadata() -> MetaData:
    """An FK to a non-unique column, and a named check constraint declared twice."""
    metadata = MetaData()
    parents = Table(
        "parents",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("code", Text),
        CheckConstraint("id > 0", name="positive_id"),
    )
    Table(
        "children",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_code", Text, ForeignKey("parents.code")),
        Column("name", Text),
        UniqueConstraint("name", name="uq_children_name"),
        Index("ix_children_parent_code", "parent_code"),
    )
    CheckConstraint(parents.c.id > 0, name="positive_id")  # attaches itself to parents
    return metadata


def ddl(metadata: MetaData) -> list[str]:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return [str(CreateTable(t).compile(dialect=dialect)) for t in metadata.sorted_tables]


def created(url: str, metadata: MetaData) -> tuple[dict[str, Any], list[Refusal]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            with pristine(metadata) as tables:
                refused = create_models(connection, metadata, tables)
            return read_model_tables(connection), list(refused)
    finally:
        engine.dispose()


def test_a_refused_foreign_key_is_left_out_and_reported(fresh_db: str) -> None:
    metadata = tiny_metadata()
    before = ddl(metadata)
    catalog, refused = created(fresh_db, metadata)

    assert sorted(catalog) == ["children", "parents"]
    parents, children = catalog["parents"], catalog["children"]
    # The duplicated check constraint exists once; everything but the foreign key is there.
    assert parents["constraints"] == {
        "parents_pkey": "PRIMARY KEY (id)",
        "positive_id": "CHECK ((id > 0))",
    }
    assert children["constraints"] == {
        "children_pkey": "PRIMARY KEY (id)",
        "uq_children_name": "UNIQUE (name)",
    }
    assert sorted(children["indexes"]) == [
        "children_pkey",
        "ix_children_parent_code",
        "uq_children_name",
    ]
    [fk] = refused
    assert fk.to_dict() | {"reason": ""} == {
        "kind": "foreign_key",
        "table": "children",
        "name": None,
        "sql": "ALTER TABLE children ADD FOREIGN KEY(parent_code) REFERENCES parents (code)",
        "reason": "",
        "detail": fk.describe(),
    }
    assert "no unique constraint matching given keys" in fk.reason
    assert fk.describe().startswith(
        "the models declare foreign key children(parent_code) -> parents(code), "
        "which PostgreSQL refuses: "
    )
    # The models are as they were: what was hidden while creating is back on its table, and
    # nothing is marked to be left out of a later CREATE TABLE.
    assert ddl(metadata) == before
    assert len(metadata.tables["parents"].constraints) == 3
    assert len(metadata.tables["children"].foreign_keys) == 1
    assert len(metadata.tables["children"].indexes) == 1


def test_models_that_create_fine_get_exactly_what_create_all_creates(make_db: object) -> None:
    metadata = MetaData()
    Table(
        "parents",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("code", Text, unique=True),
        CheckConstraint("id > 0"),
    )
    Table(
        "children",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_code", Text, ForeignKey("parents.code"), index=True),
    )
    ours, refused = created(make_db(), metadata)  # type: ignore[operator]
    engine = create_engine(make_db())  # type: ignore[operator]
    try:
        with engine.begin() as connection:
            metadata.create_all(connection)
            theirs = read_model_tables(connection)
    finally:
        engine.dispose()
    assert refused == []
    assert ours == theirs


@pytest.fixture
def project_root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "svc"
    package = root / f"svc_{uuid.uuid4().hex[:8]}"
    (root / "migrations").mkdir(parents=True)
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(MODELS)
    (package / "revision_like.py").write_text(REVISION_MODULE.format(package=package.name))
    (root / "pyproject.toml").write_text(
        textwrap.dedent(f"""
        [tool.lumiku-ops]
        metadata = "{package.name}.models:metadata"
        migrations = "migrations"
        """)
    )
    yield root
    for name in [m for m in sys.modules if m.startswith(package.name)]:
        del sys.modules[name]


def test_the_models_catalog_ignores_what_revision_modules_attach(
    project_root: Path, pg_server: PostgresServer, tmp_path: Path
) -> None:
    project = load_project(project_root)
    metadata = project.metadata()  # the models first, as every command reads them
    package = project.metadata_ref.partition(".")[0]
    importlib.import_module(f"{package}.revision_like")  # then the replay's revision modules
    assert len(metadata.tables["parents"].constraints) == 3

    forget()
    cache = tmp_path / "cache"
    models = models_catalog.model_catalog(project, shadow_url=pg_server.base_url, cache_dir=cache)
    assert sorted(models) == ["children", "parents"]
    assert models["parents"]["constraints"]["positive_id"] == "CHECK ((id > 0))"
    assert "children_name_key" in models["children"]["constraints"]
    assert [(r["kind"], r["table"]) for r in models.refused] == [("foreign_key", "children")]

    forget()  # a new process: the disk cache holds the refusals too
    again = models_catalog.model_catalog(project, shadow_url=pg_server.base_url, cache_dir=cache)
    assert again == models and again.refused == models.refused
