"""concurrent index on product names

Revision ID: 5c0d2e9a41f7
Revises: 5c0e7d2a9b14
Create Date: 2026-12-05 03:52:10.204417

"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "5c0d2e9a41f7"
down_revision: str | None = "5c0e7d2a9b14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # products is busy: build the index without blocking writes, outside a transaction.
    with op.get_context().autocommit_block():
        op.create_index(
            op.f("ix_products_name"), "products", ["name"], postgresql_concurrently=True
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(op.f("ix_products_name"), table_name="products", postgresql_concurrently=True)
