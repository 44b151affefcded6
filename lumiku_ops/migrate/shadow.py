"""The shadow database: what the revisions produce, and what the models expect.

Like Prisma's shadow database, the revisions are replayed, one at a time, into a
throwaway database on a throwaway embedded server, never on the target. The catalog after
each revision is recorded, so one replay answers "what should a database at revision X
look like" for every X, and "which revision creates table T". Results are cached in
memory and on disk, keyed by the revision files' content (and the models' DDL), so a
second diagnosis costs a file read.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, create_engine, pool, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from lumiku_ops.db.catalog import TableCatalog, read_model_tables
from lumiku_ops.db.embedded import EmbeddedPostgres, start_embedded
from lumiku_ops.db.reaper import start_reaper
from lumiku_ops.errors import LumikuOpsError, ShadowReplayError, database_reason
from lumiku_ops.migrate import runner
from lumiku_ops.migrate.revisions import fingerprint, list_revisions
from lumiku_ops.project import Project
from lumiku_ops.redaction import mask_url
from lumiku_ops.settings import Settings

_server: EmbeddedPostgres | None = None
_memory: dict[str, Any] = {}
# "extension "uuid-ossp" is not available" (PostgreSQL 15+), or, before that,
# "could not open extension control file ".../uuid-ossp.control"".
_MISSING_EXTENSION = re.compile(
    r'extension "(?P<a>[^"]+)" is not available'
    r'|extension control file "[^"]*/(?P<b>[^"/]+)\.control"'
)
SHADOW_PREFIX = "lumiku_shadow_"
# A replay takes seconds; a scratch database this old with nobody connected was abandoned.
ABANDONED_AFTER_S = 3600.0


@dataclass
class MigrationReplay:
    """The model tables as each revision leaves them, oldest revision first."""

    fingerprint: str
    order: list[str]
    heads: list[str]
    catalogs: dict[str, TableCatalog] = field(default_factory=dict)
    extensions: list[str] = field(default_factory=list)

    def at(self, revision: str | None) -> TableCatalog:
        """The catalog a database at ``revision`` should have (``None``: no revision)."""
        return {} if revision is None else self.catalogs[revision]

    @property
    def head_catalog(self) -> TableCatalog:
        """The catalog at the (last) head."""
        return self.at(self.order[-1]) if self.order else {}

    def created_by(self) -> dict[str, str]:
        """For each table, the first revision after which it exists."""
        creators: dict[str, str] = {}
        for revision in self.order:
            for table in self.catalogs[revision]:
                creators.setdefault(table, revision)
        return creators

    def to_json(self) -> dict[str, Any]:
        """Cache form."""
        return {
            "fingerprint": self.fingerprint,
            "order": self.order,
            "heads": self.heads,
            "catalogs": self.catalogs,
            "extensions": self.extensions,
        }


def shadow_server() -> EmbeddedPostgres:
    """The process's throwaway embedded server (started on first use, deleted at exit)."""
    global _server
    if _server is None:
        folder = Path(tempfile.mkdtemp(prefix="lumiku-shadow-"))
        start_reaper(folder)  # stops it even if this process is killed
        _server = start_embedded(folder / "pgdata", cleanup="delete", database=None)
    return _server


def _admin(shadow_url: str) -> Any:
    import psycopg

    url = make_url(shadow_url)
    return psycopg.connect(
        host=url.query.get("host") or url.host,  # type: ignore[arg-type]
        port=url.port,
        user=url.username,
        password=url.password,
        dbname=url.database or "postgres",
        autocommit=True,
        connect_timeout=10,
    )


@contextmanager
def _scratch_on(shadow_url: str) -> Iterator[str]:
    """A new database on the server at ``shadow_url``, dropped afterwards."""
    from psycopg import Error, sql

    # The creation time is in the name, so a later run can drop what a killed one left.
    name = f"{SHADOW_PREFIX}{int(time.time())}_{uuid.uuid4().hex[:8]}"
    try:
        with _admin(shadow_url) as conn:
            _drop_abandoned(conn)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except Error as exc:
        reason = str(exc).strip().splitlines()
        raise ShadowReplayError(
            f"cannot create a scratch database on the shadow server {mask_url(shadow_url)}: "
            f"{reason[0] if reason else type(exc).__name__}. The shadow_url role needs "
            "CREATEDB (ALTER ROLE ... CREATEDB), and the server must be reachable"
        ) from None
    try:
        yield make_url(shadow_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin(shadow_url) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _drop_abandoned(conn: Any, older_than_s: float = ABANDONED_AFTER_S) -> None:
    """Drop scratch databases a killed run left: old, and with nobody connected."""
    from psycopg import Error, sql

    rows = conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname NOT IN "
        "(SELECT datname FROM pg_stat_activity WHERE datname IS NOT NULL)",
        (SHADOW_PREFIX.replace("_", r"\_") + "%",),
    ).fetchall()
    for (name,) in rows:
        stamp = name[len(SHADOW_PREFIX) :].split("_", 1)[0]
        if stamp.isdigit() and time.time() - int(stamp) > older_than_s:
            try:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            except Error:
                pass  # another run got there first, or it is not ours to drop


@contextmanager
def shadow_database(shadow_url: str | None = None) -> Iterator[Connection]:
    """A connection to a new, empty database, dropped afterwards; never the target.

    On the server at ``shadow_url`` when given (as Prisma's ``shadowDatabaseUrl``), else on
    a throwaway embedded server.
    """
    if shadow_url:
        scratch = _scratch_on(shadow_url)
    else:
        scratch = _scratch_embedded()
    with scratch as url:
        engine = create_engine(url, poolclass=pool.NullPool)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            engine.dispose()


@contextmanager
def _scratch_embedded() -> Iterator[str]:
    server = shadow_server()
    name = f"{SHADOW_PREFIX}{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


def _cache_dir(cache_dir: Path | None) -> Path:
    return cache_dir or Path.cwd() / ".lumiku" / "cache"


def _load(path: Path) -> dict[str, Any] | None:
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded
    except (OSError, ValueError):
        return None


def _store(path: Path, data: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
        temporary.write_text(json.dumps(data))
        temporary.replace(path)  # atomic: a concurrent reader never sees half a file
    except OSError:
        pass  # the cache is an optimisation; a read-only disk only costs time


def _replay_failure(revision: str, exc: Exception, shadow_url: str | None) -> ShadowReplayError:
    message = str(getattr(exc, "orig", exc)).strip()
    missing = _MISSING_EXTENSION.search(message)
    if missing:
        extension = missing.group("a") or missing.group("b")
        where = (
            f"the shadow server {mask_url(shadow_url)}"
            if shadow_url
            else "the embedded shadow server (it ships only plpgsql and vector)"
        )
        return ShadowReplayError(
            f'revision {revision} needs the extension "{extension}", which {where} lacks; '
            "point shadow_url at a PostgreSQL server that has it and a role with CREATEDB: "
            "--shadow-url URL, $LUMIKU_SHADOW_URL, or shadow_url in [tool.lumiku-ops]"
        )
    first = message.splitlines()[0] if message else ""
    return ShadowReplayError(
        f"revision {revision} fails when replayed on an empty database: "
        f"{type(exc).__name__}: {first}"
    )


def _extensions(connection: Connection) -> list[str]:
    rows = connection.execute(
        text("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1")
    )
    return [str(name) for name in rows.scalars()]


def replay_migrations(
    project: Project, *, shadow_url: str | None = None, cache_dir: Path | None = None
) -> MigrationReplay:
    """Replay every revision into a shadow database and record the catalog after each.

    Raises:
        ShadowReplayError: a revision fails on an empty database (the message names the
            revision, and for a missing extension the extension and the ``shadow_url`` fix).
    """
    key = f"replay-{fingerprint(project)}"
    if key in _memory:
        return MigrationReplay(**_memory[key])
    cached = _load(_cache_dir(cache_dir) / f"{key}.json")
    if cached is not None and "extensions" in cached:
        _memory[key] = cached
        return MigrationReplay(**cached)

    scripts = runner.script_directory(project)
    order = [info.revision for info in list_revisions(scripts)]
    replay = MigrationReplay(fingerprint=key, order=order, heads=sorted(scripts.get_heads()))
    with shadow_database(shadow_url) as connection:
        for revision in order:
            try:
                with connection.begin():
                    runner.upgrade(project, connection, revision)
                    replay.catalogs[revision] = read_model_tables(
                        connection, is_model=project.is_model_object
                    )
            except LumikuOpsError:
                raise
            except Exception as exc:  # any failure in user-written revision code
                raise _replay_failure(revision, exc, shadow_url) from None
        replay.extensions = _extensions(connection)
    _memory[key] = replay.to_json()
    _store(_cache_dir(cache_dir) / f"{key}.json", replay.to_json())
    return replay


def models_fingerprint(metadata: MetaData, extensions: list[str]) -> str:
    """SHA-256 of the DDL the models would emit on PostgreSQL, and the extensions."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    digest = hashlib.sha256(",".join(extensions).encode())
    for table in metadata.sorted_tables:
        digest.update(str(CreateTable(table).compile(dialect=dialect)).encode())
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            digest.update(str(CreateIndex(index).compile(dialect=dialect)).encode())
    return digest.hexdigest()


def model_catalog(
    project: Project,
    *,
    extensions: list[str] | None = None,
    shadow_url: str | None = None,
    cache_dir: Path | None = None,
) -> TableCatalog:
    """The catalog the models define, as PostgreSQL itself renders it.

    ``extensions`` (those the revisions create) are created first, so a server default
    such as ``uuid_generate_v4()`` resolves as it does in the real database.
    """
    metadata = project.metadata()
    wanted = list(extensions or [])
    key = f"models-{models_fingerprint(metadata, wanted)}"
    if key in _memory:
        return dict(_memory[key])
    cached = _load(_cache_dir(cache_dir) / f"{key}.json")
    if cached is None:
        with shadow_database(shadow_url) as connection:
            try:
                with connection.begin():
                    for name in wanted:
                        connection.execute(text(_create_extension(name)))
                    metadata.create_all(connection)
                    cached = read_model_tables(connection, is_model=project.is_model_object)
            except (DBAPIError, SQLAlchemyError) as exc:
                raise ShadowReplayError(
                    f"the models ({project.metadata_ref}) cannot be created on an empty "
                    f"database: {database_reason(exc)}"
                ) from None
        _store(_cache_dir(cache_dir) / f"{key}.json", cached)
    _memory[key] = cached
    return dict(cached)


def _create_extension(name: str) -> str:
    quoted = name.replace('"', '""')
    return f'CREATE EXTENSION IF NOT EXISTS "{quoted}"'


def replay_and_models(
    settings: Settings, *, cache_dir: Path | None = None
) -> tuple[MigrationReplay, TableCatalog]:
    """The settings' project replayed, and its models' catalog, on the configured shadow."""
    project = settings.project
    shadow_url = settings.effective_shadow_url
    cache = cache_dir or settings.cache_dir
    replay = replay_migrations(project, shadow_url=shadow_url, cache_dir=cache)
    models = model_catalog(
        project, extensions=replay.extensions, shadow_url=shadow_url, cache_dir=cache
    )
    return replay, models
