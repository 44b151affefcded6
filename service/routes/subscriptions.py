"""Subscribe, cancel, and the batch price calculator (domain spec 1.8, 1.9, 1.10)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from service.auth import Caller
from service.errors import ApiError
from service.pricing import TIERS, calculate_batch_pricing
from service.schemas import (
    MessageResponse,
    PricingResponse,
    SubscriptionCreatedResponse,
    error_responses,
)
from service.schemas.common import NUL_FREE_STRING, json_object_schema
from service.serializers import row_to_dict
from service.subscriptions import cancel, subscribe
from service.validation import parse_json_object

router = APIRouter(prefix="/api/background-remover", tags=["background-remover"])


def _json_body(
    properties: dict[str, Any], *, required: list[str], body_required: bool = True
) -> dict[str, Any]:
    schema = json_object_schema(properties, required=required)
    return {
        "requestBody": {
            "required": body_required,
            "content": {"application/json": {"schema": schema}},
        }
    }


async def read_json(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The JSON object body; 400 when it is malformed, too deep or carries a NUL.

    The original answered 500 for all of these.
    """
    raw = await request.body()
    if not raw.strip() and not required:
        return {}
    return parse_json_object(raw)


@router.post(
    "/subscription",
    openapi_extra=_json_body(
        {"plan": {"type": "string", "enum": ["starter", "pro"]}, "paymentId": NUL_FREE_STRING},
        required=["plan"],
    ),
    response_model=None,
    responses={
        200: {
            "model": SubscriptionCreatedResponse,
            "description": "The new subscription, or the renewed one",
        },
        **error_responses(
            {
                400: "Invalid plan",
                402: "Insufficient credits for the plan's monthly price",
                409: "Already active",
            }
        ),
    },
)
async def create_subscription(request: Request, user: Caller) -> Any:
    """Subscribe to a plan, paying its monthly price in credits (402 when short).

    A cancelled or lapsed subscription is renewed in place, and charged likewise.
    """
    body = await read_json(request)
    plan_key = body.get("plan")
    if plan_key not in ("starter", "pro"):
        raise ApiError(400, "Invalid plan")
    payment_id = body.get("paymentId")
    # Documented as a string: null is refused like any other non-string, not ignored.
    if "paymentId" in body and not isinstance(payment_id, str):
        raise ApiError(400, "paymentId must be a string")

    def work(factory: sessionmaker[Session]) -> dict[str, Any]:
        with factory() as session, session.begin():
            return row_to_dict(subscribe(session, user.id, plan_key, payment_id))

    row = await run_in_threadpool(work, request.app.state.session_factory)
    return {"message": "Subscription created successfully", "subscription": row}


@router.delete(
    "/subscription",
    openapi_extra=_json_body({"reason": NUL_FREE_STRING}, required=[], body_required=False),
    response_model=None,
    responses={
        200: {"model": MessageResponse, "description": "Cancelled at once"},
        **error_responses({400: "Malformed body", 404: "No subscription found"}),
    },
)
async def cancel_subscription(request: Request, user: Caller) -> Any:
    """Cancel now; the body (``{"reason": ...}``) is optional."""
    body = await read_json(request, required=False)
    reason = body.get("reason")
    if "reason" in body and not isinstance(reason, str):
        raise ApiError(400, "reason must be a string")

    def work(factory: sessionmaker[Session]) -> None:
        with factory() as session, session.begin():
            cancel(session, user.id, reason)

    await run_in_threadpool(work, request.app.state.session_factory)
    return {"message": "Subscription cancelled successfully"}


@router.post(
    "/pricing/calculate",
    openapi_extra=_json_body(
        {
            "totalImages": {"type": "integer", "minimum": 1},
            "tier": {"type": "string", "enum": list(TIERS)},
        },
        required=["totalImages", "tier"],
    ),
    response_model=None,
    responses={
        200: {"model": PricingResponse, "description": "The batch's price"},
        **error_responses({400: "Missing or invalid fields"}),
    },
)
async def calculate_pricing(request: Request, user: Caller) -> Any:
    """Price a batch: tier price times images, less the volume discount."""
    body = await read_json(request)
    total, tier = body.get("totalImages"), body.get("tier")
    if not total or not tier:
        raise ApiError(400, "Missing required fields")
    if tier not in TIERS:
        raise ApiError(400, "Invalid tier")
    # JSON has one number type: 30.0 is the integer 30, as JSON Schema's "integer" says.
    if isinstance(total, float) and total.is_integer():
        total = int(total)
    if isinstance(total, bool) or not isinstance(total, int) or total < 1:
        raise ApiError(400, "totalImages must be a positive integer")
    return {"pricing": calculate_batch_pricing(total, tier).to_dict()}
