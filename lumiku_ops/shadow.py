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
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Connection, MetaData, create_engine, pool
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from lumiku_ops.alembic_runner import alembic_config
from lumiku_ops.catalog import TableCatalog, read_model_tables
from lumiku_ops.embedded import EmbeddedPostgres, default_data_dir, start_embedded
from lumiku_ops.errors import LumikuOpsError
from lumiku_ops.reaper import start_reaper
from lumiku_ops.revisions import fingerprint, list_revisions, script_directory

_server: EmbeddedPostgres | None = None
_memory: dict[str, Any] = {}


class ShadowReplayError(LumikuOpsError):
    """A revision failed when replayed on an empty database."""


@dataclass
class MigrationReplay:
    """The model tables as each revision leaves them, oldest revision first."""

    fingerprint: str
    order: list[str]
    heads: list[str]
    catalogs: dict[str, TableCatalog] = field(default_factory=dict)

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
        }


def shadow_server() -> EmbeddedPostgres:
    """The process's throwaway server (started on first use, deleted at exit)."""
    global _server
    if _server is None:
        folder = Path(tempfile.mkdtemp(prefix="lumiku-shadow-"))
        start_reaper(folder)  # stops it even if this process is killed
        _server = start_embedded(folder / "pgdata", cleanup="delete", database=None)
    return _server


@contextmanager
def shadow_database() -> Iterator[Connection]:
    """A connection to a new, empty database on the shadow server; dropped afterwards."""
    server = shadow_server()
    name = f"lumiku_shadow_{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    engine = create_engine(server.url(name), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()
        server.drop_database(name)


def _cache_dir(cache_dir: Path | None) -> Path:
    return cache_dir or default_data_dir().parent / "cache"


def _load(path: Path) -> dict[str, Any] | None:
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded
    except (OSError, ValueError):
        return None


def _store(path: Path, data: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data))
        temporary.replace(path)  # atomic: a concurrent reader never sees half a file
    except OSError:
        pass  # the cache is an optimisation; a read-only disk only costs time


def replay_migrations(migrations_dir: Path, *, cache_dir: Path | None = None) -> MigrationReplay:
    """Replay every revision into a shadow database and record the catalog after each.

    Raises:
        ShadowReplayError: a revision fails on an empty database.
    """
    key = f"replay-{fingerprint(migrations_dir)}"
    if key in _memory:
        return MigrationReplay(**_memory[key])
    cached = _load(_cache_dir(cache_dir) / f"{key}.json")
    if cached is not None:
        _memory[key] = cached
        return MigrationReplay(**cached)

    scripts = script_directory(migrations_dir)
    order = [info.revision for info in list_revisions(scripts)]
    replay = MigrationReplay(fingerprint=key, order=order, heads=sorted(scripts.get_heads()))
    with shadow_database() as connection:
        for revision in order:
            try:
                with connection.begin():
                    command.upgrade(alembic_config(migrations_dir, connection), revision)
                    replay.catalogs[revision] = read_model_tables(connection)
            except Exception as exc:  # any failure in user-written revision code
                raise ShadowReplayError(
                    f"revision {revision} fails when replayed on an empty database: "
                    f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                ) from None
    _memory[key] = replay.to_json()
    _store(_cache_dir(cache_dir) / f"{key}.json", replay.to_json())
    return replay


def models_fingerprint(metadata: MetaData) -> str:
    """SHA-256 of the DDL the models would emit on PostgreSQL."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    digest = hashlib.sha256()
    for table in metadata.sorted_tables:
        digest.update(str(CreateTable(table).compile(dialect=dialect)).encode())
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            digest.update(str(CreateIndex(index).compile(dialect=dialect)).encode())
    return digest.hexdigest()


def model_catalog(metadata: MetaData, *, cache_dir: Path | None = None) -> TableCatalog:
    """The catalog the models define, as PostgreSQL itself renders it."""
    key = f"models-{models_fingerprint(metadata)}"
    if key in _memory:
        return dict(_memory[key])
    cached = _load(_cache_dir(cache_dir) / f"{key}.json")
    if cached is None:
        with shadow_database() as connection:
            with connection.begin():
                metadata.create_all(connection)
                cached = read_model_tables(connection)
        _store(_cache_dir(cache_dir) / f"{key}.json", cached)
    _memory[key] = cached
    return dict(cached)
