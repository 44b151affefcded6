"""Prisma's real schema engine (WebAssembly, driven by Node) on a real PostgreSQL.

Each test names the adapter defect its case guards against (``@prisma/adapter-pg`` 7.10.1,
worked around in ``lumiku_ops/prisma/engine.mjs``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from lumiku_ops.db.catalog import snapshot
from lumiku_ops.errors import PrismaEngineError, PrismaSchemaError
from lumiku_ops.prisma.engine import (
    diagnose_history,
    migrations_to_schema,
    schema_sql,
    schema_to_url,
    url_to_schema,
)
from lumiku_ops.prisma.schema import read_schema
from tests.prisma.conftest import SCHEMA_V1, SCHEMA_V2, schema, write_migrations
from tests.utils.db import connect

pytestmark = pytest.mark.usefixtures("prisma_engine")

MakeDb = Callable[[], str]


def statements(sql: str) -> list[str]:
    """The script's statements, comments dropped, whitespace collapsed."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [" ".join(s.split()) for s in "\n".join(lines).split(";") if s.strip()]


def run_sql(url: str, sql: str) -> None:
    with connect(url) as connection:
        connection.exec_driver_sql(sql)


def everything(url: str) -> dict[str, Any]:
    """All the user objects of a database, to prove it unchanged."""
    with connect(url) as connection:
        schemas = connection.execute(
            text(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                "AND nspname <> 'information_schema' ORDER BY 1"
            )
        ).scalars()
        return {"schemas": list(schemas), **snapshot(connection, schemas=["public", "app"])}


def test_schema_sql_creates_the_models_tables_types_indexes_and_foreign_keys(
    fresh_db: str,
) -> None:
    sql = schema_sql(schema(SCHEMA_V2))
    run_sql(fresh_db, sql)

    with connect(fresh_db) as connection:
        catalog = snapshot(connection)
        labels = connection.execute(
            text(
                "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
                "WHERE t.typname = 'Plan' ORDER BY e.enumsortorder"
            )
        ).scalars()
        assert list(labels) == ["FREE", "PRO"]
    assert set(catalog["tables"]) == {"public.Account", "public.Project"}
    assert ("type", "Plan") in catalog["other"]
    account, project = catalog["tables"]["public.Account"], catalog["tables"]["public.Project"]
    columns = {c["name"]: c for c in account["columns"]}
    # cuid() is made by Prisma Client, not the database: a text key with no default.
    assert columns["id"] == {"name": "id", "type": "text", "not_null": True, "default": None}
    assert columns["plan"]["default"] == "'FREE'::\"Plan\""
    assert columns["createdAt"]["type"] == "timestamp(3) without time zone"
    assert "UNIQUE" in account["indexes"]["Account_email_key"]
    assert project["indexes"]["Project_accountId_name_idx"].endswith(
        'USING btree ("accountId", name)'
    )
    fk = project["constraints"]["Project_accountId_fkey"]
    assert fk == (
        'FOREIGN KEY ("accountId") REFERENCES "Account"(id) ON UPDATE CASCADE ON DELETE CASCADE'
    )
    # The engine finds nothing left to do on what it created.
    assert url_to_schema(fresh_db, schema(SCHEMA_V2)) == ""


def test_a_history_one_model_behind_gives_exactly_that_models_sql(
    tmp_path: Path, make_db: MakeDb
) -> None:
    migrations = write_migrations(
        tmp_path / "migrations", {"20240101000000_init": schema_sql(schema(SCHEMA_V1))}
    )
    shadow = make_db()
    sql = migrations_to_schema(migrations, schema(SCHEMA_V2), shadow)
    assert statements(sql) == [
        'CREATE TABLE "Project" ( "id" SERIAL NOT NULL, "name" TEXT NOT NULL, '
        '"accountId" TEXT NOT NULL, CONSTRAINT "Project_pkey" PRIMARY KEY ("id") )',
        'CREATE INDEX "Project_accountId_name_idx" ON "Project"("accountId", "name")',
        'ALTER TABLE "Project" ADD CONSTRAINT "Project_accountId_fkey" FOREIGN KEY '
        '("accountId") REFERENCES "Account"("id") ON DELETE CASCADE ON UPDATE CASCADE',
    ]
    # That SQL, as the next migration, brings the history in line with the schema.
    (migrations / "20240102000000_add_project").mkdir()
    (migrations / "20240102000000_add_project" / "migration.sql").write_text(sql)
    assert migrations_to_schema(migrations, schema(SCHEMA_V2), make_db()) == ""


def test_a_history_in_line_with_the_schema_gives_an_empty_string(
    tmp_path: Path, make_db: MakeDb
) -> None:
    migrations = write_migrations(
        tmp_path / "m", {"20240101000000_init": schema_sql(schema(SCHEMA_V2))}
    )
    assert migrations_to_schema(migrations, schema(SCHEMA_V2), make_db()) == ""


# A plpgsql body holds ";": adapter-pg's PrismaPgAdapter.executeScript splits scripts on ";"
# (`script.split(";")`) and would send "CREATE FUNCTION ... BEGIN NEW.x := now()" alone.
DOLLAR_QUOTED = """\
CREATE FUNCTION "touch_account"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW."createdAt" := now();
  RETURN NEW;
END;
$$;
CREATE TRIGGER "Account_touch" BEFORE INSERT ON "Account"
  FOR EACH ROW EXECUTE FUNCTION "touch_account"();
"""


def test_a_migration_with_a_dollar_quoted_function_body_replays_as_one_batch(
    tmp_path: Path, make_db: MakeDb
) -> None:
    migrations = write_migrations(
        tmp_path / "m",
        {
            "20240101000000_init": schema_sql(schema(SCHEMA_V1)),
            "20240102000000_touch": DOLLAR_QUOTED,
        },
    )
    shadow = make_db()
    assert migrations_to_schema(migrations, schema(SCHEMA_V1), shadow) == ""
    with connect(shadow) as connection:
        source = connection.execute(
            text("SELECT prosrc FROM pg_proc WHERE proname = 'touch_account'")
        ).scalar_one()
    assert "RETURN NEW;" in source


def test_the_installed_adapter_still_splits_scripts_so_the_batch_fix_is_still_needed(
    prisma_engine: Path,
) -> None:
    # When a new pin of @prisma/adapter-pg stops splitting on ";", this fails: the
    # executeScript override in engine.mjs can then go (and this test with it).
    source = (prisma_engine / "node_modules/@prisma/adapter-pg/dist/index.mjs").read_text()
    assert 'script.split(";")' in source


def test_a_failing_migration_is_one_error_naming_it_and_leaves_none_of_itself(
    tmp_path: Path, make_db: MakeDb
) -> None:
    # One batch is one implicit transaction: the first statement of a failing file is not
    # left behind (split on ";", it would be).
    broken = 'CREATE TABLE "Half" ("id" INT);\nCREATE TABLE "Account" ("id" INT);\n'
    migrations = write_migrations(
        tmp_path / "m",
        {"20240101000000_init": schema_sql(schema(SCHEMA_V1)), "20240102000000_bad": broken},
    )
    shadow = make_db()
    with pytest.raises(PrismaEngineError) as caught:
        migrations_to_schema(migrations, schema(SCHEMA_V1), shadow)
    message = str(caught.value)
    assert caught.value.code == "P3006"
    assert "\n" not in message
    assert "20240102000000_bad" in message
    assert 'relation "Account" already exists' in message
    with connect(shadow) as connection:
        tables = set(connection.execute(text("SELECT tablename FROM pg_tables")).scalars())
    assert "Half" not in tables
    assert "Account" in tables  # the first migration did run


def test_a_char_column_replays_and_the_diff_still_works(tmp_path: Path, make_db: MakeDb) -> None:
    # adapter-pg maps no type to PostgreSQL's one-byte "char" (OID 18) and throws
    # UnsupportedNativeDataType; the engine's own catalog queries return such columns.
    flag = 'CREATE TABLE "Flag" ("id" INT PRIMARY KEY, "code" "char" NOT NULL);\n'
    migrations = write_migrations(
        tmp_path / "m",
        {"20240101000000_init": schema_sql(schema(SCHEMA_V1)), "20240102000000_flag": flag},
    )
    sql = migrations_to_schema(migrations, schema(SCHEMA_V2), make_db())
    assert statements(sql)[0] == 'DROP TABLE "Flag"'  # read, and not in the schema
    assert statements(sql)[1].startswith('CREATE TABLE "Project"')
    # Declared external (schema-qualified, as Prisma requires), the table is left alone.
    external = migrations_to_schema(migrations, schema(SCHEMA_V2), make_db(), ["public.Flag"])
    assert statements(external) == statements(sql)[1:]


def test_a_prisma5_schema_with_url_env_and_direct_url_works(tmp_path: Path, fresh_db: str) -> None:
    path = tmp_path / "schema.prisma"
    path.write_text(
        SCHEMA_V2.replace(
            '  provider = "postgresql"\n',
            '  provider  = "postgresql"\n'
            '  url       = env("DATABASE_URL")\n'
            '  directUrl = env("DIRECT_URL")\n',
        )
    )
    files = read_schema(path)
    assert statements(schema_sql(files)) == statements(schema_sql(schema(SCHEMA_V2)))
    run_sql(fresh_db, schema_sql(files))
    assert url_to_schema(fresh_db, files) == ""


def test_a_migrations_diff_never_touches_the_live_database(tmp_path: Path, make_db: MakeDb) -> None:
    live, shadow = make_db(), make_db()
    run_sql(
        live, 'CREATE TABLE "sentinel" ("id" INT PRIMARY KEY); INSERT INTO "sentinel" VALUES (1);'
    )
    before = everything(live)
    migrations = write_migrations(
        tmp_path / "m", {"20240101000000_init": schema_sql(schema(SCHEMA_V1))}
    )

    migrations_to_schema(migrations, schema(SCHEMA_V2), shadow)

    assert everything(live) == before
    # The replay went to the scratch database, and only there.
    assert set(everything(shadow)["tables"]) == {"public.Account"}
    # Handed the live database as the shadow by mistake: refused before any replay.
    with pytest.raises(PrismaEngineError, match="is not empty"):
        migrations_to_schema(migrations, schema(SCHEMA_V2), live)
    assert everything(live) == before


def test_reading_a_database_writes_nothing_to_it(tmp_path: Path, fresh_db: str) -> None:
    run_sql(fresh_db, schema_sql(schema(SCHEMA_V1)))
    before = everything(fresh_db)
    migrations = write_migrations(tmp_path / "m", {"20240101000000_init": "SELECT 1;"})

    sql = url_to_schema(fresh_db, schema(SCHEMA_V2))
    assert statements(sql)[0].startswith('CREATE TABLE "Project"')
    assert statements(schema_to_url(fresh_db, schema(SCHEMA_V2)))[0] == (
        'ALTER TABLE "public"."Project" DROP CONSTRAINT "Project_accountId_fkey"'
    )
    diagnosis = diagnose_history(fresh_db, migrations)

    assert diagnosis["has_migrations_table"] is False
    assert everything(fresh_db) == before  # no _prisma_migrations either


PRISMA_MIGRATIONS_TABLE = """
CREATE TABLE "_prisma_migrations" (
    "id" VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum" VARCHAR(64) NOT NULL,
    "finished_at" TIMESTAMPTZ,
    "migration_name" VARCHAR(255) NOT NULL,
    "logs" TEXT,
    "rolled_back_at" TIMESTAMPTZ,
    "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count" INTEGER NOT NULL DEFAULT 0
);
"""


def _row(number: int, name: str, checksum: str, *, finished: bool) -> str:
    finished_at = "now()" if finished else "NULL"
    steps = 1 if finished else 0
    return (
        f"INSERT INTO \"_prisma_migrations\" VALUES ('{number:036d}', '{checksum}', "
        f"{finished_at}, '{name}', NULL, NULL, now(), {steps});"
    )


def test_diagnose_history_reads_prisma_migrations_by_prismas_rules(
    tmp_path: Path, fresh_db: str
) -> None:
    files = {
        "20240101000000_init": b"SELECT 1;\r\n",  # CRLF: the checksum is over these bytes
        "20240102000000_edited": b"SELECT 2;\n",
        "20240103000000_failed": b"SELECT 3;\n",
        "20240104000000_pending": b"SELECT 4;\n",
    }
    migrations = write_migrations(tmp_path / "m", files)

    def sha(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    run_sql(
        fresh_db,
        PRISMA_MIGRATIONS_TABLE
        + _row(1, "20240101000000_init", sha(files["20240101000000_init"]), finished=True)
        + _row(2, "20240102000000_edited", sha(b"SELECT 'before';\n"), finished=True)
        + _row(3, "20240103000000_failed", sha(files["20240103000000_failed"]), finished=False),
    )

    diagnosis = diagnose_history(fresh_db, migrations)

    assert diagnosis["has_migrations_table"] is True
    assert diagnosis["edited"] == ["20240102000000_edited"]
    assert diagnosis["failed"] == ["20240103000000_failed"]
    assert diagnosis["history"] == {
        "diagnostic": "databaseIsBehind",
        "unappliedMigrationNames": ["20240104000000_pending"],
    }


def test_prisma_schema_param_picks_the_postgresql_schema(fresh_db: str) -> None:
    run_sql(
        fresh_db, 'CREATE SCHEMA "app"; SET search_path TO "app";' + schema_sql(schema(SCHEMA_V1))
    )
    url = fresh_db + ("&" if "?" in fresh_db else "?") + "schema=app"
    assert url_to_schema(url, schema(SCHEMA_V1)) == ""
    # The same database read as public holds none of it.
    assert 'CREATE TABLE "Account"' in url_to_schema(fresh_db, schema(SCHEMA_V1))


def test_a_schema_with_a_syntax_error_is_one_line_naming_file_and_line() -> None:
    broken = SCHEMA_V1.replace("  email     String   @unique", "  email     Strin    @unique")
    with pytest.raises(PrismaSchemaError) as caught:
        schema_sql(schema(broken, "prisma/schema.prisma"))
    message = str(caught.value)
    line = broken.splitlines().index("  email     Strin    @unique") + 1
    assert message.startswith(f'prisma/schema.prisma:{line}: Type "Strin" is neither')
    assert message.endswith("(P1012)")
    assert "\n" not in message
    assert caught.value.code == "P1012"


def test_an_unreachable_database_is_one_line_without_its_password() -> None:
    url = "postgresql+psycopg://app:s3cret-pw@127.0.0.1:9/app"
    with pytest.raises(PrismaEngineError) as caught:
        url_to_schema(url, schema(SCHEMA_V1), timeout=60)
    message = str(caught.value)
    assert "s3cret-pw" not in message
    assert "\n" not in message
    assert re.search(r"127\.0\.0\.1:9", message), message


def test_a_migration_folder_without_its_file_is_prismas_own_error(
    tmp_path: Path, make_db: MakeDb
) -> None:
    migrations = write_migrations(tmp_path / "m", {})
    (migrations / "20240101000000_lost").mkdir()
    with pytest.raises(PrismaEngineError) as caught:
        migrations_to_schema(migrations, schema(SCHEMA_V1), make_db())
    assert caught.value.code == "P3015"
    assert "Could not find the migration file" in str(caught.value)
