"""The embedded PostgreSQL (from the ``pgserver`` wheel) used when no database is given.

The server listens on a Unix socket only, so it never collides with a port. Its data lives
in ``.lumiku/pgdata`` (git-ignored) unless ``LUMIKU_DATA_DIR`` points elsewhere. pgserver
counts the processes holding a handle and stops the server when the last one exits, so a
``serve`` and an ``alembic upgrade`` can share it and nothing is left running afterwards.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from lumiku_ops.errors import EmbeddedDatabaseError

DEFAULT_DATABASE = "lumiku"
_servers: dict[Path, Any] = {}


def default_data_dir() -> Path:
    """Where the embedded server keeps its files when no settings say: ``./.lumiku/pgdata``.

    Commands pass ``Settings.lumiku_dir`` (which honours ``LUMIKU_DATA_DIR``) instead.
    """
    return Path.cwd() / ".lumiku" / "pgdata"


@dataclass(frozen=True)
class EmbeddedPostgres:
    """A running embedded server: its socket directory and data directory."""

    socket_dir: str
    data_dir: Path

    def url(self, database: str = DEFAULT_DATABASE) -> str:
        """SQLAlchemy URL of ``database`` on this server (psycopg 3, Unix socket)."""
        return URL.create(
            "postgresql+psycopg",
            username="postgres",
            database=database,
            query={"host": self.socket_dir},
        ).render_as_string(hide_password=False)

    def create_database(self, name: str) -> None:
        """Create database ``name`` unless it exists."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host=self.socket_dir, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting its sessions."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host=self.socket_dir, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def start_embedded(
    data_dir: Path | None = None, *, cleanup: str = "stop", database: str | None = DEFAULT_DATABASE
) -> EmbeddedPostgres:
    """Start (or attach to) the embedded server and make sure ``database`` exists.

    Args:
        data_dir: the server's data folder (PGDATA); created if missing.
        cleanup: ``"stop"`` stops the server when the last process using it exits,
            ``"delete"`` also removes ``data_dir`` (for throwaway servers).
        database: a database to create if missing, or ``None``.

    Raises:
        EmbeddedDatabaseError: the server could not start; the message says why.
    """
    pgdata = (data_dir or default_data_dir()).resolve()
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = _servers.get(pgdata)
        if server is None:
            _forget_dead_holders(pgdata)
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers).
                warnings.simplefilter("ignore")
                import pgserver

            logging.getLogger("pgserver").setLevel(logging.WARNING)
            server = pgserver.get_server(pgdata, cleanup_mode=cleanup)  # type: ignore[attr-defined]
            _servers[pgdata] = server
        socket_dir = str(server.get_postmaster_info().socket_dir)
    except Exception as exc:  # pgserver raises bare subprocess/OS errors
        raise EmbeddedDatabaseError(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}. "
            "Check free disk space and permissions, or set DATABASE_URL to use another server."
        ) from exc
    embedded = EmbeddedPostgres(socket_dir=socket_dir, data_dir=pgdata)
    if database:
        embedded.create_database(database)
    return embedded


def _forget_dead_holders(pgdata: Path) -> None:
    """Drop pids of processes that died without releasing the server (SIGKILL, a crash).

    pgserver stops the server when its *last* holder exits; a stale pid in its list would
    keep the server running forever after every later process has gone.
    """
    import json

    import psutil

    holders = pgdata / ".handle_pids.json"
    if not holders.exists():
        return
    try:
        pids = json.loads(holders.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        holders.write_text(json.dumps(alive))
