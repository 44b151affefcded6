"""Prisma's schema engine (``@prisma/schema-engine-wasm``), installed from npm and run by Node.

The engine is Prisma's own Rust code compiled to WebAssembly: what a ``schema.prisma``
means in SQL is its decision, never a re-implementation here. ``engine.mjs`` (shipped beside
this module) drives it: one JSON request on stdin, one JSON result on stdout, a fresh Node
process per operation (about half a second). Database URLs travel on stdin, never on a
command line that ``ps`` shows.

The npm packages are pinned, with integrity hashes, in ``package-lock.json`` beside this
module; :func:`install_engine` installs them with ``npm ci`` into the user's cache folder, in
a folder named after the lock's hash (a new pin installs fresh; a half install never counts).
Node.js 20 or newer is the one prerequisite.

Which databases each operation touches: ``schema_sql`` none; ``migrations_to_schema`` only
the caller's empty scratch database (``shadow_url``), which it fills; ``url_to_schema``,
``schema_to_url`` and ``diagnose_history`` read the given database and refuse to write it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import unquote

from lumiku_ops.errors import PrismaEngineError, PrismaSchemaError
from lumiku_ops.prisma.schema import SchemaFile, schema_files
from lumiku_ops.redaction import redact, url_secrets

PACKAGE_DIR = Path(__file__).resolve().parent
DRIVER = PACKAGE_DIR / "engine.mjs"
MANIFEST = PACKAGE_DIR / "package.json"
LOCKFILE = PACKAGE_DIR / "package-lock.json"
MIN_NODE_MAJOR = 20
# The folder under the cache folder that holds one installed engine per pin.
ENGINE_FOLDER = "prisma-engine"
# Written last into a finished install, before it is renamed into place.
MARKER = ".lumiku-installed"
DEFAULT_TIMEOUT = 300.0
INSTALL_TIMEOUT = 600.0
NODE_NEEDED = (
    "Node.js 20 or newer is needed for Prisma projects: install it (https://nodejs.org or "
    "your package manager) and run `lumiku-ops prisma install`"
)


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


@dataclass(frozen=True)
class EngineInstall:
    """An installed engine: where, the pinned versions, the Node that runs it, and whether
    this call installed it (``npm``) or found it (``present``)."""

    path: Path
    source: str
    engine: str
    packages: dict[str, str]
    node: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "path": str(self.path),
            "source": self.source,
            "engine": self.engine,
            "packages": dict(self.packages),
            "node": self.node,
        }


# --- Node -------------------------------------------------------------------------------


@cache
def _node_version(node: str) -> tuple[int, ...] | None:
    try:
        done = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)\S*", done.stdout.strip())
    return tuple(int(part) for part in found.groups()) if found else None


def find_node() -> Path:
    """The ``node`` on ``PATH``, checked to be Node.js 20 or newer.

    Raises:
        PrismaEngineError: no Node.js, or an older one (the message says what to install).
    """
    found = shutil.which("node")
    if found is None:
        raise PrismaEngineError(NODE_NEEDED)
    version = _node_version(found)
    if version is None:
        raise PrismaEngineError(f"{found} does not answer `node --version`; {NODE_NEEDED}")
    if version[0] < MIN_NODE_MAJOR:
        shown = ".".join(map(str, version))
        raise PrismaEngineError(f"{found} is Node.js {shown}; {NODE_NEEDED}")
    return Path(found)


def node_version_text(node: Path) -> str:
    """``node``'s version as ``v20.20.2`` (``?`` if it does not say)."""
    version = _node_version(str(node))
    return "v" + ".".join(map(str, version)) if version else "?"


def _npm(node: Path) -> Path:
    # npm on PATH, else the npm that ships in Node's own prefix (lib/node_modules/npm).
    found = shutil.which("npm")
    if found:
        return Path(found)
    bundled = node.resolve().parent.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    if bundled.is_file():
        return bundled
    raise PrismaEngineError(
        "npm is needed to install Prisma's schema engine and was not found; it comes with "
        "Node.js (https://nodejs.org), or install your package manager's npm package"
    )


# --- Install ----------------------------------------------------------------------------


def lock_digest() -> str:
    """The SHA-256 of the pinned ``package.json`` and ``package-lock.json``."""
    digest = hashlib.sha256()
    for path in (MANIFEST, LOCKFILE):
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def engine_home(cache_dir: Path | None = None) -> Path:
    """The folder of this pin's install (it may not exist yet)."""
    if cache_dir is None:
        from lumiku_ops.settings import user_cache_dir

        cache_dir = user_cache_dir()
    return cache_dir / ENGINE_FOLDER / lock_digest()[:16]


def _installed(home: Path, digest: str) -> bool:
    try:
        return (home / MARKER).read_text().strip() == digest
    except OSError:
        return False


def install_engine(cache_dir: Path | None = None, *, timeout: float = INSTALL_TIMEOUT) -> Path:
    """Install the pinned engine unless it is there already; return its folder.

    A fast no-op when this pin is installed. Otherwise ``npm ci --ignore-scripts`` (the
    lock's exact versions and integrity hashes, no install scripts) into a temporary folder
    beside the final one, a check that the engine loads, then one rename: an interrupted
    install leaves nothing that counts as installed.

    Raises:
        PrismaEngineError: no suitable Node.js or npm, npm failed, or the engine did not load.
    """
    return _install(cache_dir, timeout=timeout)[0]


def _install(cache_dir: Path | None, *, timeout: float) -> tuple[Path, bool]:
    node = find_node()
    digest = lock_digest()
    home = engine_home(cache_dir)
    if _installed(home, digest):
        return home, False
    home.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_attempts(home.parent)
    scratch = Path(tempfile.mkdtemp(prefix=f".install-{home.name}-", dir=home.parent))
    try:
        shutil.copyfile(MANIFEST, scratch / "package.json")
        shutil.copyfile(LOCKFILE, scratch / "package-lock.json")
        _npm_ci(node, scratch, timeout=timeout)
        _call(node, scratch, "version", {}, timeout=60, secrets=())  # the wasm loads
        (scratch / MARKER).write_text(digest + "\n")
        if home.exists() and not _installed(home, digest):
            # Not an install (those are renamed in whole, marker included): debris.
            shutil.rmtree(home, ignore_errors=True)
        try:
            scratch.rename(home)
        except OSError:
            # Another process finished the same install first: its copy is as good.
            if not _installed(home, digest):
                raise PrismaEngineError(
                    f"could not move the installed engine to {home}; remove that folder "
                    "and run `lumiku-ops prisma install` again"
                ) from None
            return home, False
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return home, True


def _remove_stale_attempts(folder: Path, older_than: float = 3600.0) -> None:
    # Leftovers of installs that were killed; a running one is younger than this.
    for attempt in folder.glob(".install-*"):
        try:
            if time.time() - attempt.stat().st_mtime > older_than:
                shutil.rmtree(attempt, ignore_errors=True)
        except OSError:
            continue


def _npm_ci(node: Path, folder: Path, *, timeout: float) -> None:
    npm = _npm(node)
    command = [str(npm)] if npm.suffix != ".js" else [str(node), str(npm)]
    command += ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        done = subprocess.run(
            command,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "npm_config_update_notifier": "false"},
        )
    except subprocess.TimeoutExpired:
        raise PrismaEngineError(
            f"npm ci did not finish within {timeout:g} s; is the npm registry reachable?"
        ) from None
    except OSError as exc:
        raise PrismaEngineError(f"could not run {npm}: {exc.strerror}") from None
    if done.returncode != 0:
        raise PrismaEngineError(
            "could not install Prisma's schema engine: npm ci failed: " + _npm_reason(done.stderr)
        )


def _npm_reason(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    # npm prints "npm error code E404", then "npm error 404 Not Found - GET https://...".
    errors = [line.removeprefix("npm error").strip() for line in lines if "error" in line]
    picked = [line for line in errors if line and not line.startswith(("A complete log", "code"))]
    return redact((picked or lines or ["no message"])[0])


# --- Running an operation -----------------------------------------------------------------


def _call(
    node: Path,
    home: Path,
    op: str,
    request: dict[str, Any],
    *,
    timeout: float,
    secrets: Iterable[str | None],
) -> dict[str, Any]:
    payload = json.dumps({"op": op, **request})
    try:
        done = subprocess.run(
            [str(node), str(DRIVER), str(home)],
            input=payload,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PrismaEngineError(
            f"Prisma's schema engine did not finish {op} within {timeout:g} s"
        ) from None
    except OSError as exc:
        raise PrismaEngineError(f"could not run {node}: {exc.strerror}") from None
    result = _result_of(done.stdout)
    if result is None:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise PrismaEngineError(
            f"Prisma's schema engine stopped without an answer to {op}: "
            + redact(last.strip(), secrets)
        )
    if not result.get("ok"):
        raise _engine_error(op, result, secrets)
    return result


def _result_of(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            result = json.loads(line)
        except ValueError:
            continue
        return result if isinstance(result, dict) and "ok" in result else None
    return None


# "  -->  prisma/schema.prisma:12" under a schema error
_LOCATION = re.compile(r"^\s*-->\s+(?P<where>.+?:\d+)\s*$", re.MULTILINE)


def _engine_error(op: str, result: dict[str, Any], secrets: Iterable[str | None]) -> Exception:
    message = str(result.get("error") or "the schema engine failed")
    code = result.get("code") if isinstance(result.get("code"), str) else None
    suffix = f" ({code})" if code else ""
    if result.get("kind") == "request":
        return PrismaEngineError(f"lumiku-ops sent the schema engine a bad request: {message}")
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if code == "P1012":
        # Prisma's schema errors: "error: WHAT", "  -->  FILE:LINE", then the source lines.
        problems = [
            line.removeprefix("error:").strip() for line in lines if line.startswith("error:")
        ]
        where = _LOCATION.search(message)
        first = (problems or lines or ["invalid schema"])[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        text = f"{where.group('where')}: {first}" if where else f"Prisma schema: {first}"
        return PrismaSchemaError(redact(f"{text}{more}{suffix}", secrets), code=code)
    # The first line says what failed; the last one, when there are more, says why (for a
    # migration that failed on the shadow database: PostgreSQL's own error).
    text = lines[0] if lines else "the schema engine failed"
    if len(lines) > 1 and lines[-1] != lines[0]:
        text = f"{text.rstrip('. ')}: {lines[-1]}"
    return PrismaEngineError(
        redact(f"Prisma's schema engine ({op}): {text}{suffix}", secrets), code=code
    )


def _run(
    op: str,
    request: dict[str, Any],
    *,
    cache_dir: Path | None,
    timeout: float,
    secrets: Iterable[str | None] = (),
) -> dict[str, Any]:
    home = install_engine(cache_dir)
    return _call(find_node(), home, op, request, timeout=timeout, secrets=secrets)


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


# --- The operations -------------------------------------------------------------------------


def engine_version(*, cache_dir: Path | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """``{"engine": git hash of the engine build, "packages": {npm name: version}}``."""
    result = _run("version", {}, cache_dir=cache_dir, timeout=timeout)
    return {"engine": result["engine"], "packages": result["packages"]}


def installed_engine(cache_dir: Path | None = None) -> EngineInstall:
    """Install the engine if needed (see :func:`install_engine`) and describe it."""
    home, fresh = _install(cache_dir, timeout=INSTALL_TIMEOUT)
    node = find_node()
    version = _call(node, home, "version", {}, timeout=60, secrets=())
    return EngineInstall(
        path=home,
        source="npm" if fresh else "present",
        engine=str(version["engine"]),
        packages={str(k): str(v) for k, v in version["packages"].items()},
        node=node_version_text(node),
    )


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
