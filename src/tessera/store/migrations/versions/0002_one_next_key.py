"""At most one pre-published ("next") signing key.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "uq_signing_keys_one_next",
        "signing_keys",
        ["state"],
        unique=True,
        sqlite_where=sa.text("state = 'next'"),
        postgresql_where=sa.text("state = 'next'"),
    )


def downgrade() -> None:
    op.drop_index("uq_signing_keys_one_next", table_name="signing_keys")
