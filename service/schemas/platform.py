"""Bodies of the platform endpoints: credits balance, the app dashboard, health probes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from service.schemas.common import Closed


class CreditBalance(Closed):
    """The balance of the caller's latest ledger row, 0 with none."""

    balance: int


class CreditBalanceResponse(Closed):
    """``GET /api/credits/balance``."""

    success: Literal[True]
    data: CreditBalance


class AppAccess(Closed):
    """Who may use an app."""

    requiresAuth: bool
    requiresSubscription: bool
    minSubscriptionTier: str | None
    allowedRoles: list[str]


class AppFeatures(Closed):
    """An app's feature flags."""

    enabled: bool
    beta: bool
    comingSoon: bool


class AppDashboardStats(Closed):
    """Where the dashboard reads an app's stats."""

    enabled: bool
    endpoint: str


class AppDashboard(Closed):
    """An app's dashboard tile."""

    order: int
    color: str
    stats: AppDashboardStats


class AppTier(Closed):
    """One quality tier of an app."""

    credits: int
    description: str


class AppDiscount(Closed):
    """A volume discount for batches of ``min`` to ``max`` images (inclusive)."""

    min: int
    max: int
    percentage: int


class AppSubscriptionPlan(Closed):
    """A subscription plan's terms."""

    name: str
    price: int
    dailyQuota: int
    professionalDailyQuota: int
    allowedTiers: list[str]


class AppBatchConcurrency(Closed):
    """Worker concurrency bounds for batches."""

    min: int
    max: int


class AppBatchLimits(Closed):
    """Limits of a batch upload."""

    maxFiles: int
    allowedFormats: list[str]
    maxFileSize: int
    concurrency: AppBatchConcurrency


class AppEntry(Closed):
    """An enabled plugin's config, with usage stats from its ``apps`` row."""

    appId: str
    name: str
    description: str
    icon: str
    version: str
    routePrefix: str
    credits: dict[str, int] = Field(description="Credits per image by tier or plan key.")
    access: AppAccess
    features: AppFeatures
    dashboard: AppDashboard
    tiers: dict[str, AppTier]
    discounts: list[AppDiscount]
    subscriptionPlans: dict[str, AppSubscriptionPlan]
    batch: AppBatchLimits
    availableModels: int
    usesOwnPricing: bool
    totalUsage: int
    activeUsers: int


class AppsResponse(Closed):
    """``GET /api/apps``: enabled apps in dashboard order."""

    apps: list[AppEntry]


class Liveness(Closed):
    """``GET /health``: the process is up."""

    status: Literal["ok"]


class Ready(Closed):
    """``GET /health/ready`` 200: the database answers and its revision is the code's head."""

    status: Literal["ready"]
    database: Literal["ok"]
    current: str | None
    head: str | None
    pending: list[str] = Field(max_length=0)


class NotReady(Closed):
    """``GET /health/ready`` 503: the database answers but its revision is not the head."""

    status: Literal["not_ready"]
    database: Literal["ok"]
    current: str | None
    head: str | None
    pending: list[str] = Field(description="Revisions not applied, oldest first.")
    reason: str


class DatabaseUnreachable(Closed):
    """``GET /health/ready`` 503: the database does not answer."""

    status: Literal["unavailable"]
    database: Literal["unreachable"]
    head: str | None
