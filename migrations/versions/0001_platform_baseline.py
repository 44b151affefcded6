"""platform_baseline

The platform as production had it before the Background Remover: users, the credit
ledger, the app registry, idempotency keys, and the platform's job queue (procrastinate).

The queue's schema is procrastinate's own ``schema.sql``, vendored under
``migrations/sql/`` so this revision does not change when the package is upgraded. It
belongs here, not below ``0002``: the platform's queue predates the Background Remover,
and the incident replay deletes ``0002``, which must not take the queue with it.

Revision ID: 0001
Revises:
Create Date: 2025-10-14 00:00:00

"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = postgresql.TIMESTAMP(precision=3)
NOW = sa.text("CURRENT_TIMESTAMP")
QUEUE_SCHEMA = Path(__file__).resolve().parent.parent / "sql" / "procrastinate_3.10_schema.sql"
# Everything procrastinate's schema creates, so the downgrade leaves nothing behind.
QUEUE_TABLES = (
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_jobs",
    "procrastinate_workers",
)
QUEUE_TYPES = (
    "procrastinate_job_to_defer_v1",
    "procrastinate_job_event_type",
    "procrastinate_job_status",
)
DROP_QUEUE_FUNCTIONS = """
DO $$
DECLARE fn regprocedure;
BEGIN
    FOR fn IN
        SELECT p.oid::regprocedure FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%'
    LOOP
        EXECUTE 'DROP FUNCTION ' || fn;
    END LOOP;
END
$$
"""


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

    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("userId", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("requestHash", sa.Text(), nullable=False),
        sa.Column("responseStatus", sa.Integer(), nullable=True),
        sa.Column("responseBody", sa.Text(), nullable=True),
        sa.Column("createdAt", TS, server_default=NOW, nullable=False),
        sa.Column("completedAt", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["userId"],
            ["users.id"],
            name="idempotency_keys_userId_fkey",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="idempotency_keys_pkey"),
    )
    op.create_index(
        "idempotency_keys_userId_key_key", "idempotency_keys", ["userId", "key"], unique=True
    )

    op.execute(sa.text(QUEUE_SCHEMA.read_text()))


def downgrade() -> None:
    for table in QUEUE_TABLES:
        op.execute(sa.text(f"DROP TABLE {table} CASCADE"))
    op.execute(sa.text(DROP_QUEUE_FUNCTIONS))
    for type_ in QUEUE_TYPES:
        op.execute(sa.text(f"DROP TYPE {type_}"))
    op.drop_table("idempotency_keys")
    op.drop_table("apps")
    op.drop_table("credits")
    op.drop_table("users")
