"""Core platform tables that existed before the Background Remover (revision ``0001``).

Table names are the original's ``@@map`` snake_case names; column names keep Prisma's
camelCase, exactly as the original database had them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, Text, text
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, new_id, prisma_index, utcnow

TIMESTAMP3 = TIMESTAMP(precision=3)
NOW = text("CURRENT_TIMESTAMP")


class User(Base):
    """A platform account (``users``); auth loads it by the token's ``userId``."""

    __tablename__ = "users"
    __table_args__ = (prisma_index("email", unique=True),)

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(Text)
    password: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text, server_default="user", default="user")
    storageQuota: Mapped[int] = mapped_column(
        Integer, server_default=text("1073741824"), default=1073741824
    )
    storageUsed: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    accountType: Mapped[str] = mapped_column(Text, server_default="payg", default="payg")
    subscriptionTier: Mapped[str] = mapped_column(Text, server_default="free", default="free")
    userTags: Mapped[str | None] = mapped_column(Text)
    createdAt: Mapped[datetime] = mapped_column(TIMESTAMP3, server_default=NOW, default=utcnow)
    updatedAt: Mapped[datetime] = mapped_column(TIMESTAMP3, default=utcnow, onupdate=utcnow)


class Credit(Base):
    """One row of the credit ledger (``credits``); ``balance`` is the running balance."""

    __tablename__ = "credits"
    __table_args__ = (
        prisma_index("userId"),
        prisma_index("userId", "createdAt"),
        prisma_index("type"),
        prisma_index("referenceId", "referenceType"),
        prisma_index("paymentId"),
        prisma_index("createdAt"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=new_id)
    userId: Mapped[str] = mapped_column(
        Text, ForeignKey("users.id", ondelete="CASCADE", onupdate="CASCADE")
    )
    amount: Mapped[int] = mapped_column(Integer)
    balance: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    referenceId: Mapped[str | None] = mapped_column(Text)
    referenceType: Mapped[str | None] = mapped_column(Text)
    paymentId: Mapped[str | None] = mapped_column(Text)
    createdAt: Mapped[datetime] = mapped_column(TIMESTAMP3, server_default=NOW, default=utcnow)


class App(Base):
    """The optional app registry (``apps``); the dashboard overlays its stats."""

    __tablename__ = "apps"
    __table_args__ = (prisma_index("appId", unique=True),)

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=new_id)
    appId: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    icon: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"), default=True)
    beta: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    comingSoon: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    creditCostBase: Mapped[int] = mapped_column(Integer, server_default=text("1"), default=1)
    requiresSubscription: Mapped[bool] = mapped_column(
        Boolean, server_default=text("false"), default=False
    )
    minSubscriptionTier: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text, server_default="1.0.0", default="1.0.0")
    totalUsage: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    activeUsers: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    dashboardOrder: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    dashboardColor: Mapped[str] = mapped_column(Text, server_default="blue", default="blue")
    createdAt: Mapped[datetime] = mapped_column(TIMESTAMP3, server_default=NOW, default=utcnow)
    updatedAt: Mapped[datetime] = mapped_column(TIMESTAMP3, default=utcnow, onupdate=utcnow)


class IdempotencyKey(Base):
    """A client's ``Idempotency-Key``: the first request's result, replayed to retries.

    Platform infrastructure like the ledger (revision ``0001``), so a retried charge is
    caught whatever app made it.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (prisma_index("userId", "key", unique=True),)

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=new_id)
    userId: Mapped[str] = mapped_column(
        Text, ForeignKey("users.id", ondelete="CASCADE", onupdate="CASCADE")
    )
    key: Mapped[str] = mapped_column(Text)
    endpoint: Mapped[str] = mapped_column(Text)
    requestHash: Mapped[str] = mapped_column(Text)
    responseStatus: Mapped[int | None] = mapped_column(Integer)
    responseBody: Mapped[str | None] = mapped_column(Text)
    createdAt: Mapped[datetime] = mapped_column(TIMESTAMP3, server_default=NOW, default=utcnow)
    completedAt: Mapped[datetime | None] = mapped_column(TIMESTAMP3)
