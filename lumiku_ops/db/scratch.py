"""Scratch databases for shadow replays: on the ``shadow_url`` server, or on the embedded
shadow server kept in the user's cache folder; never the target, always dropped (or swept
later if a run was killed).

On either server, the run that owns a scratch database holds a session-level
advisory lock keyed by the database's name, on an admin connection, from before the
``CREATE DATABASE`` until after the ``DROP``. PostgreSQL releases the lock when that session
ends, however its process ended, so the next run's sweep drops every scratch database whose
lock is free at once, whatever its age and whichever host ran the owner.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, pool
from sqlalchemy.engine import make_url

from lumiku_ops.db.embedded import EmbeddedPostgres, start_embedded
from lumiku_ops.db.reaper import start_reaper
from lumiku_ops.errors import EmbeddedDatabaseError, ShadowReplayError
from lumiku_ops.redaction import mask_url
from lumiku_ops.settings import Settings, user_cache_dir

SHADOW_PREFIX = "lumiku_shadow_"
_server: EmbeddedPostgres | None = None


def shadow_server() -> EmbeddedPostgres:
    """The embedded shadow server, kept in the user's cache folder between runs.

    Its data folder (``<cache>/shadow/pgdata``) outlives the process, so the replay
    templates it holds (``templates``) let a history that grew by one revision replay that
    revision only; the server itself stops when the last process using it exits, or, for
    an owner that was killed, when the watchdog (``reaper``) sees it gone. A folder that
    will not start (a newer embedded PostgreSQL, a disk that filled up) is only a cache:
    it is deleted and made again.
    """
    global _server
    if _server is None:
        folder = user_cache_dir() / "shadow"
        try:
            try:
                _server = start_embedded(folder / "pgdata", database=None)
            except EmbeddedDatabaseError:
                shutil.rmtree(folder / "pgdata", ignore_errors=True)
                _server = start_embedded(folder / "pgdata", database=None)
            start_reaper(folder, keep=True)  # stops it even if this process is killed
        except (EmbeddedDatabaseError, OSError):
            # A cache folder that cannot hold a server (read-only, full): a throwaway one,
            # deleted at exit, costs an initdb per process but works.
            throwaway = Path(tempfile.mkdtemp(prefix="lumiku-shadow-"))
            start_reaper(throwaway)
            _server = start_embedded(throwaway / "pgdata", cleanup="delete", database=None)
    return _server


def embedded_shadow_url() -> str:
    """The URL of the embedded shadow server's ``postgres`` database (started if needed)."""
    return shadow_server().url("postgres")


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


def owner_lock_key(name: str) -> int:
    """The advisory lock (a signed 64-bit key) the owner of scratch database ``name`` holds."""
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=b"lumiku-shadow").digest()
    return int.from_bytes(digest, "big", signed=True)


def _drop(conn: Any, name: str) -> None:
    from psycopg import sql

    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class TemplateUnavailable(Exception):
    """The template a replay meant to resume from was taken or dropped meanwhile."""


@contextmanager
def scratch_on(shadow_url: str, *, template: str | None = None) -> Iterator[str]:
    """A new database on the server at ``shadow_url``, dropped afterwards; with
    ``template``, that database itself, renamed (taken over, not copied: a copy costs tens
    of milliseconds, and the replay keeps its new head as a template again).

    Its owner's advisory lock is held from before ``CREATE DATABASE`` (or the rename)
    until after the drop, so the sweep of abandoned scratch databases never takes a live
    one.

    Raises:
        TemplateUnavailable: ``template`` is gone, or in use by another run.
        ShadowReplayError: the server refuses a new database.
    """
    from psycopg import Error, sql

    name = f"{SHADOW_PREFIX}{int(time.time())}_{uuid.uuid4().hex[:8]}"
    try:
        # This session lives as long as the database; its lock says "still in use".
        owner = _admin(shadow_url)
    except Error as exc:
        raise _cannot_create(shadow_url, exc) from None
    try:
        try:
            owner.execute("SELECT pg_advisory_lock(%s)", (owner_lock_key(name),))
            drop_abandoned(owner)
        except Error as exc:
            raise _cannot_create(shadow_url, exc) from None
        if template is not None:
            try:
                owner.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                        sql.Identifier(template), sql.Identifier(name)
                    )
                )
            except Error:
                raise TemplateUnavailable(template) from None
        else:
            try:
                owner.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except Error as exc:
                raise _cannot_create(shadow_url, exc) from None
        try:
            yield make_url(shadow_url).set(database=name).render_as_string(hide_password=False)
        finally:
            try:
                _drop(owner, name)
            except Error:
                pass  # the session was lost: its lock is free, so the next sweep drops it
    finally:
        owner.close()  # releases the lock


def _cannot_create(shadow_url: str, exc: Exception) -> ShadowReplayError:
    reason = str(exc).strip().splitlines()
    return ShadowReplayError(
        f"cannot create a scratch database on the shadow server {mask_url(shadow_url)}: "
        f"{reason[0] if reason else type(exc).__name__}. The shadow_url role needs "
        "CREATEDB (ALTER ROLE ... CREATEDB), and the server must be reachable"
    )


def drop_abandoned(conn: Any) -> list[str]:
    """Drop the scratch databases whose owner is gone; return their names.

    The owner is gone when its advisory lock is free: nobody holds it in any database
    (``pg_locks``), and this session can take it, which also keeps two sweeps from
    dropping the same database. A database someone is connected to is left alone.
    """
    from psycopg import Error

    rows = conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname NOT IN "
        "(SELECT datname FROM pg_stat_activity WHERE datname IS NOT NULL)",
        (SHADOW_PREFIX.replace("_", r"\_") + "%",),
    ).fetchall()
    dropped = []
    for (name,) in rows:
        key = owner_lock_key(name)
        if _lock_held_elsewhere(conn, key):
            continue
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
            continue
        try:
            _drop(conn, name)
            dropped.append(name)
        except Error:
            pass  # another run got there first, or it is not ours to drop
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
    return dropped


def _lock_held_elsewhere(conn: Any, key: int) -> bool:
    # Advisory locks belong to the database the session is connected to; an owner whose
    # admin connection used another database still shows in pg_locks.
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
        "AND classid::bigint = %s AND objid::bigint = %s AND pid <> pg_backend_pid()",
        (unsigned >> 32, unsigned & 0xFFFFFFFF),
    ).fetchone()
    return row is not None


@contextmanager
def shadow_database(shadow_url: str | None = None) -> Iterator[Connection]:
    """A connection to a new, empty database, dropped afterwards; never the target.

    On the server at ``shadow_url`` when given (as Prisma's ``shadowDatabaseUrl``), else on
    the embedded shadow server (``shadow_server``).
    """
    with scratch_url(shadow_url) as url, connected(url) as connection:
        yield connection


@contextmanager
def connected(url: str) -> Iterator[Connection]:
    """One connection to the scratch database at ``url``, its engine disposed afterwards
    (so nothing holds the database when it is dropped or renamed)."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


@contextmanager
def scratch_url(shadow_url: str | None = None) -> Iterator[str]:
    """The URL of a new, empty database, dropped afterwards (see ``shadow_database``): for
    a tool that connects by itself (Prisma's schema engine)."""
    with scratch_on(shadow_url or embedded_shadow_url()) as url:
        yield url


def scratch_server_url(settings: Settings) -> str | None:
    """Where scratch databases go: ``shadow_url`` if configured; else, when the target is
    the project's own embedded server, that server (it is running already, and a second
    one costs an ``initdb``); else ``None``, a throwaway embedded server."""
    configured = settings.effective_shadow_url
    if configured:
        return configured
    pgdata = settings.lumiku_dir / "pgdata"
    if settings.database_url is not None:
        host = make_url(settings.database_url).query.get("host")
        if host != str(pgdata):
            return None
    return start_embedded(pgdata, database=None).url("postgres")
