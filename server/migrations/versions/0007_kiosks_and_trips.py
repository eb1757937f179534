"""kiosks and field trips: the museum's touch screens, and teacher-led trips' summaries

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-19
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "kiosks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("exhibition_id", sa.String(length=64), nullable=True),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("cache_state", JSON_TYPE, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["exhibition_id"],
            ["exhibitions.id"],
            name=op.f("fk_kiosks_exhibition_id_exhibitions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosks")),
    )
    op.create_table(
        "trips",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("exhibition_id", sa.String(length=64), nullable=True),
        sa.Column("teacher_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("summary", JSON_TYPE, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["exhibition_id"],
            ["exhibitions.id"],
            name=op.f("fk_trips_exhibition_id_exhibitions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["teacher_id"],
            ["users.id"],
            name=op.f("fk_trips_teacher_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_trips")),
    )
    op.create_index(op.f("ix_trips_exhibition_id"), "trips", ["exhibition_id"], unique=False)
    op.create_index(op.f("ix_trips_teacher_id"), "trips", ["teacher_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_trips_teacher_id"), table_name="trips")
    op.drop_index(op.f("ix_trips_exhibition_id"), table_name="trips")
    op.drop_table("trips")
    op.drop_table("kiosks")
