"""The credit ledger under concurrency (domain spec section 5).

The balance is the ``balance`` of the user's latest row. Every write first locks the
user's row (``SELECT ... FOR UPDATE``), so concurrent charges for one user queue up and
each one reads the balance the previous one left: a balance can never be overdrawn.
Each new row is stamped strictly after the previous one, so "latest" is never a tie.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.errors import ApiError
from service.models import Credit, User, utcnow

ONE_MS = timedelta(milliseconds=1)


def lock_user(session: Session, user_id: str) -> None:
    """Take the per-user lock that serialises ledger and quota changes (until commit)."""
    session.execute(select(User.id).where(User.id == user_id).with_for_update())


def _latest(session: Session, user_id: str) -> Credit | None:
    return session.scalars(
        select(Credit)
        .where(Credit.userId == user_id)
        .order_by(Credit.createdAt.desc(), Credit.id.desc())
        .limit(1)
    ).first()


def current_balance(session: Session, user_id: str) -> int:
    """The balance of the user's latest ledger row, 0 without rows."""
    latest = _latest(session, user_id)
    return latest.balance if latest else 0


def _append(
    session: Session,
    user_id: str,
    *,
    amount: int,
    type_: str,
    description: str,
    reference_id: str | None,
    reference_type: str | None,
) -> Credit:
    latest = _latest(session, user_id)
    balance = latest.balance if latest else 0
    now = utcnow()
    if latest is not None and now <= latest.createdAt:
        now = latest.createdAt + ONE_MS
    row = Credit(
        userId=user_id,
        amount=amount,
        balance=balance + amount,
        type=type_,
        description=description,
        referenceId=reference_id,
        referenceType=reference_type,
        createdAt=now,
    )
    session.add(row)
    session.flush()
    return row


def deduct_credits(
    session: Session,
    user_id: str,
    amount: int,
    *,
    description: str,
    reference_type: str,
    reference_id: str | None = None,
) -> Credit:
    """Charge ``amount`` inside the caller's transaction, or raise a 402.

    Raises:
        ApiError: 402 with the original's message when the balance is too low.
    """
    lock_user(session, user_id)
    available = current_balance(session, user_id)
    if available < amount:
        raise ApiError(402, f"Insufficient credits. Required: {amount}, Available: {available}")
    return _append(
        session,
        user_id,
        amount=-amount,
        type_="usage",
        description=description,
        reference_id=reference_id,
        reference_type=reference_type,
    )


def refund_credits(
    session: Session,
    user_id: str,
    amount: int,
    *,
    reference_type: str,
    reference_id: str,
) -> Credit | None:
    """Give ``amount`` back inside the caller's transaction (nothing for 0)."""
    if amount <= 0:
        return None
    lock_user(session, user_id)
    return _append(
        session,
        user_id,
        amount=amount,
        type_="refund",
        description="Background removal failed - refunded",
        reference_id=reference_id,
        reference_type=reference_type,
    )
