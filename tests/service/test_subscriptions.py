"""Subscriptions over HTTP: create, cancel, re-subscribe, and a quota that holds under load."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from service.models import Credit
from tests.conftest import JWT_SECRET
from tests.service.test_removal import balance, remove
from tests.utils.db import connect
from tests.utils.factories import add, subscription, usage, user_with_token
from tests.utils.images import subject_png
from tests.utils.service import RunningService

pytestmark = [pytest.mark.db, pytest.mark.http]
URL = "/api/background-remover/subscription"


def test_subscribe_cancel_and_subscribe_again(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(fresh_db, worker=False)
    _, token = user_with_token(
        fresh_db, JWT_SECRET, email="plan@lumiku.local", credits=99_000 + 299_000
    )
    assert service.post(URL, token, json={"plan": "gold"}).json() == {"error": "Invalid plan"}
    assert service.post(URL, token, data="{oops").status_code == 400
    assert service.delete(URL, token).json() == {"error": "No subscription found"}

    created = service.post(URL, token, json={"plan": "starter", "paymentId": "pay-1"})
    assert created.status_code == 200
    body = created.json()
    assert body["message"] == "Subscription created successfully"
    sub = body["subscription"]
    assert (sub["plan"], sub["status"], sub["dailyQuota"], sub["professionalDailyQuota"]) == (
        "starter",
        "active",
        50,
        0,
    )
    assert sub["allowedTiers"] == ["basic", "standard"] and sub["lastPaymentId"] == "pay-1"
    assert service.post(URL, token, json={"plan": "pro"}).status_code == 409

    cancelled = service.delete(URL, token)  # no body: the original required one
    assert cancelled.json() == {"message": "Subscription cancelled successfully"}
    assert service.get(URL, token).json()["subscription"]["status"] == "cancelled"

    assert balance(service, token) == 299_000
    again = service.post(URL, token, json={"plan": "pro"})
    assert again.status_code == 200, again.text
    assert balance(service, token) == 0
    renewed = again.json()["subscription"]
    assert (renewed["id"], renewed["plan"], renewed["status"]) == (sub["id"], "pro", "active")
    assert renewed["cancelledAt"] is None and renewed["dailyQuota"] == 200
    stats = service.get("/api/background-remover/stats", token).json()["stats"]
    assert (stats["hasSubscription"], stats["plan"]) == (True, "pro")


def test_subscribing_and_renewing_charge_the_monthly_price(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(fresh_db, worker=False)
    poor, poor_token = user_with_token(fresh_db, JWT_SECRET, email="poor@lumiku.local")
    refused = service.post(URL, poor_token, json={"plan": "pro"})
    assert (refused.status_code, refused.json()) == (
        402,
        {"error": "Insufficient credits. Required: 299000, Available: 0"},
    )
    assert service.get(URL, poor_token).json() == {"subscription": None}
    assert balance(service, poor_token) == 0

    # Ten concurrent subscribes with money for two plans: one is charged, the rest 409.
    account, token = user_with_token(
        fresh_db, JWT_SECRET, email="payer@lumiku.local", credits=2 * 99_000 + 5
    )
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(
            pool.map(lambda _: service.post(URL, token, json={"plan": "starter"}), range(10))
        )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [409] * 9, statuses
    assert balance(service, token) == 99_000 + 5
    sub_id = service.get(URL, token).json()["subscription"]["id"]

    # A renewal after a cancel is charged the same way, and refused when short.
    assert service.delete(URL, token).status_code == 200
    assert service.post(URL, token, json={"plan": "starter"}).status_code == 200
    assert balance(service, token) == 5
    assert service.delete(URL, token).status_code == 200
    short = service.post(URL, token, json={"plan": "starter"})
    assert (short.status_code, short.json()) == (
        402,
        {"error": "Insufficient credits. Required: 99000, Available: 5"},
    )
    assert service.get(URL, token).json()["subscription"]["status"] == "cancelled"
    with connect(fresh_db) as connection:
        charges = connection.execute(
            select(Credit.amount, Credit.type, Credit.referenceType, Credit.referenceId)
            .where(Credit.userId == account.user_id, Credit.amount < 0)
            .order_by(Credit.createdAt)
        ).all()
    assert [tuple(row) for row in charges] == [
        (-99_000, "usage", "background_remover_subscription", sub_id)
    ] * 2


def test_pricing_calculator(fresh_db: str, start_remover: Callable[..., RunningService]) -> None:
    service = start_remover(fresh_db, worker=False)
    _, token = user_with_token(fresh_db, JWT_SECRET, email="calc@lumiku.local")
    url = "/api/background-remover/pricing/calculate"
    body = service.post(url, token, json={"totalImages": 101, "tier": "professional"}).json()
    assert body == {
        "pricing": {
            "totalImages": 101,
            "tier": "professional",
            "creditPerImage": 15,
            "originalPrice": 1515,
            "discountPercentage": 15,
            "discountAmount": 227,
            "finalPrice": 1288,
            "savings": 227,
        }
    }
    missing = service.post(url, token, json={"tier": "basic"})
    assert (missing.status_code, missing.json()) == (400, {"error": "Missing required fields"})
    assert service.post(url, token, json={"totalImages": 3, "tier": "gold"}).status_code == 400
    assert service.post(url, token, json={"totalImages": 2.5, "tier": "basic"}).status_code == 400


def test_concurrent_usage_cannot_pass_the_daily_quota(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(fresh_db, worker=False)
    account, token = user_with_token(fresh_db, JWT_SECRET, email="quota@lumiku.local", credits=0)
    sub = subscription(account.user_id, plan="starter", dailyQuota=50, professionalDailyQuota=0)
    add(fresh_db, sub)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    add(fresh_db, usage(sub, today, tier="standard", removalsCount=45, totalCreditsEquivalent=360))
    image = subject_png(96)
    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(lambda _: remove(service, token, image), range(12)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(200) == 5 and statuses.count(402) == 7, statuses
    jobs = [response.json()["job"] for response in responses if response.status_code == 200]
    assert {(job["pricingType"], job["creditsUsed"]) for job in jobs} == {("subscription", 0)}
    records = service.get(URL, token).json()["subscription"]["usageRecords"]
    assert sum(record["removalsCount"] for record in records) == 50
    assert balance(service, token) == 0
