"""Fixtures: a real PostgreSQL (embedded, or LUMIKU_TEST_DATABASE_URL), fresh databases,
and the reference service running under uvicorn in a subprocess, reached over real HTTP."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.postgres import PostgresServer, connect_external, start_embedded_for_tests
from tests.utils.service import RunningService, start_service

REPO_ROOT = Path(__file__).resolve().parent.parent
# Replays cached by CLI subprocesses stay in the (ignored) checkout, not the user's cache.
os.environ.setdefault("LUMIKU_CACHE_DIR", str(REPO_ROOT / ".lumiku" / "cache"))
JWT_SECRET = "test-" + "k" * 27 + "-9f3c1e7a5b"  # >= 32 chars, not a placeholder


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """The server every database test uses; its version is printed in the header."""
    external = os.environ.get("LUMIKU_TEST_DATABASE_URL")
    if external:
        yield connect_external(external)
        return
    # Not under pytest's basetemp: pytest prunes old basetemps, and a concurrent pytest run
    # would delete a live server's data directory.
    server = start_embedded_for_tests(Path(tempfile.mkdtemp(prefix="lumiku-test-pg-")))
    yield server


@pytest.fixture
def fresh_db(pg_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    name = f"lumiku_test_{uuid.uuid4().hex[:10]}"
    url = pg_server.create_database(name)
    try:
        yield url
    finally:
        pg_server.drop_database(name)


@pytest.fixture
def make_db(pg_server: PostgresServer) -> Iterator[object]:
    """A factory of fresh databases (for tests that compare two), all dropped afterwards."""
    names: list[str] = []

    def make() -> str:
        name = f"lumiku_test_{uuid.uuid4().hex[:10]}"
        names.append(name)
        return pg_server.create_database(name)

    yield make
    for name in names:
        pg_server.drop_database(name)


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator[object]:
    """Start ``lumiku-ops serve`` on a database URL; every service is stopped afterwards."""
    started: list[RunningService] = []

    def start(database_url: str, **env: str) -> RunningService:
        service = start_service(
            database_url,
            jwt_secret=JWT_SECRET,
            log_file=tmp_path / f"service{len(started)}.log",
            extra_env=env,
        )
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what each test needs from its fixtures, so a run can select by it.

    ``db``: the PostgreSQL server under test (``pg_server``, directly or not).
    ``removal``: a removal-capable service (``start_remover``).
    """
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "pg_server" in fixtures:
            item.add_marker(pytest.mark.db)
        if "start_remover" in fixtures:
            item.add_marker(pytest.mark.removal)


def pytest_report_header(config: pytest.Config) -> str:
    external = os.environ.get("LUMIKU_TEST_DATABASE_URL")
    return "database: " + ("LUMIKU_TEST_DATABASE_URL" if external else "embedded PostgreSQL")
