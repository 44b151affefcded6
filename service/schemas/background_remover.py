"""Bodies of the ``/api/background-remover`` endpoints (domain spec section 1).

Rows are documented with their model field names (camelCase), every column present, nulls
as ``null`` and datetimes as ISO-8601 UTC strings with milliseconds, as ``row_to_dict``
writes them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from service.schemas.common import Closed

IsoDateTime = str


class Job(Closed):
    """A ``BackgroundRemovalJob`` row: a single removal, or one item of a batch."""

    id: str
    userId: str
    batchId: str | None = Field(description="The batch row's id; null for single jobs.")
    itemIndex: int | None = Field(description="Position in the batch, from 0; null if single.")
    status: str = Field(description="pending, processing, completed or failed.")
    originalUrl: str
    processedUrl: str | None
    thumbnailUrl: str | None
    originalSize: int | None
    processedSize: int | None
    tier: str = Field(description="basic, standard, professional or industry.")
    aiProvider: str | None
    modelName: str | None
    creditsUsed: int
    pricingType: str = Field(description="credit or subscription.")
    processingTime: int | None = Field(description="Milliseconds.")
    errorMessage: str | None
    createdAt: IsoDateTime
    completedAt: IsoDateTime | None


class RemoveResponse(Closed):
    """``POST /remove``: the finished job."""

    message: Literal["Background removed successfully"]
    job: Job


class JobResponse(Closed):
    """``GET /jobs/{job_id}``."""

    job: Job


class JobListResponse(Closed):
    """``GET /jobs``: the caller's single jobs, newest first, at most 50 per page."""

    jobs: list[Job]
    nextCursor: str | None = Field(
        default=None,
        description="Present only when more jobs follow: the cursor parameter of the next page.",
    )


class BatchStarted(Closed):
    """The accepted batch; ``id`` is the public batch id, not the row's primary key."""

    id: str
    totalImages: int
    status: Literal["pending"]


class BatchStartResponse(Closed):
    """``POST /batch``."""

    message: Literal["Batch processing started"]
    batch: BatchStarted


class Batch(Closed):
    """A ``BackgroundRemovalBatch`` row, its derived progress, and its items in order."""

    id: str
    userId: str
    batchId: str = Field(description="The public batch id used in the URLs.")
    status: str = Field(description="pending, processing, completed, partial or failed.")
    totalImages: int
    processedImages: int
    failedImages: int
    tier: str
    totalCredits: int
    discountPercentage: float
    originalPrice: int
    finalPrice: int
    zipUrl: str | None
    zipSize: int | None
    zipGenerated: bool
    startedAt: IsoDateTime | None
    completedAt: IsoDateTime | None
    estimatedDuration: int | None
    createdAt: IsoDateTime
    progressPercentage: float = Field(description="Items in a final state, 0-100.")
    jobs: list[Job]


class BatchResponse(Closed):
    """``GET /batch/{batch_id}``."""

    batch: Batch


class BatchDownloadResponse(Closed):
    """``GET /batch/{batch_id}/download``: where the ZIP is; fetch it from ``zipUrl``."""

    zipUrl: str
    zipSize: int | None


class SubscriptionUsage(Closed):
    """A ``BackgroundRemoverSubscriptionUsage`` row: removals per UTC day and tier."""

    id: str
    subscriptionId: str
    userId: str
    date: str = Field(description="YYYY-MM-DD, UTC.")
    tier: str
    removalsCount: int
    totalCreditsEquivalent: int
    createdAt: IsoDateTime
    updatedAt: IsoDateTime


class Subscription(Closed):
    """A ``BackgroundRemoverSubscription`` row."""

    id: str
    userId: str
    plan: str = Field(description="starter or pro.")
    status: str = Field(description="active, cancelled or expired.")
    monthlyPrice: int
    dailyQuota: int
    professionalDailyQuota: int
    allowedTiers: list[str] | None
    subscribedAt: IsoDateTime
    currentPeriodEnd: IsoDateTime
    nextBillingDate: IsoDateTime | None
    cancelledAt: IsoDateTime | None
    cancelReason: str | None
    autoRenew: bool
    lastPaymentId: str | None
    paymentMethod: str | None
    createdAt: IsoDateTime
    updatedAt: IsoDateTime


class SubscriptionWithUsage(Subscription):
    """The subscription row with today's (UTC) usage records."""

    usageRecords: list[SubscriptionUsage]


class SubscriptionResponse(Closed):
    """``GET /subscription``: the row in any status, or null when there is none."""

    subscription: SubscriptionWithUsage | None


class SubscriptionCreatedResponse(Closed):
    """``POST /subscription``: the new or renewed row, without usage records."""

    message: Literal["Subscription created successfully"]
    subscription: Subscription


class Pricing(Closed):
    """A batch's price: tier price times images, less the volume discount."""

    totalImages: int
    tier: str
    creditPerImage: int
    originalPrice: int
    discountPercentage: int
    discountAmount: int
    finalPrice: int
    savings: int


class PricingResponse(Closed):
    """``POST /pricing/calculate``."""

    pricing: Pricing


class Stats(Closed):
    """The caller's counts and plan."""

    totalSingleRemovals: int
    totalBatches: int
    hasSubscription: bool = Field(description="A subscription row exists, in any status.")
    plan: str | None


class StatsResponse(Closed):
    """``GET /stats``."""

    stats: Stats
