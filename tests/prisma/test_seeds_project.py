"""The seeds' incident in the seeds' own stack: ``examples/prisma_seeds``.

A Prisma project whose ``schema.prisma`` holds the platform's models and the Background
Remover's four, and whose ``prisma/migrations`` (named like the seeds' list) creates only the
platform. Replaying it, then the seeds' expected SQL, must give the reference's catalog; the
reference service on that database must answer the seeds' three 500s, then their 200s.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

from lumiku_ops.db.catalog import ColumnInfo, read_tables
from lumiku_ops.prisma.migrations import list_migrations
from lumiku_ops.prisma.records import state
from lumiku_ops.prisma.rows import transaction_control
from tests.conftest import JWT_SECRET
from tests.prisma.helpers import (
    BACKGROUND_REMOVER_TABLES,
    BEYOND_SEED_SQL,
    MIGRATIONS,
    PROJECT,
    SEED_MIGRATION_NAMES,
    SEED_SQL,
    add_migration,
    apply_each,
    apply_history,
    copy_history,
)
from tests.utils.db import connect, connection_to, upgrade
from tests.utils.factories import user_with_token
from tests.utils.project import REPO_ROOT
from tests.utils.service import RunningService

SCHEMA = PROJECT / "prisma" / "schema.prisma"
QUEUE_SCHEMA = REPO_ROOT / "migrations" / "sql" / "procrastinate_3.10_schema.sql"
PLATFORM_TABLES = ["users", "credits", "apps", "idempotency_keys"]
# Bookkeeping of each tool, not part of the schema.
BOOKKEEPING = {"public.alembic_version", "public._prisma_migrations"}


def _config() -> dict[str, Any]:
    return tomllib.loads((PROJECT / "lumiku-ops.toml").read_text())


def _reference_config() -> dict[str, Any]:
    table: dict[str, Any] = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"][
        "lumiku-ops"
    ]
    return table


# --- The project's files ----------------------------------------------------------------------


def test_the_project_probes_and_checks_what_the_reference_does() -> None:
    config, reference = _config(), _reference_config()
    assert config["kind"] == "prisma"
    # The seed's three failing endpoints, as the reference lists them first (its last two
    # are the contrast that always worked).
    assert config["endpoints"] == reference["endpoints"][:3]
    assert all(path.startswith("/api/background-remover/") for path in config["endpoints"])
    checks = tomllib.loads((PROJECT / config["checks"]).read_text())
    assert checks == tomllib.loads((REPO_ROOT / reference["checks"]).read_text())
    assert [check["path"] for check in checks["checks"]] == config["endpoints"]
    assert config["exclude_prefixes"] == reference["exclude_prefixes"] == ["procrastinate_"]
    assert (PROJECT / config["prisma_schema"]).resolve() == SCHEMA
    assert (PROJECT / config["prisma_migrations"]).resolve() == MIGRATIONS


def test_the_history_is_named_like_the_seeds_and_never_creates_the_background_remover() -> None:
    migrations = list_migrations(MIGRATIONS)
    assert [migration.name for migration in migrations] == SEED_MIGRATION_NAMES
    # The seeds' own check: `find migrations -name "*.sql" | xargs grep "BackgroundRemoval"`
    # finds nothing. Nor does a folder name mention the feature.
    for migration in migrations:
        assert "background" not in migration.name.lower()
        assert "BackgroundRemov" not in migration.sql, migration.name
        assert transaction_control(migration.sql) == [], migration.name
    lock = tomllib.loads((MIGRATIONS / "migration_lock.toml").read_text())
    assert lock == {"provider": "postgresql"}


def test_the_queue_migration_is_the_reference_queue_schema_byte_for_byte() -> None:
    """One source for procrastinate's schema: the copy must not drift from the vendored file."""
    queue = next(m for m in list_migrations(MIGRATIONS) if "procrastinate" in m.sql)
    assert queue.name == "20251004124929_add_looping_flow_enhancements"
    assert queue.path.read_bytes() == QUEUE_SCHEMA.read_bytes()


_MODEL = re.compile(r"^model (\w+) \{\n(.*?)^\}", re.MULTILINE | re.DOTALL)
_FIELD = re.compile(r"^\s+(\w+)\s+(String|Int|Float|Boolean|DateTime)(\[\]|\?)?(.*)$")
_TYPES = {
    "String": "text",
    "Int": "integer",
    "Float": "double precision",
    "Boolean": "boolean",
    "DateTime": "timestamp(3) without time zone",
}


def _default(kind: str, attributes: str) -> str | None:
    """The catalog's default for a field's ``@default(...)`` (none for client-side ones)."""
    found = re.search(r"@default\((.*?)\)(?:\s|$)", attributes + " ")
    if found is None or found.group(1) in ("cuid()", "uuid()"):
        return None
    value = found.group(1)
    if value == "now()":
        return "CURRENT_TIMESTAMP"
    if value.startswith('"'):
        return f"'{value.strip(chr(34))}'::text"
    return value


def _schema_tables() -> dict[str, list[ColumnInfo]]:
    """The scalar fields of each model of schema.prisma, as the catalog would show them."""
    tables = {}
    for name, body in _MODEL.findall(SCHEMA.read_text()):
        mapped = re.search(r'@@map\("(\w+)"\)', body)
        columns = []
        for line in body.splitlines():
            field = _FIELD.match(line)
            if field is None:
                continue
            column, kind, modifier, attributes = field.groups()
            renamed = re.search(r'@map\("(\w+)"\)', attributes)
            columns.append(
                ColumnInfo(
                    renamed.group(1) if renamed else column,
                    _TYPES[kind] + ("[]" if modifier == "[]" else ""),
                    modifier is None,
                    _default(kind, attributes),
                )
            )
        tables[mapped.group(1) if mapped else name] = columns
    return tables


def test_schema_prisma_describes_the_reference_tables_column_for_column(
    fresh_db: str,
) -> None:
    """Each model's fields are its table's columns (name, type, NOT NULL, default) in order.

    The reference's tables come from its own Alembic history; a field renamed, retyped, made
    optional or given another default in schema.prisma (or a model missing) fails here.
    """
    upgrade(fresh_db, "head")
    with connect(fresh_db) as connection:
        reference = read_tables(connection, PLATFORM_TABLES + BACKGROUND_REMOVER_TABLES)
    described = _schema_tables()
    assert sorted(described) == sorted(PLATFORM_TABLES + BACKGROUND_REMOVER_TABLES)
    for name, columns in described.items():
        assert columns == reference[f"public.{name}"].columns, name


# --- The history replayed -----------------------------------------------------------------------


def _objects(connection: Connection) -> dict[str, list[str]]:
    """Functions, types and triggers of the public schema (the queue's own objects)."""
    queries = {
        "functions": "SELECT p.oid::regprocedure::text FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'",
        # Enums, and composite types that are not a table's row type.
        "types": "SELECT t.typname || ':' || t.typtype::text FROM pg_type t"
        " JOIN pg_namespace n ON n.oid = t.typnamespace LEFT JOIN pg_class c"
        " ON c.oid = t.typrelid WHERE n.nspname = 'public'"
        " AND (t.typtype = 'e' OR (t.typtype = 'c' AND c.relkind = 'c'))",
        "enum_labels": "SELECT t.typname || '.' || e.enumlabel FROM pg_enum e"
        " JOIN pg_type t ON t.oid = e.enumtypid ORDER BY t.typname, e.enumsortorder",
        "triggers": "SELECT tgrelid::regclass::text || '.' || tgname || ':' ||"
        " pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal",
    }
    return {
        kind: sorted(str(value) for value in connection.execute(text(query)).scalars())
        for kind, query in queries.items()
    }


def test_the_history_then_the_seeds_sql_gives_the_reference_catalog(
    make_db: Callable[[], str],
) -> None:
    """Platform, queue and Background Remover: the same catalog as ``upgrade head``.

    The reference's one index beyond the seeds' SQL (indexes_beyond_seed.sql) is added to the
    Prisma side, as the reference's own equivalence test does.
    """
    prisma_db, alembic_db = make_db(), make_db()
    apply_history(prisma_db)
    with connect(prisma_db) as connection:
        # The incident: the four tables are absent after the whole history.
        assert read_tables(connection, BACKGROUND_REMOVER_TABLES) == {}
        connection.exec_driver_sql(SEED_SQL.read_text())
        connection.exec_driver_sql(BEYOND_SEED_SQL.read_text())
    upgrade(alembic_db, "head")
    with connect(prisma_db) as connection:
        prisma_tables, prisma_objects = read_tables(connection), _objects(connection)
    with connect(alembic_db) as connection:
        alembic_tables, alembic_objects = read_tables(connection), _objects(connection)
    prisma_tables = {k: v for k, v in prisma_tables.items() if k not in BOOKKEEPING}
    alembic_tables = {k: v for k, v in alembic_tables.items() if k not in BOOKKEEPING}

    names = [f"public.{name}" for name in PLATFORM_TABLES + BACKGROUND_REMOVER_TABLES]
    assert set(names) <= set(alembic_tables)  # the comparison below covers them all
    assert sorted(prisma_tables) == sorted(alembic_tables)
    for key, expected in alembic_tables.items():
        assert prisma_tables[key].to_dict() == expected.to_dict(), key
    assert prisma_objects == alembic_objects
    assert any(f.startswith("procrastinate_fetch_job_v2(") for f in prisma_objects["functions"])


# --- The reference service on the Prisma project's database --------------------------------------


@pytest.mark.http
def test_the_reference_service_answers_the_seeds_500s_then_their_200s(
    fresh_db: str, service_factory: Callable[[str], RunningService], tmp_path: Path
) -> None:
    apply_history(fresh_db)
    _, token = user_with_token(fresh_db, JWT_SECRET, email="prisma@lumiku.local", credits=1092)
    service = service_factory(fresh_db)
    config = _config()
    # The seed's picture: its three endpoints fail, the platform's work.
    for path in config["endpoints"]:
        assert service.get(path, token).status_code == 500, path
    balance = service.get("/api/credits/balance", token)
    assert balance.status_code == 200 and balance.json()["data"]["balance"] == 1092
    assert service.get("/api/apps", token).status_code == 200

    # The migration that was never created, as `prisma migrate dev` would have written it.
    folder = copy_history(tmp_path / "migrations")
    add_migration(folder, "20251019000000_add_background_remover_models", SEED_SQL.read_text())
    migrations = list_migrations(folder)
    with connection_to(fresh_db) as connection:
        assert state(connection, migrations).pending == [migrations[-1].name]
    apply_each(fresh_db, [migrations[-1]])

    checks = tomllib.loads((PROJECT / config["checks"]).read_text())["checks"]
    for check in checks:
        answer = service.get(check["path"], token)
        expected = check["json"]
        assert answer.status_code == 200, check["path"]
        assert answer.json() == (json.loads(expected) if isinstance(expected, str) else expected)
    with connection_to(fresh_db) as connection:
        assert state(connection, migrations).pending == []
