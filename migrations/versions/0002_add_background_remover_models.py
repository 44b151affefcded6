"""add_background_remover_models

The four Background Remover tables, as the incident's expected migration defines them,
plus one index the original lacked (a user's single jobs by time, for GET /jobs and /stats).

Revision ID: 0002
Revises: 0001
Create Date: 2025-10-18 00:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = postgresql.TIMESTAMP(precision=3)
NOW = sa.text("CURRENT_TIMESTAMP")
CASCADE = {"ondelete": "CASCADE", "onupdate": "CASCADE"}


def upgrade() -> None:
    op.create_table(
        "BackgroundRemovalJob",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("userId", sa.Text(), nullable=False),
        sa.Column("batchId", sa.Text(), nullable=True),
        sa.Column("itemIndex", sa.Integer(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("originalUrl", sa.Text(), nullable=False),
        sa.Column("processedUrl", sa.Text(), nullable=True),
        sa.Column("thumbnailUrl", sa.Text(), nullable=True),
        sa.Column("originalSize", sa.Integer(), nullable=True),
        sa.Column("processedSize", sa.Integer(), nullable=True),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("aiProvider", sa.Text(), nullable=True),
        sa.Column("modelName", sa.Text(), nullable=True),
        sa.Column("creditsUsed", sa.Integer(), nullable=False),
        sa.Column("pricingType", sa.Text(), server_default="credit", nullable=False),
        sa.Column("processingTime", sa.Integer(), nullable=True),
        sa.Column("errorMessage", sa.Text(), nullable=True),
        sa.Column("createdAt", TS, server_default=NOW, nullable=False),
        sa.Column("completedAt", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="BackgroundRemovalJob_pkey"),
    )
    op.create_table(
        "BackgroundRemovalBatch",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("userId", sa.Text(), nullable=False),
        sa.Column("batchId", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("totalImages", sa.Integer(), nullable=False),
        sa.Column("processedImages", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failedImages", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("totalCredits", sa.Integer(), nullable=False),
        sa.Column("discountPercentage", sa.Double(), server_default=sa.text("0"), nullable=False),
        sa.Column("originalPrice", sa.Integer(), nullable=False),
        sa.Column("finalPrice", sa.Integer(), nullable=False),
        sa.Column("zipUrl", sa.Text(), nullable=True),
        sa.Column("zipSize", sa.Integer(), nullable=True),
        sa.Column("zipGenerated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("startedAt", TS, nullable=True),
        sa.Column("completedAt", TS, nullable=True),
        sa.Column("estimatedDuration", sa.Integer(), nullable=True),
        sa.Column("createdAt", TS, server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="BackgroundRemovalBatch_pkey"),
    )
    op.create_table(
        "BackgroundRemoverSubscription",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("userId", sa.Text(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("monthlyPrice", sa.Integer(), nullable=False),
        sa.Column("dailyQuota", sa.Integer(), nullable=False),
        sa.Column("professionalDailyQuota", sa.Integer(), nullable=False),
        sa.Column("allowedTiers", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("subscribedAt", TS, nullable=False),
        sa.Column("currentPeriodEnd", TS, nullable=False),
        sa.Column("nextBillingDate", TS, nullable=True),
        sa.Column("cancelledAt", TS, nullable=True),
        sa.Column("cancelReason", sa.Text(), nullable=True),
        sa.Column("autoRenew", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("lastPaymentId", sa.Text(), nullable=True),
        sa.Column("paymentMethod", sa.Text(), nullable=True),
        sa.Column("createdAt", TS, server_default=NOW, nullable=False),
        sa.Column("updatedAt", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="BackgroundRemoverSubscription_pkey"),
    )
    op.create_table(
        "BackgroundRemoverSubscriptionUsage",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("subscriptionId", sa.Text(), nullable=False),
        sa.Column("userId", sa.Text(), nullable=False),
        sa.Column("date", sa.Text(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("removalsCount", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "totalCreditsEquivalent", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("createdAt", TS, server_default=NOW, nullable=False),
        sa.Column("updatedAt", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="BackgroundRemoverSubscriptionUsage_pkey"),
    )

    op.create_index("BackgroundRemovalJob_userId_idx", "BackgroundRemovalJob", ["userId"])
    op.create_index("BackgroundRemovalJob_status_idx", "BackgroundRemovalJob", ["status"])
    op.create_index("BackgroundRemovalJob_batchId_idx", "BackgroundRemovalJob", ["batchId"])
    op.create_index("BackgroundRemovalJob_createdAt_idx", "BackgroundRemovalJob", ["createdAt"])
    # Beyond the seed's SQL: serves GET /jobs (cursor pages of a user's single jobs) and the
    # count in GET /stats from the index alone (bench/api_latency.py).
    op.create_index(
        "BackgroundRemovalJob_userId_createdAt_id_idx",
        "BackgroundRemovalJob",
        ["userId", "createdAt", "id"],
        postgresql_where=sa.text('"batchId" IS NULL'),
    )

    op.create_index(
        "BackgroundRemovalBatch_batchId_key", "BackgroundRemovalBatch", ["batchId"], unique=True
    )
    op.create_index("BackgroundRemovalBatch_userId_idx", "BackgroundRemovalBatch", ["userId"])
    op.create_index("BackgroundRemovalBatch_status_idx", "BackgroundRemovalBatch", ["status"])
    op.create_index("BackgroundRemovalBatch_createdAt_idx", "BackgroundRemovalBatch", ["createdAt"])

    op.create_index(
        "BackgroundRemoverSubscription_userId_key",
        "BackgroundRemoverSubscription",
        ["userId"],
        unique=True,
    )
    op.create_index(
        "BackgroundRemoverSubscription_status_idx", "BackgroundRemoverSubscription", ["status"]
    )
    op.create_index(
        "BackgroundRemoverSubscription_currentPeriodEnd_idx",
        "BackgroundRemoverSubscription",
        ["currentPeriodEnd"],
    )

    op.create_index(
        "BackgroundRemoverSubscriptionUsage_subscriptionId_date_tier_key",
        "BackgroundRemoverSubscriptionUsage",
        ["subscriptionId", "date", "tier"],
        unique=True,
    )
    op.create_index(
        "BackgroundRemoverSubscriptionUsage_subscriptionId_idx",
        "BackgroundRemoverSubscriptionUsage",
        ["subscriptionId"],
    )
    op.create_index(
        "BackgroundRemoverSubscriptionUsage_userId_idx",
        "BackgroundRemoverSubscriptionUsage",
        ["userId"],
    )
    op.create_index(
        "BackgroundRemoverSubscriptionUsage_date_idx",
        "BackgroundRemoverSubscriptionUsage",
        ["date"],
    )
    op.create_index(
        "BackgroundRemoverSubscriptionUsage_subscriptionId_date_idx",
        "BackgroundRemoverSubscriptionUsage",
        ["subscriptionId", "date"],
    )

    op.create_foreign_key(
        "BackgroundRemovalJob_batchId_fkey",
        "BackgroundRemovalJob",
        "BackgroundRemovalBatch",
        ["batchId"],
        ["id"],
        **CASCADE,
    )
    op.create_foreign_key(
        "BackgroundRemoverSubscriptionUsage_subscriptionId_fkey",
        "BackgroundRemoverSubscriptionUsage",
        "BackgroundRemoverSubscription",
        ["subscriptionId"],
        ["id"],
        **CASCADE,
    )


def downgrade() -> None:
    # Dropping the tables drops their indexes and foreign keys with them; the children
    # go first so no foreign key is left pointing at a dropped table.
    op.drop_table("BackgroundRemoverSubscriptionUsage")
    op.drop_table("BackgroundRemovalJob")
    op.drop_table("BackgroundRemoverSubscription")
    op.drop_table("BackgroundRemovalBatch")
