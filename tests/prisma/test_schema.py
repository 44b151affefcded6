"""Reading a Prisma schema, and the URLs handed to Node: no engine, no database."""

from __future__ import annotations

from pathlib import Path

import pytest

from lumiku_ops.errors import PrismaEngineError, PrismaSchemaError
from lumiku_ops.prisma.engine import load_migrations, node_url
from lumiku_ops.prisma.schema import read_schema, schema_files, strip_datasource_urls

PRISMA5 = """\
datasource db {
  provider          = "postgresql"
  url               = env("DATABASE_URL")
  directUrl         = env("DIRECT_URL") // the pooler bypass
  shadowDatabaseUrl = env("SHADOW_DATABASE_URL")
}

model Link {
  id  Int    @id
  url String @default("https://example.com")
}
"""


def test_the_datasource_url_lines_become_empty_lines_and_nothing_else_changes() -> None:
    stripped = strip_datasource_urls(PRISMA5)
    assert stripped.split("\n") == [
        "datasource db {",
        '  provider          = "postgresql"',
        "",
        "",
        "",
        "}",
        "",
        "model Link {",
        "  id  Int    @id",
        '  url String @default("https://example.com")',  # a field named url stays
        "}",
        "",
    ]
    assert strip_datasource_urls(stripped) == stripped


def test_crlf_schemas_keep_their_line_endings() -> None:
    crlf = PRISMA5.replace("\n", "\r\n")
    stripped = strip_datasource_urls(crlf)
    assert stripped.count("\n") == crlf.count("\n")
    assert "env(" not in stripped
    assert stripped.split("\r\n")[2] == ""


def test_a_url_in_another_block_is_left_alone() -> None:
    text = 'generator client {\n  provider = "prisma-client-js"\n  url = "kept"\n}\n'
    assert strip_datasource_urls(text) == text
    one_line = 'datasource db { provider = "postgresql" }\nmodel A {\n  url = 1\n}\n'
    assert strip_datasource_urls(one_line) == one_line


def test_a_file_is_read_with_its_urls_stripped(tmp_path: Path) -> None:
    path = tmp_path / "schema.prisma"
    path.write_bytes(b"\xef\xbb\xbf" + PRISMA5.encode())  # a byte-order mark is dropped
    [only] = read_schema(path)
    assert only.path == str(path)
    assert only.content == strip_datasource_urls(PRISMA5)


def test_a_folder_is_every_prisma_file_under_it_in_path_order(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "schema.prisma").write_text(PRISMA5)
    (tmp_path / "models" / "a.prisma").write_text("model A {\n  id Int @id\n}\n")
    (tmp_path / "notes.md").write_text("not a schema")
    files = read_schema(tmp_path)
    assert [Path(f.path).relative_to(tmp_path).as_posix() for f in files] == [
        "models/a.prisma",
        "schema.prisma",
    ]
    assert "env(" not in files[1].content


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"model A {\n  id Int @id\n}\0\n", "NUL byte"), (b"model \xff {}\n", "not UTF-8")],
)
def test_nul_bytes_and_non_utf8_are_one_clear_error(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    path = tmp_path / "schema.prisma"
    path.write_bytes(data)
    with pytest.raises(PrismaSchemaError) as caught:
        read_schema(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_schemas_given_as_text_are_checked_too() -> None:
    with pytest.raises(PrismaSchemaError, match="NUL byte"):
        schema_files([("s.prisma", "model A {}\0")])
    with pytest.raises(PrismaSchemaError, match="no Prisma schema file"):
        schema_files([])


def test_a_missing_schema_or_an_empty_folder_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(PrismaSchemaError, match="no Prisma schema at .*prisma_schema"):
        read_schema(tmp_path / "nowhere.prisma")
    with pytest.raises(PrismaSchemaError, match="no .prisma file"):
        read_schema(tmp_path)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgresql+psycopg://app:p%40ss@db.internal:5432/shop",
            ("postgresql://app:p%40ss@db.internal:5432/shop", None),
        ),
        (
            "postgres://app:pw@db:5432/shop?schema=public&sslmode=require",
            ("postgresql://app:pw@db:5432/shop?sslmode=require", "public"),
        ),
        (
            "postgresql://app@db/shop?sslmode=require&schema=tenant%5Fa",
            ("postgresql://app@db/shop?sslmode=require", "tenant_a"),
        ),
        (
            "postgresql+psycopg://postgres@/app?host=%2Ftmp%2Fpg+socket",
            ("postgresql://postgres@/app?host=%2Ftmp%2Fpg+socket", None),  # kept byte for byte
        ),
    ],
)
def test_database_urls_reach_node_in_libpq_form(
    given: str, expected: tuple[str, str | None]
) -> None:
    assert node_url(given) == expected


def test_a_url_that_is_not_postgresql_is_refused_without_its_password() -> None:
    with pytest.raises(PrismaEngineError) as caught:
        node_url("mysql://root:hunter22@db/shop")
    assert "hunter22" not in str(caught.value)
    assert "not a PostgreSQL URL" in str(caught.value)


def test_migrations_are_read_in_name_order_byte_for_byte(tmp_path: Path) -> None:
    (tmp_path / "20240102000000_b").mkdir()
    (tmp_path / "20240102000000_b" / "migration.sql").write_bytes(b"SELECT 2;\r\n")
    (tmp_path / "20240101000000_a").mkdir()
    (tmp_path / "20240101000000_a" / "migration.sql").write_bytes(b"SELECT 1;\n")
    (tmp_path / "20240103000000_empty").mkdir()
    (tmp_path / "migration_lock.toml").write_text('provider = "postgresql"\n')
    loaded = load_migrations(tmp_path)
    assert loaded["baseDir"] == str(tmp_path.resolve())
    assert loaded["lockfile"] == {
        "path": "migration_lock.toml",
        "content": 'provider = "postgresql"\n',
    }
    # CRLF stays CRLF: Prisma's checksum is over the file's bytes.
    assert loaded["directories"] == [
        {"name": "20240101000000_a", "sql": "SELECT 1;\n"},
        {"name": "20240102000000_b", "sql": "SELECT 2;\r\n"},
        {"name": "20240103000000_empty", "sql": None},
    ]
    nothing = load_migrations(tmp_path / "none")
    assert nothing["directories"] == []
    assert nothing["lockfile"]["content"] == 'provider = "postgresql"\n'  # the engine needs one


def test_a_datasource_lumiku_ops_cannot_serve_is_one_clear_error(tmp_path: Path) -> None:
    """Without ``require_postgresql_public``, a MySQL schema reaches the engine over a
    PostgreSQL adapter, and a multi-schema one is diagnosed on ``public`` alone."""
    from lumiku_ops.errors import PrismaSchemaError
    from lumiku_ops.prisma.schema import read_schema

    mysql = tmp_path / "mysql.prisma"
    mysql.write_text('datasource db {\n  provider = "mysql"\n  url = env("DB")\n}\n')
    with pytest.raises(PrismaSchemaError, match=r'mysql.prisma:2: provider = "mysql"'):
        read_schema(mysql)
    multi = tmp_path / "multi.prisma"
    multi.write_text(
        'datasource db {\n  provider = "postgresql"\n  schemas = ["public", "billing"]\n}\n'
    )
    with pytest.raises(PrismaSchemaError, match=r"multi.prisma:3: schemas = \[public, billing\]"):
        read_schema(multi)
    public = tmp_path / "public.prisma"
    public.write_text('datasource db {\n  provider = "postgresql"\n  schemas = ["public"]\n}\n')
    assert read_schema(public)[0].content.startswith("datasource db")
