"""The four Background Remover tables, exactly as the seed's expected migration defines them.

Quoted CamelCase table names, ``TIMESTAMP(3)``, ``TEXT[]``, ``DOUBLE PRECISION``, the seed's
defaults and nullability, unique keys as unique *indexes*, and both foreign keys with
``ON DELETE CASCADE ON UPDATE CASCADE``. The seed's prose counts 18 and 17 columns for two
of these tables; its SQL (19 and 18) is what these classes follow. One index is ours, not
the seed's: ``BackgroundRemovalJob_userId_createdAt_id_idx`` (single jobs only), for GET
/jobs and /stats.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Double, ForeignKey, Index, Integer, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Base, new_id, prisma_index, utcnow
from service.models.core import NOW, TIMESTAMP3


class BackgroundRemovalJob(Base):
    """One image removal; ``batchId`` is NULL for single jobs."""

    __tablename__ = "BackgroundRemovalJob"
    __table_args__ = (
        prisma_index("userId"),
        prisma_index("status"),
        prisma_index("batchId"),
        prisma_index("createdAt"),
        # Not in the seed: GET /jobs (a user's single jobs, newest first, by cursor) and
        # the count in GET /stats read this index alone instead of all the user's rows.
        # Partial, so that within one user the entries are already in (createdAt, id) order.
        Index(None, "userId", "createdAt", "id", postgresql_where=text('"batchId" IS NULL')),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=new_id)
    userId: Mapped[str] = mapped_column(Text)
    batchId: Mapped[str | None] = mapped_column(
        Text, ForeignKey("BackgroundRemovalBatch.id", ondelete="CASCADE", onupdate="CASCADE")
    )
    itemIndex: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(Text, server_default="pending", default="pending")
    originalUrl: Mapped[str] = mapped_column(Text)
    processedUrl: Mapped[str | None] = mapped_column(Text)
    thumbnailUrl: Mapped[str | None] = mapped_column(Text)
    originalSize: Mapped[int | None] = mapped_column(Integer)
    processedSize: Mapped[int | None] = mapped_column(Integer)
    tier: Mapped[str] = mapped_column(Text)
    aiProvider: Mapped[str | None] = mapped_column(Text)
    modelName: Mapped[str | None] = mapped_column(Text)
    creditsUsed: Mapped[int] = mapped_column(Integer)
    pricingType: Mapped[str] = mapped_column(Text, server_default="credit", default="credit")
    processingTime: Mapped[int | None] = mapped_column(Integer)
    errorMessage: Mapped[str | None] = mapped_column(Text)
    createdAt: Mapped[datetime] = mapped_column(TIMESTAMP3, server_default=NOW, default=utcnow)
    completedAt: Mapped[datetime | None] = mapped_column(TIMESTAMP3)


class BackgroundRemovalBatch(Base):
    """A batch of removals priced together; ``batchId`` is its public id."""

    __tablename__ = "BackgroundRemovalBatch"
    __table_args__ = (
        prisma_index("batchId", unique=True),
        prisma_index("userId"),
        prisma_index("status"),
        prisma_index("createdAt"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=new_id)
    userId: Mapped[str] = mapped_column(Text)
    batchId: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="pending", default="pending")
    totalImages: Mapped[int] = mapped_column(Integer)
    processedImages: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    failedImages: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    tier: Mapped[str] = mapped_column(Text)
    totalCredits: Mapped[int] = mapped_column(Integer)
    discountPercentage: Mapped[float] = mapped_column(Double, server_default=text("0"), default=0.0)
    originalPrice: Mapped[int] = mapped_column(Integer)
    finalPrice: Mapped[int] = mapped_column(Integer)
    zipUrl: Mapped[str | None] = mapped_column(Text)
    zipSize: Mapped[int | None] = mapped_column(Integer)
    zipGenerated: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    startedAt: Mapped[datetime | None] = mapped_column(TIMESTAMP3)
    completedAt: Mapped[datetime | None] = mapped_column(TIMESTAMP3)
    estimatedDuration: Mapped[int | None] = mapped_column(Integer)
    createdAt: Mapped[datetime] = mapped_column(TIMESTAMP3, server_default=NOW, default=utcnow)

    jobs: Mapped[list[BackgroundRemovalJob]] = relationship(
        order_by=BackgroundRemovalJob.itemIndex, passive_deletes=True
    )


class BackgroundRemoverSubscription(Base):
    """A user's plan; one row per user whatever its status."""

    __tablename__ = "BackgroundRemoverSubscription"
    __table_args__ = (
        prisma_index("userId", unique=True),
        prisma_index("status"),
        prisma_index("currentPeriodEnd"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=new_id)
    userId: Mapped[str] = mapped_column(Text)
    plan: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="active", default="active")
    monthlyPrice: Mapped[int] = mapped_column(Integer)
    dailyQuota: Mapped[int] = mapped_column(Integer)
    professionalDailyQuota: Mapped[int] = mapped_column(Integer)
    allowedTiers: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    subscribedAt: Mapped[datetime] = mapped_column(TIMESTAMP3)
    currentPeriodEnd: Mapped[datetime] = mapped_column(TIMESTAMP3)
    nextBillingDate: Mapped[datetime | None] = mapped_column(TIMESTAMP3)
    cancelledAt: Mapped[datetime | None] = mapped_column(TIMESTAMP3)
    cancelReason: Mapped[str | None] = mapped_column(Text)
    autoRenew: Mapped[bool] = mapped_column(Boolean, server_default=text("true"), default=True)
    lastPaymentId: Mapped[str | None] = mapped_column(Text)
    paymentMethod: Mapped[str | None] = mapped_column(Text)
    createdAt: Mapped[datetime] = mapped_column(TIMESTAMP3, server_default=NOW, default=utcnow)
    updatedAt: Mapped[datetime] = mapped_column(TIMESTAMP3, default=utcnow, onupdate=utcnow)

    usageRecords: Mapped[list[BackgroundRemoverSubscriptionUsage]] = relationship(
        back_populates="subscription", passive_deletes=True
    )


class BackgroundRemoverSubscriptionUsage(Base):
    """Removals counted per subscription, UTC day (``YYYY-MM-DD`` text) and tier."""

    __tablename__ = "BackgroundRemoverSubscriptionUsage"
    __table_args__ = (
        prisma_index("subscriptionId", "date", "tier", unique=True),
        prisma_index("subscriptionId"),
        prisma_index("userId"),
        prisma_index("date"),
        prisma_index("subscriptionId", "date"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=new_id)
    subscriptionId: Mapped[str] = mapped_column(
        Text, ForeignKey("BackgroundRemoverSubscription.id", ondelete="CASCADE", onupdate="CASCADE")
    )
    userId: Mapped[str] = mapped_column(Text)
    date: Mapped[str] = mapped_column(Text)
    tier: Mapped[str] = mapped_column(Text)
    removalsCount: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    totalCreditsEquivalent: Mapped[int] = mapped_column(
        Integer, server_default=text("0"), default=0
    )
    createdAt: Mapped[datetime] = mapped_column(TIMESTAMP3, server_default=NOW, default=utcnow)
    updatedAt: Mapped[datetime] = mapped_column(TIMESTAMP3, default=utcnow, onupdate=utcnow)

    subscription: Mapped[BackgroundRemoverSubscription] = relationship(
        back_populates="usageRecords"
    )
