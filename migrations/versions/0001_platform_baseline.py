"""platform_baseline

The platform as production had it before the Background Remover: users, the credit
ledger and the app registry.

Revision ID: 0001
Revises:
Create Date: 2025-10-14 00:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = postgresql.TIMESTAMP(precision=3)
NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("password", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("role", sa.Text(), server_default="user", nullable=False),
        sa.Column(
            "storageQuota", sa.Integer(), server_default=sa.text("1073741824"), nullable=False
        ),
        sa.Column("storageUsed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("accountType", sa.Text(), server_default="payg", nullable=False),
        sa.Column("subscriptionTier", sa.Text(), server_default="free", nullable=False),
        sa.Column("userTags", sa.Text(), nullable=True),
        sa.Column("createdAt", TS, server_default=NOW, nullable=False),
        sa.Column("updatedAt", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="users_pkey"),
    )
    op.create_index("users_email_key", "users", ["email"], unique=True)

    op.create_table(
        "credits",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("userId", sa.Text(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("balance", sa.Integer(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("referenceId", sa.Text(), nullable=True),
        sa.Column("referenceType", sa.Text(), nullable=True),
        sa.Column("paymentId", sa.Text(), nullable=True),
        sa.Column("createdAt", TS, server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["userId"],
            ["users.id"],
            name="credits_userId_fkey",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="credits_pkey"),
    )
    op.create_index("credits_userId_idx", "credits", ["userId"])
    op.create_index("credits_userId_createdAt_idx", "credits", ["userId", "createdAt"])
    op.create_index("credits_type_idx", "credits", ["type"])
    op.create_index(
        "credits_referenceId_referenceType_idx", "credits", ["referenceId", "referenceType"]
    )
    op.create_index("credits_paymentId_idx", "credits", ["paymentId"])
    op.create_index("credits_createdAt_idx", "credits", ["createdAt"])

    op.create_table(
        "apps",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("appId", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("icon", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("beta", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("comingSoon", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("creditCostBase", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "requiresSubscription", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("minSubscriptionTier", sa.Text(), nullable=True),
        sa.Column("version", sa.Text(), server_default="1.0.0", nullable=False),
        sa.Column("totalUsage", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("activeUsers", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("dashboardOrder", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("dashboardColor", sa.Text(), server_default="blue", nullable=False),
        sa.Column("createdAt", TS, server_default=NOW, nullable=False),
        sa.Column("updatedAt", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="apps_pkey"),
    )
    op.create_index("apps_appId_key", "apps", ["appId"], unique=True)


def downgrade() -> None:
    op.drop_table("apps")
    op.drop_table("credits")
    op.drop_table("users")
