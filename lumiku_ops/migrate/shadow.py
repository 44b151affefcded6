"""The shadow database: what the revisions produce, and what the models expect.

Like Prisma's shadow database, the revisions are replayed into a throwaway database on the
shadow server (``shadow_url``, or an embedded one kept in the user's cache folder), never
on the target, in one migration context as ``alembic
upgrade head`` runs them (``runner.replay`` says why one). The catalog after each revision
is recorded, so one replay answers "what should a database at revision X
look like" for every X, and "which revision creates table T". Results are cached in
memory and on disk (in the user's cache folder, never the project), keyed by the revision
files' content (and the models' DDL), so a second diagnosis costs a file read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from lumiku_ops.db import templates
from lumiku_ops.db.catalog import TableCatalog, read_model_tables
from lumiku_ops.db.scratch import (
    TemplateUnavailable,
    embedded_shadow_url,
    scratch_server_url,
    shadow_database,
)
from lumiku_ops.errors import LumikuOpsError, ShadowReplayError
from lumiku_ops.migrate import runner
from lumiku_ops.migrate.cache_files import cache_folder, load, store
from lumiku_ops.migrate.listing import Listing, history_listing
from lumiku_ops.migrate.models_catalog import ModelsCatalog, model_catalog
from lumiku_ops.migrate.progress import Progress
from lumiku_ops.migrate.revisions import required_extensions
from lumiku_ops.project import Project
from lumiku_ops.project_code import describe_exit
from lumiku_ops.redaction import mask_url, redact
from lumiku_ops.settings import Settings

_memory: dict[str, Any] = {}
# Copying a template costs about as much as replaying a few small revisions (two copies per
# run: restore and keep); below this many revisions a replay from scratch is as fast.
_TEMPLATE_WORTH = 8
# "extension "uuid-ossp" is not available" (PostgreSQL 15+), or, before that,
# "could not open extension control file ".../uuid-ossp.control"".
_MISSING_EXTENSION = re.compile(
    r'extension "(?P<a>[^"]+)" is not available'
    r'|extension control file "[^"]*/(?P<b>[^"/]+)\.control"'
)


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


def _cached_point(key: str, cache_dir: Path | None) -> dict[str, Any] | None:
    if key in _memory:
        return dict(_memory[key])
    point = load(cache_folder(cache_dir) / f"revision-{key}.json")
    if isinstance(point, dict) and {"catalog", "extensions", "memo"} <= set(point):
        _memory[key] = point
        return dict(point)
    return None


def replay_migrations(
    project: Project,
    *,
    shadow_url: str | None = None,
    cache_dir: Path | None = None,
    at_head: Callable[[Connection, str], None] | None = None,
    listing: Listing | None = None,
) -> MigrationReplay:
    """Replay the revisions into a shadow database and record the catalog after each.

    Each revision's catalog is cached under the key of the history up to it, so only the
    revisions after the last cached point run. That point is restored from a template
    database kept on the shadow server (``shadow_url``, or the embedded one in the cache
    folder; ``lumiku_ops.db.templates``); when the template is gone, the history replays
    from the start.

    ``listing`` is the history's ``history_listing`` when the caller has it already.

    ``at_head`` is called with the shadow database at the head and the history's key
    (``fingerprint``) when this call replays (so the head comparison needs no second
    replay); not when every point came from the cache.

    Raises:
        ShadowReplayError: a revision fails on an empty database (the message names the
            revision, and for a missing extension the extension and the ``shadow_url`` fix).
    """
    listing = listing or history_listing(project, cache_folder(cache_dir))
    revisions, keys = listing.revisions, listing.keys
    order = [info.revision for info in revisions]
    replay = MigrationReplay(fingerprint=keys[-1] if keys else "", order=order, heads=listing.heads)
    whole = _cached_replay(replay.fingerprint, order, cache_dir)
    if whole is not None:
        replay.catalogs, replay.extensions = whole
        return replay
    points: list[dict[str, Any]] = []
    # A history that grew by one revision: the rest from the previous whole replay.
    before = _cached_replay(keys[-2], order[:-1], cache_dir) if len(keys) > 1 else None
    if before is not None:
        points = [{"catalog": before[0][rev], "extensions": before[1]} for rev in order[:-1]]
        # The point a template resumes from needs the runner's memo: from its own file.
        points[-1] = _cached_point(keys[-2], cache_dir) or points[-1]
    for key in keys[len(points) :]:
        point = _cached_point(key, cache_dir)
        if point is None:
            break
        points.append(point)
    for revision, point in zip(order, points, strict=False):
        replay.catalogs[revision] = point["catalog"]
    if len(points) == len(order):
        replay.extensions = list(points[-1]["extensions"]) if points else []
        _store_replay(replay, cache_dir)
        return replay

    start = 0
    restored = None
    # The embedded shadow server is kept in the cache folder: it keeps templates too.
    server = shadow_url or embedded_shadow_url()
    if len(points) >= _TEMPLATE_WORTH:
        restored = templates.newest_template(server, keys[: len(points)])
    stack = ExitStack()
    connection: Connection | None = None
    memo = None
    # A template is resumed only with the DDL runner's memo of its point (see runner.replay).
    if (
        restored is not None
        and restored + 1 >= _TEMPLATE_WORTH
        and points[restored].get("memo") is not None
    ):
        try:
            connection = stack.enter_context(
                templates.scratch_from_template(server, keys[restored])
            )
            start, memo = restored + 1, points[restored]["memo"]
        except TemplateUnavailable:
            pass  # another run took it meanwhile: replay from the start
    if connection is None:
        connection = stack.enter_context(shadow_database(server))
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
        store(cache_folder(cache_dir) / f"revision-{key_of[revision]}.json", point)

    with stack:
        needed = required_extensions(pending)
        _refuse_missing_extensions(connection, needed, shadow_url)
        progress = Progress()
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
            at_head(connection, replay.fingerprint)
        if len(order) >= _TEMPLATE_WORTH:  # closes the connection
            templates.keep_as_template(server, connection, keys[-1])
    _store_replay(replay, cache_dir)
    return replay


def _store_replay(replay: MigrationReplay, cache_dir: Path | None) -> None:
    """Keep the whole replay in one file, a table's entry written again only where a
    revision changed it: a warm command reads one small file, not a catalog per revision."""
    if not replay.order:
        return
    tables: list[dict[str, Any]] = []
    last: dict[str, tuple[dict[str, Any], int]] = {}
    points = []
    for revision in replay.order:
        point = {}
        for name, entry in replay.catalogs[revision].items():
            before = last.get(name)
            if before is None or before[0] != entry:
                before = last[name] = (entry, len(tables))
                tables.append(entry)
            point[name] = before[1]
        points.append(point)
    whole = {"order": replay.order, "tables": tables, "points": points}
    whole["extensions"] = replay.extensions
    _memory[f"replay-{replay.fingerprint}"] = whole
    store(cache_folder(cache_dir) / f"replay-{replay.fingerprint}.json", whole)


def _cached_replay(
    key: str, order: list[str], cache_dir: Path | None
) -> tuple[dict[str, TableCatalog], list[str]] | None:
    """The catalogs and extensions ``_store_replay`` kept for the history ``key``."""
    name = f"replay-{key}"
    whole = _memory.get(name) or load(cache_folder(cache_dir) / f"{name}.json")
    try:
        if whole is None or whole["order"] != order:
            return None
        tables = whole["tables"]
        catalogs = {
            revision: {table: tables[index] for table, index in point.items()}
            for revision, point in zip(order, whole["points"], strict=True)
        }
        extensions = [str(name) for name in whole["extensions"]]
    except (KeyError, IndexError, TypeError, ValueError):
        return None  # a damaged file is a cache miss
    _memory[name] = whole
    return catalogs, extensions


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
