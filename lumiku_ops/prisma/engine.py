"""Prisma's schema engine (``@prisma/schema-engine-wasm``), installed from npm and run by Node.

The engine is Prisma's own Rust code compiled to WebAssembly: what a ``schema.prisma``
means in SQL is its decision, never a re-implementation here. ``engine.mjs`` (shipped beside
this module) drives it: one JSON request on stdin, one JSON result on stdout, a fresh Node
process per operation (about half a second). Database URLs travel on stdin, never on a
command line that ``ps`` shows.

Installing it (Node.js checked, the pinned npm packages) is :mod:`lumiku_ops.prisma.install`;
running one request through ``engine.mjs`` is :mod:`lumiku_ops.prisma.driver`.

Which databases each operation touches: ``schema_sql`` none; ``migrations_to_schema`` only
the caller's empty scratch database (``shadow_url``), which it fills; ``url_to_schema``,
``schema_to_url`` and ``diagnose_history`` read the given database and refuse to write it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import unquote

from lumiku_ops.errors import PrismaEngineError
from lumiku_ops.prisma.driver import call
from lumiku_ops.prisma.install import find_node, install_engine
from lumiku_ops.prisma.schema import SchemaFile, schema_files
from lumiku_ops.redaction import redact, url_secrets

DEFAULT_TIMEOUT = 300.0


class HistoryDiagnosis(TypedDict):
    """Prisma's ``diagnoseMigrationHistory`` on a database, by its own rules.

    ``edited``: migrations whose file no longer matches the checksum recorded when applied;
    ``failed``: migrations recorded as started and neither finished nor rolled back;
    ``has_migrations_table``: whether ``_prisma_migrations`` exists;
    ``history``: ``None`` when the folder and the database agree, else Prisma's diagnostic
    as the engine gives it, e.g. ``{"diagnostic": "databaseIsBehind",
    "unappliedMigrationNames": [...]}``, ``"migrationsDirectoryIsBehind"``
    (``unpersistedMigrationNames``) or ``"historiesDiverge"`` (both, and
    ``lastCommonMigrationName``).
    """

    edited: list[str]
    failed: list[str]
    has_migrations_table: bool
    history: dict[str, Any] | None


def _run(
    op: str,
    request: dict[str, Any],
    *,
    cache_dir: Path | None,
    timeout: float,
    secrets: Iterable[str | None] = (),
) -> dict[str, Any]:
    home = install_engine(cache_dir)
    return call(find_node(), home, op, request, timeout=timeout, secrets=secrets)


# --- Databases, schemas and migrations as the engine takes them ---------------------------


def node_url(url: str) -> tuple[str, str | None]:
    """``url`` in the form Node's ``pg`` reads, and Prisma's ``?schema=`` if it had one.

    Accepts SQLAlchemy's ``postgresql+psycopg://...`` (what lumiku-ops passes around), libpq's
    ``postgresql://`` or ``postgres://``, and Prisma's ``...?schema=public``. Everything else
    in the URL (user, password, host, ``?host=/socket/dir``, ``sslmode``) is kept as is.

    Raises:
        PrismaEngineError: not a PostgreSQL URL.
    """
    scheme, separator, rest = url.strip().partition("://")
    if not separator or scheme.split("+", 1)[0].lower() not in {"postgresql", "postgres"}:
        raise PrismaEngineError(
            f"{redact(url)} is not a PostgreSQL URL; Prisma projects use postgresql://..."
        )
    base, _, query = rest.partition("?")
    kept, schema = [], None
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        if unquote(key) == "schema":
            schema = unquote(value) or None
        else:
            kept.append(part)
    return "postgresql://" + base + ("?" + "&".join(kept) if kept else ""), schema


def _schema_payload(files: Sequence[SchemaFile]) -> list[dict[str, str]]:
    return [{"path": file.path, "content": file.content} for file in schema_files(files)]


DEFAULT_LOCK = 'provider = "postgresql"\n'


def load_migrations(migrations_dir: Path) -> dict[str, Any]:
    """The migrations folder as the engine takes it: every subfolder in name order (as
    Prisma sorts them) with its ``migration.sql`` (``None`` when missing), and
    ``migration_lock.toml`` (PostgreSQL's when there is none). A folder that does not exist
    is an empty history, as for Prisma.

    Files are read as bytes and decoded without newline translation: the engine checksums
    the text, and ``_prisma_migrations`` holds the SHA-256 of the file's exact bytes.

    Raises:
        PrismaEngineError: a ``migration.sql`` that is not UTF-8.
    """
    base = migrations_dir.resolve()
    directories: list[dict[str, str | None]] = []
    lock: str | None = None
    if base.is_dir():
        for folder in sorted((p for p in base.iterdir() if p.is_dir()), key=lambda p: p.name):
            script = folder / "migration.sql"
            directories.append(
                {"name": folder.name, "sql": _text(script) if script.is_file() else None}
            )
        if (base / "migration_lock.toml").is_file():
            lock = _text(base / "migration_lock.toml")
    return {
        "baseDir": str(base),
        # The engine learns the database kind from the lock file and refuses to go on
        # without one; Prisma writes it with the first migration, and a history without it
        # (hand-made, or from before Prisma 2.15) is PostgreSQL's here, the one kind served.
        "lockfile": {"path": "migration_lock.toml", "content": lock or DEFAULT_LOCK},
        "directories": directories,
    }


def _text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PrismaEngineError(f"{path}: is not UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise PrismaEngineError(f"{path}: cannot be read ({exc.strerror})") from None


def _filters(external_tables: Iterable[str], external_enums: Iterable[str]) -> dict[str, Any]:
    return {"externalTables": list(external_tables), "externalEnums": list(external_enums)}


@cache
def engine_identity() -> str:
    """SHA-256 of what decides the engine's answers: the pinned packages (their lock, with
    integrity hashes) and the driver. A cached answer of the engine is keyed by it."""
    from lumiku_ops.prisma.driver import DRIVER
    from lumiku_ops.prisma.install import LOCKFILE

    digest = hashlib.sha256(LOCKFILE.read_bytes())
    digest.update(DRIVER.read_bytes())
    return digest.hexdigest()


# --- The operations -------------------------------------------------------------------------


def engine_version(*, cache_dir: Path | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """``{"engine": git hash of the engine build, "packages": {npm name: version}}``."""
    result = _run("version", {}, cache_dir=cache_dir, timeout=timeout)
    return {"engine": result["engine"], "packages": result["packages"]}


def schema_sql(
    files: Sequence[SchemaFile],
    *,
    external_tables: Iterable[str] = (),
    external_enums: Iterable[str] = (),
    cache_dir: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """The SQL that creates the schema ``files`` describe from an empty database.

    No database is involved: the engine is given a stand-in that answers only its opening
    question (PostgreSQL 16, schema present). Prisma's script starts with ``CREATE SCHEMA IF
    NOT EXISTS "public";``.

    Raises:
        PrismaSchemaError: the schema is invalid (the message names file and line).
        PrismaEngineError: Node or the engine could not run.
    """
    request = {"schema": _schema_payload(files), **_filters(external_tables, external_enums)}
    result = _run("schema_sql", request, cache_dir=cache_dir, timeout=timeout)
    return str(result["sql"])


def migrations_to_schema(
    migrations_dir: Path,
    files: Sequence[SchemaFile],
    shadow_url: str,
    external_tables: Iterable[str] = (),
    *,
    external_enums: Iterable[str] = (),
    cache_dir: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """The SQL that takes what ``migrations_dir`` creates to what ``files`` describe; ``""``
    when the migrations already create the schema.

    Each ``migration.sql`` runs, in folder-name order and as one batch, on ``shadow_url``:
    an EMPTY scratch database the caller created and drops afterwards (it is left holding
    the replayed schema; a database that is not empty is refused). No other database is
    connected.

    ``external_tables``/``external_enums`` (Prisma's ``tables.external``) are left out of the
    comparison; the engine wants them schema-qualified (``public.audit_log``, else P3023).

    Raises:
        PrismaEngineError: a migration failed on the shadow (``code`` ``P3006``; the message
            names it and quotes PostgreSQL), the shadow is not empty, or the engine failed.
        PrismaSchemaError: the schema is invalid.
    """
    shadow, db_schema = node_url(shadow_url)
    request = {
        "schema": _schema_payload(files),
        "migrations": load_migrations(migrations_dir),
        "shadowUrl": shadow,
        "dbSchema": db_schema,
        **_filters(external_tables, external_enums),
    }
    secrets = url_secrets(shadow_url, shadow)
    result = _run(
        "migrations_to_schema", request, cache_dir=cache_dir, timeout=timeout, secrets=secrets
    )
    return str(result["sql"])


def _database_diff(
    op: str,
    url: str,
    files: Sequence[SchemaFile],
    external_tables: Iterable[str],
    external_enums: Iterable[str],
    cache_dir: Path | None,
    timeout: float,
) -> str:
    database, db_schema = node_url(url)
    request = {
        "schema": _schema_payload(files),
        "url": database,
        "dbSchema": db_schema,
        **_filters(external_tables, external_enums),
    }
    secrets = url_secrets(url, database)
    return str(_run(op, request, cache_dir=cache_dir, timeout=timeout, secrets=secrets)["sql"])


def url_to_schema(
    url: str,
    files: Sequence[SchemaFile],
    external_tables: Iterable[str] = (),
    *,
    external_enums: Iterable[str] = (),
    cache_dir: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """The SQL that takes the database at ``url`` to what ``files`` describe (``""`` when it
    matches). The database is only read: the engine's writes are refused.

    Prisma's ``?schema=NAME`` picks the PostgreSQL schema compared (default ``public``).

    Raises:
        PrismaEngineError: the database is unreachable, or the engine failed.
        PrismaSchemaError: the schema is invalid.
    """
    return _database_diff(
        "url_to_schema", url, files, external_tables, external_enums, cache_dir, timeout
    )


def schema_to_url(
    url: str,
    files: Sequence[SchemaFile],
    external_tables: Iterable[str] = (),
    *,
    external_enums: Iterable[str] = (),
    cache_dir: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """The reverse of :func:`url_to_schema`: the SQL that takes what ``files`` describe to
    the database at ``url`` (what the database has that the schema lacks, as SQL).

    Raises:
        PrismaEngineError: the database is unreachable, or the engine failed.
        PrismaSchemaError: the schema is invalid.
    """
    return _database_diff(
        "schema_to_url", url, files, external_tables, external_enums, cache_dir, timeout
    )


def diagnose_history(
    url: str,
    migrations_dir: Path,
    *,
    cache_dir: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> HistoryDiagnosis:
    """Prisma's own reading of ``_prisma_migrations`` at ``url`` against ``migrations_dir``:
    edited and failed migrations, and which side is behind. Read only; no shadow database.

    The engine needs a schema to start; a minimal one (a PostgreSQL datasource) is used.

    Raises:
        PrismaEngineError: the database is unreachable, or the engine failed.
    """
    database, db_schema = node_url(url)
    request = {
        "schema": [{"path": "schema.prisma", "content": _MINIMAL_SCHEMA}],
        "migrations": load_migrations(migrations_dir),
        "url": database,
        "dbSchema": db_schema,
    }
    secrets = url_secrets(url, database)
    result = _run(
        "diagnose_history", request, cache_dir=cache_dir, timeout=timeout, secrets=secrets
    )
    history = result.get("history")
    return HistoryDiagnosis(
        edited=[str(name) for name in result.get("edited") or []],
        failed=[str(name) for name in result.get("failed") or []],
        has_migrations_table=bool(result.get("hasMigrationsTable")),
        history=history if isinstance(history, dict) else None,
    )


_MINIMAL_SCHEMA = 'datasource db {\n  provider = "postgresql"\n}\n'
