"""Scratch databases for shadow replays: on the ``shadow_url`` server, or a throwaway
embedded one; never the target, always dropped (or swept later if a run was killed).

On a ``shadow_url`` server, the run that owns a scratch database holds a session-level
advisory lock keyed by the database's name, on an admin connection, from before the
``CREATE DATABASE`` until after the ``DROP``. PostgreSQL releases the lock when that session
ends, however its process ended, so the next run's sweep drops every scratch database whose
lock is free at once, whatever its age and whichever host ran the owner.
"""

from __future__ import annotations

import hashlib
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
from lumiku_ops.errors import ShadowReplayError
from lumiku_ops.redaction import mask_url
from lumiku_ops.settings import Settings

SHADOW_PREFIX = "lumiku_shadow_"
_server: EmbeddedPostgres | None = None


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


def owner_lock_key(name: str) -> int:
    """The advisory lock (a signed 64-bit key) the owner of scratch database ``name`` holds."""
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=b"lumiku-shadow").digest()
    return int.from_bytes(digest, "big", signed=True)


def _drop(conn: Any, name: str) -> None:
    from psycopg import sql

    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def scratch_on(shadow_url: str, *, template: str | None = None) -> Iterator[str]:
    """A new database on the server at ``shadow_url`` (a copy of ``template``), dropped after.

    Its owner's advisory lock is held from before ``CREATE DATABASE`` until after the drop,
    so the sweep of abandoned scratch databases never takes a live one.
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
            create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template is not None:
                create = create + sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            owner.execute(create)
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
    a throwaway embedded server.
    """
    with scratch_url(shadow_url) as url:
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
    with scratch_on(shadow_url) if shadow_url else _scratch_embedded() as url:
        yield url


@contextmanager
def _scratch_embedded() -> Iterator[str]:
    server = shadow_server()
    name = f"{SHADOW_PREFIX}{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


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
