"""A PostgreSQL server for tests: create and drop throwaway databases on it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from lumiku_ops.db.embedded import start_embedded
from lumiku_ops.settings import normalize_database_url


@dataclass(frozen=True)
class PostgresServer:
    """A server reachable with ``base_url``; databases are created beside its own."""

    base_url: str
    version: str

    def url_for(self, name: str) -> str:
        return make_url(self.base_url).set(database=name).render_as_string(hide_password=False)

    def _admin(self) -> psycopg.Connection:
        url = make_url(self.base_url)
        return psycopg.connect(
            host=url.query.get("host") or url.host,  # type: ignore[arg-type]
            port=url.port,
            user=url.username,
            password=url.password,
            dbname=url.database or "postgres",
            autocommit=True,
        )

    def create_database(self, name: str) -> str:
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _with_version(url: str) -> PostgresServer:
    server = PostgresServer(base_url=url, version="")
    with server._admin() as conn:
        version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    return PostgresServer(base_url=url, version=version)


def connect_external(url: str) -> PostgresServer:
    """The server behind LUMIKU_TEST_DATABASE_URL (its database is only used to connect)."""
    return _with_version(normalize_database_url(url))


def start_embedded_for_tests(folder: Path) -> PostgresServer:
    """A throwaway embedded server, deleted when the test session ends."""
    embedded = start_embedded(folder / "pgdata", cleanup="delete", database=None)
    return _with_version(embedded.url("postgres"))
