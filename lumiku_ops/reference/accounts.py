"""Users and tokens for the reference service, so an operator can call its endpoints."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import create_engine, select
from sqlalchemy.exc import ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import Session

from lumiku_ops.errors import LumikuOpsError, SchemaNotReadyError
from lumiku_ops.redaction import mask_url
from service.auth import create_token
from service.models import Credit, User
from service.validation import USER_ID_RULE, is_valid_user_id

DEFAULT_EMAIL = "oncall@lumiku.local"
UNUSABLE_PASSWORD = "!no-login"  # token-only accounts; no password can match this


@dataclass(frozen=True)
class Account:
    """A user the service will accept, and whether it was just created."""

    user_id: str
    email: str
    balance: int
    created: bool


def ensure_account(
    url: str, *, user_id: str | None = None, email: str | None = None, credits: int | None = None
) -> Account:
    """Find or create the user; with ``credits``, make the ledger balance exactly that.

    A balance change is a new ledger row (the ledger is append-only; its latest row's
    ``balance`` is the balance), never an edit of history.
    """
    if user_id is not None and not is_valid_user_id(user_id):
        # Refused before the user exists: the service would refuse its every token.
        raise LumikuOpsError(f"invalid user id {user_id!r}: {USER_ID_RULE}")
    engine = create_engine(url)
    try:
        with Session(engine) as session, session.begin():
            user = _find_user(session, user_id=user_id, email=email)
            created = user is None
            if user is None:
                user = User(
                    id=user_id, email=email or _email_for(user_id), password=UNUSABLE_PASSWORD
                )
                session.add(user)
                session.flush()
            balance = _balance(session, user.id)
            if credits is not None and credits != balance:
                session.add(
                    Credit(
                        userId=user.id,
                        amount=credits - balance,
                        balance=credits,
                        type="bonus",
                        description="lumiku-ops token --credits",
                    )
                )
                balance = credits
            return Account(user_id=user.id, email=user.email, balance=balance, created=created)
    except ProgrammingError as exc:
        if getattr(exc.orig, "sqlstate", None) == "42P01":
            raise SchemaNotReadyError(
                "the users table does not exist on this database: apply the platform "
                "baseline first (alembic upgrade 0001)"
            ) from None
        raise
    except SQLAlchemyError as exc:
        raise LumikuOpsError(
            f"could not create the user on {mask_url(url)}: {type(exc.orig).__name__}"
            if hasattr(exc, "orig")
            else f"could not create the user on {mask_url(url)}"
        ) from None
    finally:
        engine.dispose()


def issue_token(account: Account, secret: str) -> str:
    """A JWT for ``account`` signed with ``secret`` (HS256, ``userId`` claim, 7 days)."""
    return create_token(user_id=account.user_id, email=account.email, secret=secret)


def _email_for(user_id: str | None) -> str:
    return f"{user_id}@lumiku.local" if user_id else DEFAULT_EMAIL


def _find_user(session: Session, *, user_id: str | None, email: str | None) -> User | None:
    if user_id:
        return session.get(User, user_id)
    return session.scalars(select(User).where(User.email == (email or DEFAULT_EMAIL))).first()


def _balance(session: Session, user_id: str) -> int:
    latest = session.scalar(
        select(Credit.balance)
        .where(Credit.userId == user_id)
        .order_by(Credit.createdAt.desc(), Credit.id.desc())
        .limit(1)
    )
    return latest or 0
