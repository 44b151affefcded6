"""Tier prices, batch discounts and subscription plans (domain spec sections 2 and 3)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from service.plugin_config import BACKGROUND_REMOVER_CONFIG

TIERS: tuple[str, ...] = ("basic", "standard", "professional", "industry")
PROFESSIONAL_TIERS = frozenset({"professional", "industry"})
MAX_BATCH_IMAGES = int(BACKGROUND_REMOVER_CONFIG["batch"]["maxFiles"])


def tier_price(tier: str) -> int:
    """Credits per image for ``tier``; ValueError for anything that is not a tier.

    The original priced unknown names at 0 (and ``subscriptionPro`` at 299000 per image).
    """
    if tier not in TIERS:
        raise ValueError(f"Invalid tier: {tier}")
    return int(BACKGROUND_REMOVER_CONFIG["credits"][tier])


def discount_percentage(total_images: int) -> int:
    """The volume discount for ``total_images`` (inclusive ranges, 0 outside them)."""
    for rule in reversed(BACKGROUND_REMOVER_CONFIG["discounts"]):
        if rule["min"] <= total_images <= rule["max"]:
            return int(rule["percentage"])
    return 0


@dataclass(frozen=True)
class BatchPricing:
    """The calculator's answer, with the original's keys."""

    totalImages: int
    tier: str
    creditPerImage: int
    originalPrice: int
    discountPercentage: int
    discountAmount: int
    finalPrice: int
    savings: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``/pricing/calculate`` returns."""
        return asdict(self)


def calculate_batch_pricing(total_images: int, tier: str) -> BatchPricing:
    """Price ``total_images`` of ``tier``: discount floored, as ``calculateBatchPricing``."""
    per_image = tier_price(tier)
    original = total_images * per_image
    percentage = discount_percentage(total_images)
    discount = original * percentage // 100
    return BatchPricing(
        totalImages=total_images,
        tier=tier,
        creditPerImage=per_image,
        originalPrice=original,
        discountPercentage=percentage,
        discountAmount=discount,
        finalPrice=original - discount,
        savings=discount,
    )


def item_share(final_price: int, total_images: int, item_index: int) -> int:
    """Item ``item_index``'s part of a batch's discounted price; the parts sum to it.

    A failed item is refunded its share, so a batch whose items all fail is refunded
    exactly what it was charged, discount included.
    """
    base, remainder = divmod(final_price, total_images)
    return base + (1 if item_index < remainder else 0)


def credits_equivalent(quantity: int, tier: str) -> int:
    """Undiscounted credit value of ``quantity`` removals (usage bookkeeping, spec 2.3)."""
    return quantity * tier_price(tier)


@dataclass(frozen=True)
class Plan:
    """A subscription plan's terms, snapshotted into the subscription row."""

    key: str
    price: int
    daily_quota: int
    professional_daily_quota: int
    allowed_tiers: tuple[str, ...]


def plan(key: str) -> Plan:
    """The plan called ``key`` (``starter`` or ``pro``); KeyError otherwise."""
    config = BACKGROUND_REMOVER_CONFIG["subscriptionPlans"][key]
    return Plan(
        key=key,
        price=int(config["price"]),
        daily_quota=int(config["dailyQuota"]),
        professional_daily_quota=int(config["professionalDailyQuota"]),
        allowed_tiers=tuple(config["allowedTiers"]),
    )


def add_one_month(moment: datetime) -> datetime:
    """JavaScript's ``setMonth(+1)``: the same day next month, overflowing forward.

    Jan 31 becomes Mar 3 (Mar 2 in a leap year), exactly as the original computed
    ``currentPeriodEnd``.
    """
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=1) + timedelta(days=moment.day - 1)
