"""The shadow database: what the revisions produce, and what the models expect.

Like Prisma's shadow database, the revisions are replayed into a throwaway database on a
throwaway embedded server, never on the target, in one migration context as ``alembic
upgrade head`` runs them (``runner.replay`` says why one). The catalog after each revision
is recorded, so one replay answers "what should a database at revision X
look like" for every X, and "which revision creates table T". Results are cached in
memory and on disk (in the user's cache folder, never the project), keyed by the revision
files' content (and the models' DDL), so a second diagnosis costs a file read.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, Table, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from lumiku_ops.db import templates
from lumiku_ops.db.catalog import TableCatalog, read_model_tables
from lumiku_ops.db.models_ddl import create_models, pristine
from lumiku_ops.db.scratch import scratch_server_url, shadow_database
from lumiku_ops.errors import LumikuOpsError, ShadowReplayError, database_reason
from lumiku_ops.migrate import runner
from lumiku_ops.migrate.revisions import RevisionInfo, list_revisions, required_extensions
from lumiku_ops.migrate.scripts import script_directory, version_locations
from lumiku_ops.project import Project
from lumiku_ops.project_code import describe_exit
from lumiku_ops.redaction import mask_url, redact
from lumiku_ops.settings import Settings, user_cache_dir

_memory: dict[str, Any] = {}
# Bumped when what a cached point holds changes, so old entries are never misread.
_CACHE_FORMAT = 3
# The same for the models' catalog (2: the catalog and what PostgreSQL refused).
_MODELS_FORMAT = 2
# Copying a template costs about as much as replaying a few small revisions (two copies per
# run: restore and keep); below this many revisions a replay from scratch is as fast.
_TEMPLATE_WORTH = 8
# "extension "uuid-ossp" is not available" (PostgreSQL 15+), or, before that,
# "could not open extension control file ".../uuid-ossp.control"".
_MISSING_EXTENSION = re.compile(
    r'extension "(?P<a>[^"]+)" is not available'
    r'|extension control file "[^"]*/(?P<b>[^"/]+)\.control"'
)


class ModelsCatalog(dict[str, dict[str, Any]]):
    """The models' ``TableCatalog``, and what of the models PostgreSQL refused to create.

    ``refused`` holds one ``Refusal.to_dict()`` per object left out (a foreign key to a
    column with no unique constraint, say): the catalog is what remains.
    """

    def __init__(self, catalog: TableCatalog, refused: list[dict[str, Any]]) -> None:
        super().__init__(catalog)
        self.refused = refused


@dataclass
class MigrationReplay:
    """The model tables as each revision leaves them, oldest revision first."""

    fingerprint: str
    order: list[str]
    heads: list[str]
    catalogs: dict[str, TableCatalog] = field(default_factory=dict)
    extensions: list[str] = field(default_factory=list)
    # The revisions this call ran on a database (the others came from the cache).
    replayed: list[str] = field(default_factory=list)

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


def _cache_dir(cache_dir: Path | None) -> Path:
    return cache_dir or user_cache_dir()


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
    # A revision may quote the sqlalchemy.url it was handed: never show its password.
    first = redact(message.splitlines()[0], [shadow_url]) if message else ""
    return ShadowReplayError(
        f"revision {revision} fails when replayed on an empty database: "
        f"{type(exc).__name__}: {first}"
    )


def _refuse_missing_extensions(
    connection: Connection, needed: list[tuple[str, str]], shadow_url: str | None
) -> None:
    """Fail at once, before any replay, if the shadow server lacks an extension needed."""
    if not needed:
        return
    rows = connection.execute(text("SELECT name FROM pg_available_extensions"))
    available = {str(name) for name in rows.scalars()}
    connection.rollback()
    for revision, extension in needed:
        if extension not in available:
            message = f'extension "{extension}" is not available'
            raise _replay_failure(revision, RuntimeError(message), shadow_url)


def _extensions(connection: Connection) -> list[str]:
    rows = connection.execute(
        text("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1")
    )
    return [str(name) for name in rows.scalars()]


def history_keys(project: Project, revisions: list[RevisionInfo]) -> list[str]:
    """One key per revision: the SHA-256 of the history up to and including it.

    ``key[n] = sha256(key[n-1], revision n's id, parent and file)``, starting from the
    files every revision shares (``env.py``, the template, SQL files revisions read) and
    what decides which tables are recorded. Adding a revision keeps every earlier key, so
    only the new one misses the cache; editing a revision changes its key and every later.
    """
    own = {info.path.resolve() for info in revisions}
    shared = hashlib.sha256(f"{_CACHE_FORMAT}\0".encode())
    shared.update(
        repr(
            (
                sorted(project.exclude_tables),
                project.exclude_prefixes,
                project.x_arguments,
                project.baseline_ref,
            )
        ).encode()
    )
    baseline = _baseline_file(project)
    if baseline is not None:
        shared.update(baseline.read_bytes())
    folders = [project.migrations_dir, *version_locations(project)]
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.resolve() in own or "__pycache__" in path.parts:
                continue
            if path.suffix in (".pyc", ".tmp"):
                continue
            shared.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    key, keys = shared.hexdigest(), []
    for info in revisions:
        step = hashlib.sha256(f"{key}\0{info.revision}\0{info.down_revision}\0".encode())
        step.update(info.path.read_bytes())
        key = step.hexdigest()
        keys.append(key)
    return keys


def _baseline_file(project: Project) -> Path | None:
    """The file of the project's ``baseline`` function: editing it replays the history."""
    if project.baseline_ref is None:
        return None
    module_name = project.baseline_ref.partition(":")[0]
    project.baseline()  # imports it (a ConfigError names the key)
    found = getattr(sys.modules.get(module_name), "__file__", None)
    return Path(found) if found and Path(found).is_file() else None


def _cached_point(key: str, cache_dir: Path | None) -> dict[str, Any] | None:
    if key in _memory:
        return dict(_memory[key])
    point = _load(_cache_dir(cache_dir) / f"revision-{key}.json")
    if point is not None and {"catalog", "extensions", "memo"} <= set(point):
        _memory[key] = point
        return dict(point)
    return None


def replay_migrations(
    project: Project,
    *,
    shadow_url: str | None = None,
    cache_dir: Path | None = None,
    at_head: Callable[[Connection], None] | None = None,
) -> MigrationReplay:
    """Replay the revisions into a shadow database and record the catalog after each.

    Each revision's catalog is cached under the key of the history up to it, so only the
    revisions after the last cached point run. With a ``shadow_url``, that point is
    restored from a template database kept on the server (``lumiku_ops.db.templates``);
    without one, or when the template is gone, the history replays from the start.

    ``at_head`` is called with the shadow database at the head when this call replays (so
    the head comparison needs no second replay); not when every point came from the cache.

    Raises:
        ShadowReplayError: a revision fails on an empty database (the message names the
            revision, and for a missing extension the extension and the ``shadow_url`` fix).
    """
    scripts = script_directory(project)
    revisions = list_revisions(scripts)
    order = [info.revision for info in revisions]
    keys = history_keys(project, revisions)
    replay = MigrationReplay(
        fingerprint=keys[-1] if keys else "", order=order, heads=sorted(scripts.get_heads())
    )
    points: list[dict[str, Any]] = []
    for key in keys:
        point = _cached_point(key, cache_dir)
        if point is None:
            break
        points.append(point)
    for revision, point in zip(order, points, strict=False):
        replay.catalogs[revision] = point["catalog"]
    if len(points) == len(order):
        replay.extensions = list(points[-1]["extensions"]) if points else []
        return replay

    start = 0
    restored = None
    if shadow_url and len(points) >= _TEMPLATE_WORTH:
        restored = templates.newest_template(shadow_url, keys[: len(points)])
    # A template is resumed only with the DDL runner's memo of its point (see runner.replay).
    if (
        shadow_url
        and restored is not None
        and restored + 1 >= _TEMPLATE_WORTH
        and points[restored].get("memo") is not None
    ):
        start = restored + 1
        memo = points[restored]["memo"]
        scratch = templates.scratch_from_template(shadow_url, keys[restored])
    else:
        memo = None
        scratch = shadow_database(shadow_url)
    pending = revisions[start:]
    key_of = {info.revision: key for info, key in zip(pending, keys[start:], strict=True)}
    extensions: list[str] = []

    def applied(revision: str, runner_memo: dict[str, Any] | None) -> None:
        nonlocal extensions
        replay.catalogs[revision] = read_model_tables(connection, is_model=project.is_model_object)
        extensions = _extensions(connection)
        replay.replayed.append(revision)
        point: dict[str, Any] = {"revision": revision, "catalog": replay.catalogs[revision]}
        point["extensions"] = extensions
        point["memo"] = runner_memo
        _memory[key_of[revision]] = point
        _store(_cache_dir(cache_dir) / f"revision-{key_of[revision]}.json", point)

    with scratch as connection:
        needed = required_extensions(pending)
        _refuse_missing_extensions(connection, needed, shadow_url)
        progress = runner.Progress()
        try:
            runner.replay(
                project,
                connection,
                [info.revision for info in pending],
                applied=applied,
                memo=memo,
                progress=progress,
            )
        except LumikuOpsError:
            raise
        except Exception as exc:  # any failure in user-written revision code
            if progress.running is None:
                raise ShadowReplayError(
                    f"the baseline ({project.baseline_ref}) fails on an empty database: "
                    f"{describe_exit(exc)}"
                ) from None
            raise _replay_failure(progress.running.revision, exc, shadow_url) from None
        missing = [info.revision for info in pending if info.revision not in replay.catalogs]
        if missing:  # never a cache that claims a revision it did not see
            raise ShadowReplayError(f"revision {missing[0]} was not run by the replay")
        replay.extensions = extensions
        if at_head is not None:
            at_head(connection)
        if shadow_url and len(order) >= _TEMPLATE_WORTH:  # closes the connection
            templates.keep_as_template(shadow_url, connection, keys[-1])
    return replay


def models_fingerprint(
    metadata: MetaData, extensions: list[str], tables: list[Table] | None = None
) -> str:
    """SHA-256 of the DDL the models (``tables``, default all) would emit on PostgreSQL,
    and the extensions."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    digest = hashlib.sha256(",".join(extensions).encode())
    for table in metadata.sorted_tables if tables is None else tables:
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
) -> ModelsCatalog:
    """The catalog the models define, as PostgreSQL itself renders it.

    ``extensions`` (those the revisions create) are created first, so a server default
    such as ``uuid_generate_v4()`` resolves as it does in the real database. Only what the
    models' module declared is created (``models_ddl.pristine``: never what a revision
    module attached to the shared tables), and what PostgreSQL refuses is left out and
    listed in ``refused`` rather than raised: ``alembic check`` never creates the models,
    so models that cannot be created whole still get compared.
    """
    metadata = project.metadata()
    wanted = list(extensions or [])
    with pristine(metadata, project.metadata_as_imported()) as tables:
        fingerprint = models_fingerprint(metadata, wanted, tables)
        key = f"models{_MODELS_FORMAT}-{fingerprint}"
        cached = _memory.get(key) or _load(_cache_dir(cache_dir) / f"{key}.json")
        if cached is None or {"catalog", "refused"} - set(cached):
            cached = _create_models(project, metadata, tables, wanted, shadow_url)
            _store(_cache_dir(cache_dir) / f"{key}.json", cached)
    _memory[key] = cached
    return ModelsCatalog(cached["catalog"], list(cached["refused"]))


def _create_models(
    project: Project,
    metadata: MetaData,
    tables: list[Table],
    extensions: list[str],
    shadow_url: str | None,
) -> dict[str, Any]:
    with shadow_database(shadow_url) as connection:
        try:
            with connection.begin():
                for name in extensions:
                    connection.execute(text(_create_extension(name)))
                refused = create_models(connection, metadata, tables)
                catalog = read_model_tables(connection, is_model=project.is_model_object)
        except (DBAPIError, SQLAlchemyError) as exc:
            raise ShadowReplayError(
                f"the models ({project.metadata_ref}) cannot be created on an empty "
                f"database: {database_reason(exc)}"
            ) from None
    return {"catalog": catalog, "refused": [r.to_dict() for r in refused]}


def _create_extension(name: str) -> str:
    quoted = name.replace('"', '""')
    return f'CREATE EXTENSION IF NOT EXISTS "{quoted}"'


def replay_and_models(
    settings: Settings, *, cache_dir: Path | None = None
) -> tuple[MigrationReplay, ModelsCatalog]:
    """The settings' project replayed, and its models' catalog, on the configured shadow."""
    project = settings.project
    project.metadata()  # the models first: a module that fails to import fails at once
    shadow_url = scratch_server_url(settings)
    cache = cache_dir or settings.cache_dir
    replay = replay_migrations(project, shadow_url=shadow_url, cache_dir=cache)
    models = model_catalog(
        project, extensions=replay.extensions, shadow_url=shadow_url, cache_dir=cache
    )
    return replay, models
