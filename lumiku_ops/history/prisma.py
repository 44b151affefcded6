"""Prisma's history: ``prisma/migrations/*/migration.sql`` in folder-name order, each run
as one batch, and ``_prisma_migrations`` read by Prisma's own rules.

What counts as a difference is Prisma's engine's decision: it diffs the history's head
(replayed here) against ``schema.prisma``. When it finds something, the objects are named
by comparing the two real catalogs its SQL produced (Alembic's comparison over reflected
tables), so reports speak of tables and columns; when it finds nothing, there is nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, MetaData, create_engine, pool, text
from sqlalchemy.exc import DBAPIError

from lumiku_ops.db.catalog import read_model_tables
from lumiku_ops.db.fingerprint import agree, schema_extras, table_digests
from lumiku_ops.db.scratch import scratch_url
from lumiku_ops.errors import (
    MigrationError,
    PrismaEngineError,
    ShadowReplayError,
    database_reason,
)
from lumiku_ops.history.base import History, Recorded
from lumiku_ops.migrate.cache_files import load, store
from lumiku_ops.migrate.comparison import compare_models
from lumiku_ops.migrate.differences import Difference, kept_differences
from lumiku_ops.migrate.models_catalog import ModelsCatalog
from lumiku_ops.migrate.revisions import RevisionInfo
from lumiku_ops.migrate.shadow import MigrationReplay, _replay_failure
from lumiku_ops.prisma import engine
from lumiku_ops.prisma.migrations import PrismaMigration, list_migrations
from lumiku_ops.prisma.models import prisma_models, schema_digest, schema_of
from lumiku_ops.prisma.records import state

if TYPE_CHECKING:
    from lumiku_ops.migrate.apply import ApplyResult
    from lumiku_ops.migrate.create import MigrationCreated
    from lumiku_ops.migrate.plan import MigrationPlan

# Alembic's differences Prisma's engine never makes: it has no comments.
_NOT_PRISMA = frozenset({"modify_comment", "add_table_comment", "remove_table_comment"})

# Bump when what a cached replay point holds changes.
_CACHE_FORMAT = "prisma-replay-1"
# Bump when what a cached head comparison holds changes.
_HEAD_FORMAT = "prisma-head-1"
_memory: dict[str, dict[str, Any]] = {}


def _message(name: str) -> str:
    """``20251018_add_user_settings`` -> ``add user settings``."""
    stamp, _, slug = name.partition("_")
    return (slug if stamp.isdigit() else name).replace("_", " ")


class PrismaHistory(History):
    """A Prisma project's history."""

    kind = "prisma"
    version_table = "_prisma_migrations"

    @cached_property
    def migrations(self) -> list[PrismaMigration]:
        """The migration folders, in the order a deploy runs them."""
        return list_migrations(self.directory)

    def revisions(self) -> list[RevisionInfo]:
        """Every migration, oldest first; each one's parent is the folder before it."""
        infos, previous = [], None
        for migration in self.migrations:
            infos.append(
                RevisionInfo(migration.name, previous, _message(migration.name), migration.path)
            )
            previous = migration.name
        return infos

    def heads(self) -> list[str]:
        """The newest migration (a Prisma history is a line)."""
        return [self.migrations[-1].name] if self.migrations else []

    def _keys(self) -> list[str]:
        shared = hashlib.sha256(f"{_CACHE_FORMAT}\0".encode())
        shared.update(
            repr((sorted(self.project.exclude_tables), self.project.exclude_prefixes)).encode()
        )
        key, keys = shared.hexdigest(), []
        for migration in self.migrations:
            step = hashlib.sha256(f"{key}\0{migration.name}\0".encode())
            step.update(migration.sql.encode())
            key = step.hexdigest()
            keys.append(key)
        return keys

    def _cached(self, key: str) -> dict[str, Any] | None:
        if key in _memory:
            return _memory[key]
        try:
            point = json.loads((self.cache_dir / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None
        if isinstance(point, dict) and {"catalog", "extensions"} <= set(point):
            _memory[key] = point
            return point
        return None

    def _store(self, key: str, point: dict[str, Any]) -> None:
        _memory[key] = point
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            (self.cache_dir / f"{key}.json").write_text(json.dumps(point))
        except OSError:
            pass  # the cache only saves time

    def _replay(self) -> MigrationReplay:
        order = [m.name for m in self.migrations]
        keys = self._keys()
        replay = MigrationReplay(
            fingerprint=keys[-1] if keys else "", order=order, heads=self.heads()
        )
        points = [self._cached(key) for key in keys]
        if all(point is not None for point in points):
            for name, point in zip(order, points, strict=True):
                assert point is not None
                replay.catalogs[name] = point["catalog"]
            replay.extensions = list(points[-1]["extensions"]) if points and points[-1] else []
            return replay
        with self._head_database() as (connection, _url):
            for migration, key in zip(self.migrations, keys, strict=True):
                self._run(connection, migration)
                with connection.begin():
                    catalog = read_model_tables(connection, is_model=self.project.is_model_object)
                    extensions = _extensions(connection)
                replay.catalogs[migration.name] = catalog
                replay.replayed.append(migration.name)
                replay.extensions = extensions
                self._store(key, {"catalog": catalog, "extensions": extensions})
        return replay

    def _run(self, connection: Connection, migration: PrismaMigration) -> None:
        """One migration, as one batch, in its own transaction."""
        try:
            with connection.begin():
                if migration.sql.strip():
                    connection.exec_driver_sql(
                        migration.sql, execution_options={"no_parameters": True}
                    )
        except DBAPIError as exc:
            failure = _replay_failure(migration.name, exc, self.shadow_url)
            if "needs the extension" in str(failure):
                # It names the extension and the shadow_url fix.
                raise ShadowReplayError(str(failure).replace("revision", "migration", 1)) from None
            raise ShadowReplayError(
                f"migration {migration.name} ({migration.path}) fails on an empty database: "
                f"{database_reason(exc, [self.shadow_url])}"
            ) from None

    def _head_database(self) -> Any:
        return _Scratch(self.shadow_url)

    def _models(self) -> ModelsCatalog:
        built = prisma_models(self.project, self.shadow_url)
        return ModelsCatalog(built.catalog, [])

    def _compare(
        self,
        connection: Connection,
        metadata: MetaData | None = None,
        *,
        tables: Collection[str] | None = None,
    ) -> list[Difference]:
        """Name what differs by comparing two real catalogs, as Prisma's engine compares
        them: server defaults count (the engine diffs them), comments do not (Prisma has no
        comments; a migration may add some by hand)."""
        project = replace(self.project, compare_server_default=True)
        found = compare_models(connection, project, metadata, tables=tables)
        return [d for d in found if d.kind not in _NOT_PRISMA]

    def _external(
        self, connection: Connection, keep: Collection[str] | None = None
    ) -> tuple[list[str], list[str]]:
        """Tables and enum types that are not models (the project's exclusions, and with
        ``keep`` every table outside it): Prisma's engine must treat them as managed
        elsewhere, never propose dropping them."""
        tables = connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).scalars()
        enums = connection.execute(
            text(
                "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                "WHERE t.typtype = 'e' AND n.nspname = 'public'"
            )
        ).scalars()
        wanted = set(keep) if keep is not None else None

        def is_model(name: str) -> bool:
            if wanted is not None and name not in wanted:
                return False
            return self.project.is_model_object(name)

        # The engine wants them schema-qualified (P3023).
        return (
            sorted(f"public.{t}" for t in tables if not is_model(str(t))),
            sorted(f"public.{e}" for e in enums if not self.project.is_model_object(str(e))),
        )

    def _head_key(self) -> str:
        """The head comparison's cache key: the migrations (and exclusions), the schema's
        content and the engine that compared them."""
        digest = hashlib.sha256(f"{_HEAD_FORMAT}\0".encode())
        for part in (
            self.replay.fingerprint,
            schema_digest(schema_of(self.project)),
            engine.engine_identity(),
        ):
            digest.update(part.encode() + b"\0")
        return f"prisma-head-{digest.hexdigest()}"

    @cached_property
    def _head(self) -> dict[str, Any]:
        """The head comparison, kept in the cache folder: ``differences``, the engine's SQL
        and note, and the head's ``table_digests`` and ``schema_extras`` (``tables``)."""
        _ = self.replay  # a migration that cannot replay: one clear error first
        key = self._head_key()
        kept = _memory.get(key) or load(self.cache_dir / f"{key}.json")
        if not (isinstance(kept, dict) and kept_differences(kept.get("differences")) is not None):
            kept = self._compare_head()
            store(self.cache_dir / f"{key}.json", kept)
        _memory[key] = kept
        return kept

    def _compare_head(self) -> dict[str, Any]:
        built = prisma_models(self.project, self.shadow_url)
        with self._head_database() as (connection, url):
            for migration in self.migrations:
                self._run(connection, migration)
            with connection.begin():
                external = self._external(connection)
                tables = {**table_digests(connection), **schema_extras(connection)}
            sql = self._engine_plan(url, external)
            found: list[Difference] = []
            if sql is None or sql.strip():  # "": Prisma's engine finds them equal
                with connection.begin():
                    found = self._compare(connection, built.metadata)
                if sql is not None:
                    found = _with_engine_residue(found, sql)
        return {
            "differences": [d.to_dict() for d in found],
            "engine_sql": sql or "",
            "engine_note": getattr(self, "engine_note", None),
            "tables": tables,
        }

    def _head_differences(self) -> list[Difference]:
        head = self._head
        self._engine_sql = str(head.get("engine_sql") or "")
        if head.get("engine_note"):
            self.engine_note = str(head["engine_note"])
        return [Difference.from_dict(d) for d in head["differences"]]

    def _engine_plan(self, url: str, external: tuple[list[str], list[str]]) -> str | None:
        """The engine's SQL from the database at ``url`` to the schema (it only reads it);
        None when the engine crashed reading it (it does on some objects it cannot model,
        procrastinate's schema once): the catalogs then decide alone."""
        tables, enums = external
        try:
            return engine.url_to_schema(
                url, schema_of(self.project), external_tables=tables, external_enums=enums
            )
        except PrismaEngineError as exc:
            if exc.code is not None or "without an answer" not in str(exc):
                raise
            self.engine_note = f"Prisma's engine could not read the database: {exc}"
            return None

    def compare_target(
        self, connection: Connection, tables: Collection[str] | None = None
    ) -> list[Difference]:
        """The schema's tables against the database on ``connection`` (read-only).

        Prisma's engine decides whether they differ (it only reads the database); the
        catalogs then name what differs. If the engine cannot read the database (a crash
        on an object it cannot model), the catalogs decide alone.
        """
        if tables is not None and "_head" in self.__dict__:
            at_head = self._head.get("tables")
            if isinstance(at_head, dict):
                # The same tables, enums and extensions as the head: the same answer from
                # the engine (lumiku_ops.db.fingerprint), without starting it again.
                here = {**table_digests(connection, tables), **schema_extras(connection)}
                extras = [name for name in at_head if name.startswith("\0")]
                if agree(here, at_head, [*tables, *extras]):
                    return [Difference.from_dict(d) for d in self._head["differences"]]
        found = self._compare(connection, tables=tables)
        url = connection.engine.url.render_as_string(hide_password=False)
        sql = self._engine_plan(url, self._external(connection, keep=tables))
        if sql is None:
            return found
        return _with_engine_residue(found, sql) if sql.strip() else []

    def recorded(self, connection: Connection) -> Recorded:
        """``_prisma_migrations`` read by Prisma's rules (applied, failed, edited)."""
        found = state(connection, self.migrations)
        applied = [m.name for m in self.migrations if m.name in set(found.applied)]
        return Recorded(
            has_table=found.has_table,
            current=applied[-1] if applied else None,
            pending=list(found.pending),
            known=not found.missing_from_folder,
            applied=applied,
            failed=list(found.failed),
            edited=list(found.edited),
            unknown=list(found.missing_from_folder),
        )

    def create(self, message: str | None, *, allow_destructive: bool) -> MigrationCreated:
        """The engine's SQL from the head to the schema, as a new migration folder."""
        from lumiku_ops.prisma.create import create_prisma_migration

        return create_prisma_migration(
            self.settings, message, cache_dir=self.cache_dir, allow_destructive=allow_destructive
        )

    def plan(self, **options: Any) -> MigrationPlan:
        """The pending migration files, in the one transaction apply runs them in."""
        from lumiku_ops.prisma.plan import plan_prisma

        return plan_prisma(self.settings, **options)

    def apply(self, **options: Any) -> ApplyResult:
        """``prisma migrate deploy``'s rows, whole or not at all."""
        from lumiku_ops.prisma.deploy import deploy

        return deploy(self.settings, **options)

    def rollback(self, **options: Any) -> ApplyResult:
        """Refused: Prisma migrations have no down step."""
        raise MigrationError(
            "Prisma migrations have no down migration, so there is nothing to roll back to; "
            "nothing was changed. To undo one, revert schema.prisma and run `lumiku-ops "
            "migrate create --allow-destructive` (a new migration that undoes it, drops "
            "included: review it), then `migrate apply`"
        )

    @property
    def engine_sql(self) -> str:
        """The SQL Prisma's engine gives to take the history's head to the schema."""
        _ = self.head_differences
        return getattr(self, "_engine_sql", "")

    def models_sql(self) -> str:
        """The SQL Prisma's engine gives for the whole schema, from an empty database."""
        return prisma_models(self.project, self.shadow_url).sql


def _with_engine_residue(found: list[Difference], sql: str) -> list[Difference]:
    """The named differences; when the engine still has SQL none of them explains (a
    default, say), one more difference that quotes it, so nothing is silently dropped."""
    if found:
        return found
    steps = [step for step in sql.split("\n\n-- ") if step.strip()]
    if all(step.lstrip("- ").startswith("Drop") for step in steps):
        return []  # only drops of what the schema lacks: "only in the database", not ahead
    first = next(
        (line for line in sql.splitlines() if line.strip() and not line.startswith("--")), ""
    )
    named = re.search(r'(?:TABLE|ON) "(?P<table>[^"]+)"', first)
    return [
        *found,
        Difference(
            "modify_schema",
            named.group("table") if named else "",
            None,
            (),
            None,
            f"Prisma's engine still plans: {first.strip()[:200]}",
        ),
    ]


class _Scratch:
    """A scratch database (dropped afterwards): a connection, and its URL for the engine."""

    def __init__(self, shadow_url: str | None) -> None:
        self._scratch = scratch_url(shadow_url)

    def __enter__(self) -> tuple[Connection, str]:
        self._url = self._scratch.__enter__()
        self._engine = create_engine(self._url, poolclass=pool.NullPool)
        self._connection = self._engine.connect()
        return self._connection, self._url

    def __exit__(self, *exc: Any) -> None:
        try:
            self._connection.close()
            self._engine.dispose()
        finally:
            self._scratch.__exit__(*exc)


def _extensions(connection: Connection) -> list[str]:
    rows = connection.execute(
        text("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1")
    )
    return [str(name) for name in rows.scalars()]
