"""fixity checks: when each original was last re-hashed by ``museum fixity``, and the outcome

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fixity_checks",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_fixity_checks")),
    )
    op.create_index(
        op.f("ix_fixity_checks_checked_at"), "fixity_checks", ["checked_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_fixity_checks_checked_at"), table_name="fixity_checks")
    op.drop_table("fixity_checks")
