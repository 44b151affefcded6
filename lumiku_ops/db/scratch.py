"""Scratch databases for shadow replays: on the ``shadow_url`` server, or a throwaway
embedded one; never the target, always dropped (or swept later if a run was killed)."""

from __future__ import annotations

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
# A replay takes seconds; a scratch database this old with nobody connected was abandoned.
ABANDONED_AFTER_S = 3600.0
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
