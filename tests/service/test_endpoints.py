"""The endpoints' shapes and semantics against real rows (domain spec 1.5, 1.7, 1.11, 5)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from service.models import Credit
from tests.conftest import JWT_SECRET
from tests.utils.db import upgrade
from tests.utils.factories import add, batch, job, subscription, usage, user_with_token
from tests.utils.service import RunningService

pytestmark = [pytest.mark.db, pytest.mark.http]
ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def service(
    fresh_db: str, service_factory: Callable[[str], RunningService]
) -> Iterator[RunningService]:
    upgrade(fresh_db, "head")
    yield service_factory(fresh_db)


def test_jobs_are_single_jobs_newest_first_at_most_50(
    fresh_db: str, service: RunningService
) -> None:
    account, token = user_with_token(fresh_db, JWT_SECRET, email="jobs@lumiku.local")
    parent = batch(account.user_id, "batch_1")
    add(fresh_db, parent)
    add(fresh_db, *[job(account.user_id, age_minutes=minutes) for minutes in range(55)])
    add(fresh_db, job(account.user_id, batchId=parent.id, itemIndex=0))

    jobs = service.get("/api/background-remover/jobs", token).json()["jobs"]
    assert len(jobs) == 50
    assert all(item["batchId"] is None for item in jobs)
    created = [item["createdAt"] for item in jobs]
    assert created == sorted(created, reverse=True)
    assert all(ISO_MILLIS.match(value) for value in created)
    assert len(jobs[0]) == 19  # every column of the model, under its field name


def test_subscription_carries_only_todays_usage(fresh_db: str, service: RunningService) -> None:
    account, token = user_with_token(fresh_db, JWT_SECRET, email="sub@lumiku.local")
    sub = subscription(account.user_id, status="cancelled")
    add(fresh_db, sub)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    add(fresh_db, usage(sub, today, tier="basic"), usage(sub, "2020-01-01", tier="basic"))

    body = service.get("/api/background-remover/subscription", token).json()["subscription"]
    assert body["status"] == "cancelled"  # returned whatever its status
    assert body["allowedTiers"] == ["basic", "standard", "professional", "industry"]
    assert [record["date"] for record in body["usageRecords"]] == [today]


def test_stats_count_single_jobs_and_batches(fresh_db: str, service: RunningService) -> None:
    account, token = user_with_token(fresh_db, JWT_SECRET, email="stats@lumiku.local")
    parent = batch(account.user_id, "batch_2")
    add(fresh_db, parent, subscription(account.user_id, plan="pro"))
    add(
        fresh_db,
        job(account.user_id),
        job(account.user_id),
        job(account.user_id, batchId=parent.id),
    )

    stats = service.get("/api/background-remover/stats", token).json()
    assert stats == {
        "stats": {
            "totalSingleRemovals": 2,
            "totalBatches": 1,
            "hasSubscription": True,
            "plan": "pro",
        }
    }


def test_balance_is_the_latest_ledger_row_not_a_sum(fresh_db: str, service: RunningService) -> None:
    account, token = user_with_token(fresh_db, JWT_SECRET, email="ledger@lumiku.local", credits=100)
    add(
        fresh_db,
        Credit(
            userId=account.user_id,
            amount=-3,
            balance=97,
            type="usage",
            description="background_removal",
        ),
    )
    assert service.get("/api/credits/balance", token).json() == {
        "success": True,
        "data": {"balance": 97},
    }


def test_unknown_path_is_a_json_404(service: RunningService) -> None:
    response = service.get("/api/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}
