"""Pydantic models of the JSON bodies the service answers, for the OpenAPI document only.

The routes attach them with ``responses={...: {"model": ...}}``, never as a response model:
the handlers' output is not filtered or re-serialised by them, so the document describes
what the endpoints emit rather than shaping it. The routes say ``response_model=None`` so
FastAPI does not also infer a generic object schema from a ``-> dict[str, Any]``
annotation and merge it into the documented one. ``extra="forbid"`` makes every model's
schema closed (``additionalProperties: false``), so an undocumented key is a failure.
"""

from service.schemas.background_remover import (
    Batch,
    BatchDownloadResponse,
    BatchResponse,
    BatchStarted,
    BatchStartResponse,
    Job,
    JobListResponse,
    JobResponse,
    Pricing,
    PricingResponse,
    RemoveResponse,
    Stats,
    StatsResponse,
    Subscription,
    SubscriptionCreatedResponse,
    SubscriptionResponse,
    SubscriptionUsage,
    SubscriptionWithUsage,
)
from service.schemas.common import (
    ErrorBody,
    InternalErrorBody,
    MessageResponse,
    error_responses,
)
from service.schemas.platform import (
    AppEntry,
    AppsResponse,
    CreditBalance,
    CreditBalanceResponse,
    DatabaseUnreachable,
    Liveness,
    NotReady,
    Ready,
)

__all__ = [
    "AppEntry",
    "AppsResponse",
    "Batch",
    "BatchDownloadResponse",
    "BatchResponse",
    "BatchStartResponse",
    "BatchStarted",
    "CreditBalance",
    "CreditBalanceResponse",
    "DatabaseUnreachable",
    "ErrorBody",
    "InternalErrorBody",
    "Job",
    "JobListResponse",
    "JobResponse",
    "Liveness",
    "MessageResponse",
    "NotReady",
    "Pricing",
    "PricingResponse",
    "Ready",
    "RemoveResponse",
    "Stats",
    "StatsResponse",
    "Subscription",
    "SubscriptionCreatedResponse",
    "SubscriptionResponse",
    "SubscriptionUsage",
    "SubscriptionWithUsage",
    "error_responses",
]
