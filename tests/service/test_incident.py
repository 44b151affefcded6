"""The incident, reproduced over real HTTP: 500s at revision 0001, fixed by upgrade head."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from tests.conftest import JWT_SECRET
from tests.utils.db import connect, upgrade
from tests.utils.factories import user_with_token
from tests.utils.service import RunningService

pytestmark = [pytest.mark.db, pytest.mark.http]

FAILING = [
    "/api/background-remover/subscription",
    "/api/background-remover/jobs",
    "/api/background-remover/stats",
]
CONTRAST = ["/api/credits/balance", "/api/apps"]


def test_missing_tables_give_500s_then_upgrade_fixes_them_without_restart(
    fresh_db: str, service_factory: Callable[[str], RunningService]
) -> None:
    upgrade(fresh_db, "0001")
    _, token = user_with_token(fresh_db, JWT_SECRET, email="before@lumiku.local", credits=1092)
    service = service_factory(fresh_db)
    with connect(fresh_db) as connection:
        role = connection.execute(text("SELECT current_user")).scalar_one()

    ready = service.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["current"] == "0001"
    assert ready.json()["pending"] == ["0002"]

    for path in FAILING:
        response = service.get(path, token)
        assert response.status_code == 500, path
        body = response.json()
        assert set(body) == {"error", "requestId"}
        # No SQL, no table name, no stack in what the caller sees...
        assert "relation" not in response.text and "SELECT" not in response.text
        assert "Background" not in response.text and "Traceback" not in response.text
        # ...but the log holds the whole story under the same request id.
        records = [r for r in service.log_records() if r.get("request_id") == body["requestId"]]
        errors = [r for r in records if r["level"] == "ERROR"]
        assert len(errors) == 1
        assert errors[0]["sqlstate"] == "42P01"
        # The role it connects as, so a GRANT read from this log can name it.
        assert errors[0]["db_role"] == role
        assert "does not exist" in errors[0]["exc_info"]
        assert response.headers["X-Request-ID"] == body["requestId"]

    balance = service.get("/api/credits/balance", token)
    assert balance.status_code == 200
    assert balance.json() == {"success": True, "data": {"balance": 1092}}
    apps = service.get("/api/apps", token)
    assert apps.status_code == 200
    assert [app["appId"] for app in apps.json()["apps"]] == ["background-remover"]

    upgrade(fresh_db, "head")  # the service keeps running: no restart

    _, new_token = user_with_token(fresh_db, JWT_SECRET, email="after@lumiku.local")
    expected = {
        "/api/background-remover/subscription": {"subscription": None},
        "/api/background-remover/jobs": {"jobs": []},
        "/api/background-remover/stats": {
            "stats": {
                "totalSingleRemovals": 0,
                "totalBatches": 0,
                "hasSubscription": False,
                "plan": None,
            }
        },
    }
    for path, body in expected.items():
        response = service.get(path, new_token)
        assert response.status_code == 200, path
        assert response.json() == body, path
    ready = service.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["current"] == ready.json()["head"] == "0002"


def test_api_responses_are_not_cached(
    fresh_db: str, service_factory: Callable[[str], RunningService]
) -> None:
    upgrade(fresh_db, "head")
    _, token = user_with_token(fresh_db, JWT_SECRET, email="cache@lumiku.local")
    response = service_factory(fresh_db).get("/api/background-remover/jobs", token)
    assert response.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
    assert response.headers["Pragma"] == "no-cache"


def test_readiness_reports_an_unreachable_database(
    service_factory: Callable[[str], RunningService],
) -> None:
    dead = "postgresql+psycopg://postgres:pw@127.0.0.1:1/nowhere"
    service = service_factory(dead)
    assert service.get("/health").status_code == 200
    ready = service.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["database"] == "unreachable"
    assert "pw" not in ready.text
