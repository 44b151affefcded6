"""The three read endpoints of the incident, with the original's shapes (spec 1.5, 1.7, 1.11).

A missing table is not caught here: it becomes a logged 500 with a request id, and
``/stats`` no longer hides it behind zeros as the original's hardening did.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import Integer, Select, bindparam, func, select, tuple_

from service.auth import CallerReads
from service.errors import ApiError
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
from service.serializers import JsonBody, rows_to_dicts

router = APIRouter(prefix="/api/background-remover")

JOBS_LIMIT = 50


def today_utc() -> str:
    """The usage table's day key: ``YYYY-MM-DD`` in UTC (spec 3.5)."""
    return datetime.now(UTC).strftime("%Y-%m-%d")


JOB = BackgroundRemovalJob.__table__
SUBSCRIPTION = BackgroundRemoverSubscription.__table__
USAGE = BackgroundRemoverSubscriptionUsage.__table__
SUBSCRIPTION_OF = select(SUBSCRIPTION).where(SUBSCRIPTION.c.userId == bindparam("user_id"))
USAGE_ON = select(USAGE).where(
    USAGE.c.subscriptionId == bindparam("subscription_id"), USAGE.c.date == bindparam("date")
)
INVALID_CURSOR = "Invalid cursor"
# ``<createdAt in microseconds since 1970>.<job id>``: sixteen digits reach the year 2286.
# The pattern is the whole rule, so the OpenAPI document states exactly what is accepted.
CURSOR_PATTERN = r"^[0-9]{1,16}\.[A-Za-z0-9_-]{1,64}$"
_CURSOR = re.compile(CURSOR_PATTERN)
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def encode_cursor(created_at: datetime, job_id: str) -> str:
    """The cursor for the position just after the job (``createdAt``, ``id``)."""
    return f"{(created_at - _EPOCH) // _MICROSECOND}.{job_id}"


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names; ``ApiError(400)`` for anything not in the cursor format."""
    if _CURSOR.fullmatch(cursor) is None:
        raise ApiError(400, INVALID_CURSOR)
    micros, job_id = cursor.split(".", 1)
    return _EPOCH + int(micros) * _MICROSECOND, job_id


def _single_jobs_statement(*, after: bool) -> Select[Any]:
    query = select(JOB).where(JOB.c.userId == bindparam("user_id"), JOB.c.batchId.is_(None))
    if after:
        position = tuple_(
            bindparam("after_at", type_=JOB.c.createdAt.type),
            bindparam("after_id", type_=JOB.c.id.type),
        )
        query = query.where(tuple_(JOB.c.createdAt, JOB.c.id) < position)
    order = (JOB.c.createdAt.desc(), JOB.c.id.desc())
    return query.order_by(*order).limit(bindparam("limit", type_=Integer))


# Built once: composing a statement costs more than running it through the cache.
SINGLE_JOBS = {False: _single_jobs_statement(after=False), True: _single_jobs_statement(after=True)}


def single_jobs_query(
    user_id: str, limit: int, after: tuple[datetime, str] | None
) -> tuple[Select[Any], dict[str, Any]]:
    """The caller's single jobs, newest first (ties by id), after ``after``; ``limit`` rows.

    ``BackgroundRemovalJob_userId_createdAt_id_idx`` answers it in index order, so a
    page costs the same whether the user has fifty jobs or a million.
    """
    params: dict[str, Any] = {"user_id": user_id, "limit": limit}
    if after is not None:
        params.update(after_at=after[0], after_id=after[1])
    return SINGLE_JOBS[after is not None], params


@router.get(
    "/jobs",
    response_model=None,
    responses={
        200: {"model": JobListResponse, "description": "The caller's single jobs"},
        **error_responses({}),
    },
)
async def list_jobs(
    reader: CallerReads,
    limit: Annotated[int, Query(ge=1, le=JOBS_LIMIT, description="Jobs per page.")] = JOBS_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=81,
            pattern=CURSOR_PATTERN,
            description="The nextCursor of the previous page.",
        ),
    ] = None,
) -> JSONResponse:
    """The caller's single (non-batch) jobs, newest first, at most 50 per page.

    Without parameters this is the original's list. When more jobs follow, the body also
    carries ``nextCursor``: pass it as ``cursor`` for the next page.
    """
    after = decode_cursor(cursor) if cursor is not None else None
    result = await reader.db.execute(*single_jobs_query(reader.user.id, limit + 1, after))
    keys, rows = list(result.keys()), result.all()
    body: dict[str, Any] = {"jobs": rows_to_dicts(keys, rows[:limit])}
    if len(rows) > limit:
        last = rows[limit - 1]
        body["nextCursor"] = encode_cursor(last.createdAt, last.id)
    return JsonBody(body)


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
async def get_subscription(reader: CallerReads) -> JSONResponse:
    """The caller's subscription in any status, with today's usage records, or null."""
    found = await reader.db.execute(SUBSCRIPTION_OF, {"user_id": reader.user.id})
    subscriptions = rows_to_dicts(list(found.keys()), found.all())
    if not subscriptions:
        return JsonBody({"subscription": None})
    body = subscriptions[0]
    usage = await reader.db.execute(USAGE_ON, {"subscription_id": body["id"], "date": today_utc()})
    body["usageRecords"] = rows_to_dicts(list(usage.keys()), usage.all())
    return JsonBody({"subscription": body})


def _stats_statement() -> Select[Any]:
    user_id = bindparam("user_id", type_=JOB.c.userId.type)
    singles = (
        select(func.count())
        .select_from(JOB)
        .where(JOB.c.userId == user_id, JOB.c.batchId.is_(None))
        .scalar_subquery()
    )
    batches = (
        select(func.count())
        .select_from(BackgroundRemovalBatch)
        .where(BackgroundRemovalBatch.userId == user_id)
        .scalar_subquery()
    )
    plan = (
        select(BackgroundRemoverSubscription.plan)
        .where(BackgroundRemoverSubscription.userId == user_id)
        .scalar_subquery()
    )
    return select(singles, batches, plan)


STATS = _stats_statement()


def stats_query(user_id: str) -> tuple[Select[Any], dict[str, Any]]:
    """One statement (three scalar subqueries) for ``/stats``: one round trip, not three.

    The single-job count reads ``BackgroundRemovalJob_userId_createdAt_id_idx``.
    """
    return STATS, {"user_id": user_id}


@router.get(
    "/stats",
    response_model=None,
    responses={
        200: {"model": StatsResponse, "description": "The caller's counts and plan"},
        **error_responses({}),
    },
)
async def get_stats(reader: CallerReads) -> JSONResponse:
    """Counts of single jobs and batches, and the plan; database errors are 500s."""
    row = (await reader.db.execute(*stats_query(reader.user.id))).one()
    return JsonBody(
        {
            "stats": {
                "totalSingleRemovals": row[0] or 0,
                "totalBatches": row[1] or 0,
                "hasSubscription": row[2] is not None,
                "plan": row[2],
            }
        }
    )
