"""The seed's "what's working" contrast: credits balance and the app dashboard."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter
from sqlalchemy import bindparam, select

from service.auth import CallerReads
from service.models import App, Credit
from service.plugin_config import PLUGINS
from service.schemas import AppsResponse, CreditBalanceResponse, error_responses

router = APIRouter(prefix="/api")

LATEST_BALANCE = (
    select(Credit.balance)
    .where(Credit.userId == bindparam("user_id"))
    .order_by(Credit.createdAt.desc(), Credit.id.desc())
    .limit(1)
)


@router.get(
    "/credits/balance",
    response_model=None,
    responses={
        200: {"model": CreditBalanceResponse, "description": "The caller's balance"},
        **error_responses({}),
    },
)
async def credit_balance(reader: CallerReads) -> dict[str, Any]:
    """The ``balance`` of the caller's latest ledger row (not a sum), 0 with no rows."""
    balance = await reader.db.scalar(LATEST_BALANCE, {"user_id": reader.user.id})
    return {"success": True, "data": {"balance": balance or 0}}


@router.get(
    "/apps",
    response_model=None,
    responses={
        200: {"model": AppsResponse, "description": "Enabled apps in dashboard order"},
        **error_responses({}),
    },
)
async def list_apps(reader: CallerReads) -> dict[str, Any]:
    """Enabled plugins for the dashboard, ordered, with usage stats from ``apps`` rows."""
    user = reader.user
    rows = {row.appId: row for row in await reader.db.execute(select(App.__table__))}
    apps: list[dict[str, Any]] = []
    for config in sorted(PLUGINS, key=lambda c: c["dashboard"]["order"]):
        row = rows.get(config["appId"])
        features = config["features"]
        if not features["enabled"] or features["comingSoon"] or (row and not row.enabled):
            continue
        if user.role not in config["access"]["allowedRoles"]:
            continue
        entry = copy.deepcopy(config)
        entry.update(
            availableModels=0,
            usesOwnPricing=True,
            totalUsage=row.totalUsage if row else 0,
            activeUsers=row.activeUsers if row else 0,
        )
        apps.append(entry)
    return {"apps": apps}
