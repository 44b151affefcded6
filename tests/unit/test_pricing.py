"""Tier prices, volume discounts and plan periods (domain spec sections 2 and 3)."""

from __future__ import annotations

from datetime import datetime

import pytest

from service.pricing import add_one_month, calculate_batch_pricing, item_share, plan, tier_price


@pytest.mark.parametrize(
    ("tier", "images", "original", "percentage", "final"),
    [
        ("basic", 19, 57, 0, 57),
        ("basic", 20, 60, 5, 57),
        ("basic", 25, 75, 5, 72),
        ("standard", 50, 400, 5, 380),
        ("standard", 51, 408, 10, 368),
        ("standard", 100, 800, 10, 720),
        ("professional", 101, 1515, 15, 1288),
        ("industry", 200, 5000, 15, 4250),
        ("industry", 250, 6250, 20, 5000),
        ("basic", 500, 1500, 20, 1200),
        ("standard", 501, 4008, 0, 4008),
    ],
)
def test_discount_table(tier: str, images: int, original: int, percentage: int, final: int) -> None:
    pricing = calculate_batch_pricing(images, tier)
    assert (pricing.originalPrice, pricing.discountPercentage, pricing.finalPrice) == (
        original,
        percentage,
        final,
    )
    assert pricing.savings == pricing.discountAmount == original - final
    assert list(pricing.to_dict()) == [
        "totalImages",
        "tier",
        "creditPerImage",
        "originalPrice",
        "discountPercentage",
        "discountAmount",
        "finalPrice",
        "savings",
    ]


def test_tier_prices_and_unknown_tiers() -> None:
    assert [tier_price(t) for t in ("basic", "standard", "professional", "industry")] == [
        3,
        8,
        15,
        25,
    ]
    for name in ("subscriptionPro", "Basic", ""):
        with pytest.raises(ValueError):
            tier_price(name)


def test_plans() -> None:
    starter, pro = plan("starter"), plan("pro")
    assert (starter.price, starter.daily_quota, starter.professional_daily_quota) == (99000, 50, 0)
    assert starter.allowed_tiers == ("basic", "standard")
    assert (pro.price, pro.daily_quota, pro.professional_daily_quota) == (299000, 200, 50)
    assert pro.allowed_tiers == ("basic", "standard", "professional", "industry")


def test_item_shares_sum_to_the_discounted_price() -> None:
    assert sum(item_share(57, 20, i) for i in range(20)) == 57
    assert sum(item_share(1288, 101, i) for i in range(101)) == 1288


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2025, 1, 31, 10), datetime(2025, 3, 3, 10)),
        (datetime(2024, 1, 31, 10), datetime(2024, 3, 2, 10)),
        (datetime(2025, 10, 18, 15), datetime(2025, 11, 18, 15)),
        (datetime(2025, 12, 31), datetime(2026, 1, 31)),
    ],
)
def test_one_month_overflows_like_javascript(start: datetime, end: datetime) -> None:
    assert add_one_month(start) == end
