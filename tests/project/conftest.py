"""The inventory sample project, copied per test, and lumiku-ops driven on it as a subprocess.

The project's history creates the ``uuid-ossp`` extension, which the embedded server lacks,
so replays and target databases live on a real server: ``LUMIKU_TEST_SHADOW_URL``, else
``LUMIKU_TEST_DATABASE_URL``, else the machine's PostgreSQL on 127.0.0.1:5432.

lumiku-ops runs from an empty folder, with the copy reachable only through ``--project``
(or a runbook's ``project_dir``), and with ``INVENTORY_DATABASE_URL`` pointing at a closed
port: the project's ``env.py`` reads that variable and ignores anything handed to it, so a
command that let ``env.py`` pick its own database fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.utils.cli import as_json
from tests.utils.db import connect
from tests.utils.postgres import PostgresServer

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "tests" / "projects" / "inventory"
# The sample's revisions, oldest first; the third reads sqlalchemy.url from the Alembic config.
FIRST, SECOND, THIRD = "3f9a2c71b0de", "b7e4158d2c60", "5c0e7d2a9b14"
HEAD = "5c0d2e9a41f7"  # the newest: an index built CONCURRENTLY, in an autocommit_block()
ENDPOINTS = ["/api/stock", "/api/warehouses"]  # its pyproject's [tool.lumiku-ops] endpoints
SCHEMA_VERDICTS = {
    "DATABASE_UNREACHABLE",
    "MIGRATION_NOT_CREATED",
    "REVISION_MISMATCH",
    "MIGRATION_NOT_APPLIED",
    "SCHEMA_PARTIAL",
    "SCHEMA_DRIFT",
}
DEFAULT_SHADOW_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Nothing from the developer's shell may decide which project, database or shadow is used.
NOT_INHERITED = {
    "DATABASE_URL",
    "INVENTORY_DATABASE_URL",
    "LUMIKU_API_URL",
    "LUMIKU_DATA_DIR",
    "LUMIKU_JWT_SECRET",
    "LUMIKU_MIGRATIONS_DIR",
    "LUMIKU_PROJECT",
    "LUMIKU_SHADOW_URL",
    "LUMIKU_TOKEN",
}
# The line of models.py after which a test adds a column to ``products``.
PRODUCT_ANCHOR = "    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)\n"


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _admin(url: str, timeout_s: int = 2) -> psycopg.Connection:
    parsed = make_url(url)
    return psycopg.connect(
        host=parsed.query.get("host") or parsed.host,  # type: ignore[arg-type]
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database or "postgres",
        connect_timeout=timeout_s,
        autocommit=True,
    )


@pytest.fixture(scope="session")
def shadow_server() -> PostgresServer:
    """A server that has ``uuid-ossp``, reached by a role that may create databases."""
    name = next(
        (n for n in ("LUMIKU_TEST_SHADOW_URL", "LUMIKU_TEST_DATABASE_URL") if os.environ.get(n)),
        None,
    )
    url = os.environ[name] if name else DEFAULT_SHADOW_URL
    url = make_url(url).set(drivername="postgresql+psycopg").render_as_string(False)
    source = name or "the default 127.0.0.1:5432"
    try:
        with _admin(url) as conn:
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            has_extension = conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'uuid-ossp'"
            ).fetchone()
            may_create = conn.execute(
                "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
    except psycopg.OperationalError as exc:
        if name:
            pytest.fail(f"{name} does not answer: {str(exc).splitlines()[0]}")
        pytest.skip(
            "no shadow server: set LUMIKU_TEST_SHADOW_URL to a PostgreSQL server with "
            "uuid-ossp and a CREATEDB role (nothing answers on 127.0.0.1:5432)"
        )
    if not has_extension:
        pytest.skip(f"the server of {source} lacks uuid-ossp; set LUMIKU_TEST_SHADOW_URL")
    if not (may_create and may_create[0]):
        pytest.skip(f"the role of {source} lacks CREATEDB; set LUMIKU_TEST_SHADOW_URL")
    return PostgresServer(base_url=url, version=version)


@pytest.fixture(scope="session")
def shadow_url(shadow_server: PostgresServer) -> str:
    return shadow_server.base_url


def shadow_databases(server: PostgresServer) -> set[str]:
    """The scratch databases lumiku-ops has on ``server`` right now."""
    with _admin(server.base_url) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'lumiku\\_shadow%'"
        ).fetchall()
    return {row[0] for row in rows}


class ShadowWatch:
    """Every scratch database seen on the server while the ``with`` block runs."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        with _admin(self.server.base_url) as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE 'lumiku\\_shadow%'"
                ).fetchall()
                self.seen.update(row[0] for row in rows)
                self._stop.wait(0.005)

    def __enter__(self) -> ShadowWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@dataclass
class Inventory:
    """A private copy of the sample project, and the databases a test made for it."""

    dir: Path
    server: PostgresServer
    cwd: Path
    env: dict[str, str]
    api_url: str
    databases: list[str] = field(default_factory=list)

    @property
    def project(self) -> list[str]:
        return ["--project", str(self.dir)]

    @property
    def versions(self) -> Path:
        """The copy's revision folder (a src/ layout: its alembic.ini's script_location)."""
        return self.dir / "src" / "inventory_app" / "db_migrations" / "versions"

    def lumiku(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """``python -m lumiku_ops ARGS`` from an empty folder, as an operator would."""
        environ = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        environ.update(self.env, **env)
        return subprocess.run(
            [sys.executable, "-m", "lumiku_ops", *args],
            capture_output=True,
            text=True,
            env=environ,
            cwd=self.cwd,
            timeout=300,
        )

    def alembic(self, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Plain Alembic on the copy, the project's way: its env.py reads its own variable."""
        environ = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        environ["INVENTORY_DATABASE_URL"] = database_url
        return subprocess.run(
            [sys.executable, "-m", "alembic", "-c", str(self.dir / "alembic.ini"), *args],
            capture_output=True,
            text=True,
            env=environ,
            cwd=self.cwd,
            timeout=120,
        )

    def database(self, at: str | None = None) -> str:
        """A new database on the shadow server, upgraded with plain Alembic to ``at``."""
        name = f"lumiku_test_inv_{uuid.uuid4().hex[:10]}"
        self.databases.append(name)
        url = self.server.create_database(name)
        if at is not None:
            done = self.alembic(url, "upgrade", at)
            assert done.returncode == 0, done.stderr
        return url

    def execute(self, database_url: str, statement: str) -> Any:
        """Run one statement on a target database by hand (the first value, if any)."""
        with connect(database_url) as connection:
            result = connection.execute(text(statement))
            return result.scalar() if result.returns_rows else None

    def add_product_column(self, line: str = "reorder_point: Mapped[int | None]") -> None:
        """Give the ``products`` model a nullable integer column (``line`` names it)."""
        models = self.dir / "src" / "inventory_app" / "models.py"
        source = models.read_text()
        assert source.count(PRODUCT_ANCHOR) == 1, "models.py changed: update PRODUCT_ANCHOR"
        models.write_text(
            source.replace(PRODUCT_ANCHOR, f"{PRODUCT_ANCHOR}    {line} = mapped_column(Integer)\n")
        )

    def diagnose(self, database_url: str, *extra: str) -> tuple[int, dict[str, Any]]:
        result = self.lumiku(
            "diagnose",
            *self.project,
            "--database-url",
            database_url,
            "--shadow-url",
            self.server.base_url,
            "--api-url",
            self.api_url,
            "--json",
            *extra,
        )
        return result.returncode, as_json(result)


@pytest.fixture
def inventory(shadow_server: PostgresServer, tmp_path: Path) -> Iterator[Inventory]:
    copy = tmp_path / "inventory"
    shutil.copytree(SAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    # A unique comment per copy: no replay cached by an earlier test can answer for this one.
    for revision in (copy / "src" / "inventory_app" / "db_migrations" / "versions").glob("*.py"):
        revision.write_text(revision.read_text() + f"# copy {uuid.uuid4().hex}\n")
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = {
        "INVENTORY_DATABASE_URL": (
            f"postgresql+psycopg://must-not-be-used@127.0.0.1:{closed_port()}/inventory"
        ),
        "LUMIKU_DATA_DIR": str(tmp_path / "lumiku" / "pgdata"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    project = Inventory(copy, shadow_server, cwd, env, f"http://127.0.0.1:{closed_port()}")
    yield project
    for name in project.databases:
        shadow_server.drop_database(name)
