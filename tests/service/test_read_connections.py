"""The read endpoints' pool: no ping per request, yet a dropped connection costs no 500."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.conftest import JWT_SECRET
from tests.utils.db import connect, upgrade
from tests.utils.factories import user_with_token
from tests.utils.service import RunningService

pytestmark = [pytest.mark.db, pytest.mark.http]
PATHS = ["/api/background-remover/jobs", "/api/background-remover/stats", "/api/credits/balance"]


def test_reads_survive_the_server_dropping_every_pooled_connection(
    fresh_db: str, service_factory: Callable[[str], RunningService]
) -> None:
    upgrade(fresh_db, "head")
    service = service_factory(fresh_db)
    _, token = user_with_token(fresh_db, JWT_SECRET, email="dropped@lumiku.local", credits=5)
    # Several at once, so the pool holds more than one connection to lose.
    for path in PATHS * 3:
        assert service.get(path, token).status_code == 200
    with connect(fresh_db) as connection:
        dropped = connection.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": make_url(fresh_db).database},
        )
    assert dropped  # the service's pooled connections, as a server restart would
    statuses = [service.get(path, token).status_code for path in PATHS * 3]
    assert statuses == [200] * len(statuses)
    errors = [r for r in service.log_records() if r["level"] == "ERROR"]
    assert errors == []
