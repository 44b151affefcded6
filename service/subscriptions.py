"""Subscriptions: create, cancel, and the daily quota consumed atomically (spec section 3).

Quota is checked and consumed in one transaction, under the same per-user lock as the
ledger, with the usage row's unique key (``subscriptionId, date, tier``) and
``ON CONFLICT DO UPDATE``: concurrent requests queue up and cannot pass the quota.
It is consumed when work is accepted and given back when the work fails, which matches
the original's "only successes count" without its check-then-record race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from service.credits import deduct_credits, lock_user
from service.errors import ApiError
from service.models import (
    BackgroundRemoverSubscription,
    BackgroundRemoverSubscriptionUsage,
    new_id,
    utcnow,
)
from service.pricing import PROFESSIONAL_TIERS, add_one_month, credits_equivalent, plan

Usage = BackgroundRemoverSubscriptionUsage
SUBSCRIPTION_REFERENCE = "background_remover_subscription"


def day_key(moment: datetime | None = None) -> str:
    """The usage table's day: ``YYYY-MM-DD`` in UTC (spec 3.5)."""
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class QuotaReservation:
    """Removals taken from a subscription's quota for one UTC day and tier."""

    subscription_id: str
    date: str


def _subscription(session: Session, user_id: str) -> BackgroundRemoverSubscription | None:
    return session.scalars(
        select(BackgroundRemoverSubscription).where(BackgroundRemoverSubscription.userId == user_id)
    ).one_or_none()


def reserve_quota(
    session: Session, user_id: str, tier: str, quantity: int
) -> QuotaReservation | None:
    """Consume ``quantity`` removals of ``tier`` from today's quota if all of them fit.

    Returns None (and consumes nothing) without an active, unexpired subscription that
    allows ``tier`` and has room; the caller then charges credits, as the original did.
    """
    lock_user(session, user_id)
    sub = _subscription(session, user_id)
    now = utcnow()
    if sub is None or sub.status != "active" or sub.currentPeriodEnd < now:
        return None
    if tier not in (sub.allowedTiers or []):
        return None
    today = day_key()
    rows = session.execute(
        select(Usage.tier, func.sum(Usage.removalsCount))
        .where(Usage.subscriptionId == sub.id, Usage.date == today)
        .group_by(Usage.tier)
    ).all()
    used = sum(int(count) for _, count in rows)
    professional_used = sum(int(count) for name, count in rows if name in PROFESSIONAL_TIERS)
    if sub.dailyQuota - used < quantity:
        return None
    if tier in PROFESSIONAL_TIERS and sub.professionalDailyQuota - professional_used < quantity:
        return None
    value = credits_equivalent(quantity, tier)
    statement = insert(Usage).values(
        id=new_id(),
        subscriptionId=sub.id,
        userId=user_id,
        date=today,
        tier=tier,
        removalsCount=quantity,
        totalCreditsEquivalent=value,
        createdAt=now,
        updatedAt=now,
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Usage.subscriptionId, Usage.date, Usage.tier],
            set_={
                "removalsCount": Usage.removalsCount + quantity,
                "totalCreditsEquivalent": Usage.totalCreditsEquivalent + value,
                "updatedAt": now,
            },
        )
    )
    return QuotaReservation(subscription_id=sub.id, date=today)


def release_quota(
    session: Session, user_id: str, reservation: QuotaReservation, tier: str, quantity: int
) -> None:
    """Give back ``quantity`` removals of a reservation whose work failed."""
    lock_user(session, user_id)
    session.execute(
        update(Usage)
        .where(
            Usage.subscriptionId == reservation.subscription_id,
            Usage.date == reservation.date,
            Usage.tier == tier,
        )
        .values(
            removalsCount=func.greatest(Usage.removalsCount - quantity, 0),
            totalCreditsEquivalent=func.greatest(
                Usage.totalCreditsEquivalent - credits_equivalent(quantity, tier), 0
            ),
            updatedAt=utcnow(),
        )
    )


def subscribe(
    session: Session, user_id: str, plan_key: str, payment_id: str | None
) -> BackgroundRemoverSubscription:
    """Start ``plan_key`` for the user and charge its monthly price, in one transaction.

    A cancelled or expired subscription is renewed in place (the original failed with a
    unique violation, a 500, for anyone who ever had a subscription). Starting and
    renewing both charge the plan's monthly price from the credit ledger, in the
    caller's transaction: the original charged nothing, so 0 credits bought a plan.

    Raises:
        ApiError: 409 while a subscription is active and unexpired; 402 when the
            balance is below the plan's price (nothing is written then).
    """
    terms = plan(plan_key)
    lock_user(session, user_id)
    sub = _subscription(session, user_id)
    now = utcnow()
    if sub is not None and sub.status == "active" and sub.currentPeriodEnd >= now:
        raise ApiError(409, "Subscription already active")
    subscription_id = sub.id if sub is not None else new_id()
    # Under the per-user lock taken above, so two concurrent subscribes charge once: the
    # second one waits, then finds the subscription active (409).
    deduct_credits(
        session,
        user_id,
        terms.price,
        description=f"background_remover_subscription_{terms.key}",
        reference_type=SUBSCRIPTION_REFERENCE,
        reference_id=subscription_id,
    )
    if sub is None:
        sub = BackgroundRemoverSubscription(id=subscription_id, userId=user_id)
        session.add(sub)
    period_end = add_one_month(now)
    sub.plan = terms.key
    sub.status = "active"
    sub.monthlyPrice = terms.price
    sub.dailyQuota = terms.daily_quota
    sub.professionalDailyQuota = terms.professional_daily_quota
    sub.allowedTiers = list(terms.allowed_tiers)
    sub.subscribedAt = now
    sub.currentPeriodEnd = period_end
    sub.nextBillingDate = period_end
    sub.cancelledAt = None
    sub.cancelReason = None
    sub.autoRenew = True
    sub.lastPaymentId = payment_id
    sub.updatedAt = now
    session.flush()
    return sub


def cancel(session: Session, user_id: str, reason: str | None) -> None:
    """Cancel the user's subscription now (quota stops at once, as in the original).

    Raises:
        ApiError: 404 when the user has no subscription.
    """
    lock_user(session, user_id)
    sub = _subscription(session, user_id)
    if sub is None:
        raise ApiError(404, "No subscription found")
    if sub.status == "cancelled":
        return
    now = utcnow()
    sub.status = "cancelled"
    sub.cancelledAt = now
    sub.cancelReason = reason
    sub.autoRenew = False
    sub.updatedAt = now
