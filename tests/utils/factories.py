"""Test data written straight to the database through the models."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from lumiku_ops.reference.accounts import Account, ensure_account, issue_token
from service.models import (
    BackgroundRemovalBatch,
    BackgroundRemovalJob,
    BackgroundRemoverSubscription,
    BackgroundRemoverSubscriptionUsage,
    utcnow,
)
from tests.utils.db import connect


def user_with_token(url: str, secret: str, *, email: str, credits: int = 0) -> tuple[Account, str]:
    account = ensure_account(url, email=email, credits=credits)
    return account, issue_token(account, secret)


def add(url: str, *rows: Any) -> None:
    with connect(url) as connection, Session(bind=connection) as session:
        session.add_all(rows)
        session.flush()


def job(user_id: str, *, age_minutes: int = 0, **fields: Any) -> BackgroundRemovalJob:
    values: dict[str, Any] = {
        "userId": user_id,
        "originalUrl": "/storage/background-remover/original.png",
        "tier": "basic",
        "creditsUsed": 3,
        "createdAt": utcnow() - timedelta(minutes=age_minutes),
    }
    values.update(fields)
    return BackgroundRemovalJob(**values)


def batch(user_id: str, batch_id: str, **fields: Any) -> BackgroundRemovalBatch:
    values: dict[str, Any] = {
        "userId": user_id,
        "batchId": batch_id,
        "totalImages": 20,
        "tier": "basic",
        "totalCredits": 57,
        "discountPercentage": 5.0,
        "originalPrice": 60,
        "finalPrice": 57,
    }
    values.update(fields)
    return BackgroundRemovalBatch(**values)


def subscription(user_id: str, plan: str = "pro", **fields: Any) -> BackgroundRemoverSubscription:
    now = utcnow()
    values: dict[str, Any] = {
        "userId": user_id,
        "plan": plan,
        "monthlyPrice": 299000,
        "dailyQuota": 200,
        "professionalDailyQuota": 50,
        "allowedTiers": ["basic", "standard", "professional", "industry"],
        "subscribedAt": now,
        "currentPeriodEnd": now + timedelta(days=30),
    }
    values.update(fields)
    return BackgroundRemoverSubscription(**values)


def usage(sub: BackgroundRemoverSubscription, date: str, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "subscriptionId": sub.id,
        "userId": sub.userId,
        "date": date,
        "tier": "basic",
        "removalsCount": 2,
        "totalCreditsEquivalent": 6,
    }
    values.update(fields)
    return BackgroundRemoverSubscriptionUsage(**values)
