"""The three read endpoints of the incident, with the original's shapes (spec 1.5, 1.7, 1.11).

A missing table is not caught here: it becomes a logged 500 with a request id, and
``/stats`` no longer hides it behind zeros as the original's hardening did.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select

from service.auth import Caller, DbSession
from service.models import (
    BackgroundRemovalBatch,
    BackgroundRemovalJob,
    BackgroundRemoverSubscription,
    BackgroundRemoverSubscriptionUsage,
)
from service.schemas import (
    JobListResponse,
    StatsResponse,
    SubscriptionResponse,
    error_responses,
)
from service.serializers import row_to_dict

router = APIRouter(prefix="/api/background-remover")

JOBS_LIMIT = 50


def today_utc() -> str:
    """The usage table's day key: ``YYYY-MM-DD`` in UTC (spec 3.5)."""
    return datetime.now(UTC).strftime("%Y-%m-%d")


@router.get(
    "/jobs",
    response_model=None,
    responses={
        200: {"model": JobListResponse, "description": "The caller's single jobs"},
        **error_responses({}),
    },
)
def list_jobs(user: Caller, session: DbSession) -> dict[str, Any]:
    """The caller's single (non-batch) jobs, newest first, at most 50."""
    rows = session.scalars(
        select(BackgroundRemovalJob)
        .where(BackgroundRemovalJob.userId == user.id, BackgroundRemovalJob.batchId.is_(None))
        .order_by(BackgroundRemovalJob.createdAt.desc())
        .limit(JOBS_LIMIT)
    ).all()
    return {"jobs": [row_to_dict(row) for row in rows]}


@router.get(
    "/subscription",
    response_model=None,
    responses={
        200: {
            "model": SubscriptionResponse,
            "description": "The subscription with today's usage records, or null",
        },
        **error_responses({}),
    },
)
def get_subscription(user: Caller, session: DbSession) -> dict[str, Any]:
    """The caller's subscription in any status, with today's usage records, or null."""
    subscription = session.scalars(
        select(BackgroundRemoverSubscription).where(BackgroundRemoverSubscription.userId == user.id)
    ).one_or_none()
    if subscription is None:
        return {"subscription": None}
    usage = session.scalars(
        select(BackgroundRemoverSubscriptionUsage).where(
            BackgroundRemoverSubscriptionUsage.subscriptionId == subscription.id,
            BackgroundRemoverSubscriptionUsage.date == today_utc(),
        )
    ).all()
    body = row_to_dict(subscription)
    body["usageRecords"] = [row_to_dict(row) for row in usage]
    return {"subscription": body}


@router.get(
    "/stats",
    response_model=None,
    responses={
        200: {"model": StatsResponse, "description": "The caller's counts and plan"},
        **error_responses({}),
    },
)
def get_stats(user: Caller, session: DbSession) -> dict[str, Any]:
    """Counts of single jobs and batches, and the plan; database errors are 500s."""
    singles = session.scalar(
        select(func.count())
        .select_from(BackgroundRemovalJob)
        .where(BackgroundRemovalJob.userId == user.id, BackgroundRemovalJob.batchId.is_(None))
    )
    batches = session.scalar(
        select(func.count())
        .select_from(BackgroundRemovalBatch)
        .where(BackgroundRemovalBatch.userId == user.id)
    )
    plan = session.scalar(
        select(BackgroundRemoverSubscription.plan).where(
            BackgroundRemoverSubscription.userId == user.id
        )
    )
    return {
        "stats": {
            "totalSingleRemovals": singles or 0,
            "totalBatches": batches or 0,
            "hasSubscription": plan is not None,
            "plan": plan,
        }
    }
