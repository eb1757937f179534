"""catalog model and search

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")
EMPTY_OBJECT = sa.text("'{}'")
EMPTY_LIST = sa.text("'[]'")

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", JSON, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ethnic_group", sa.String(length=128), nullable=False),
        sa.Column("honorific", sa.String(length=128), nullable=False),
        sa.Column("description", JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
    )
    op.create_table(
        "collections",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", JSON, nullable=False),
        sa.Column("description", JSON, nullable=False),
        sa.Column("access_level", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collections")),
    )
    op.create_table(
        "exhibitions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", JSON, nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("access_level", sa.String(length=16), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exhibitions")),
    )
    op.create_table(
        "places",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", JSON, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("commune_current", sa.String(length=255), nullable=False),
        sa.Column("province_current", sa.String(length=255), nullable=False),
        sa.Column("district_historical", sa.String(length=255), nullable=False),
        sa.Column("province_historical", sa.String(length=255), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_places")),
    )
    op.create_table(
        "collection_records",
        sa.Column("collection_id", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_collection_records_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
            name=op.f("fk_collection_records_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("collection_id", "record_id", name=op.f("pk_collection_records")),
    )
    with op.batch_alter_table("collection_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_collection_records_record_id"), ["record_id"], unique=False
        )

    op.create_table(
        "record_agents",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_record_agents_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
            name=op.f("fk_record_agents_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "agent_id", "role", name=op.f("pk_record_agents")),
    )
    with op.batch_alter_table("record_agents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_record_agents_agent_id"), ["agent_id"], unique=False)

    op.create_table(
        "record_facets",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("facet", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
            name=op.f("fk_record_facets_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "facet", "value", name=op.f("pk_record_facets")),
    )
    with op.batch_alter_table("record_facets", schema=None) as batch_op:
        batch_op.create_index("ix_record_facets_facet_value", ["facet", "value"], unique=False)

    op.create_table(
        "record_places",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("place_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["place_id"],
            ["places.id"],
            name=op.f("fk_record_places_place_id_places"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
            name=op.f("fk_record_places_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "place_id", "role", name=op.f("pk_record_places")),
    )
    with op.batch_alter_table("record_places", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_record_places_place_id"), ["place_id"], unique=False)

    op.create_table(
        "record_search",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("access", sa.String(length=16), nullable=False),
        sa.Column("exact", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
            name=op.f("fk_record_search_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_record_search")),
    )
    op.create_table(
        "exhibition_stops",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exhibition_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=True),
        sa.Column("asset_id", sa.String(length=32), nullable=True),
        sa.Column("title", JSON, nullable=False),
        sa.Column("text", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_exhibition_stops_asset_id_assets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["exhibition_id"],
            ["exhibitions.id"],
            name=op.f("fk_exhibition_stops_exhibition_id_exhibitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
            name=op.f("fk_exhibition_stops_record_id_records"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exhibition_stops")),
        sa.UniqueConstraint(
            "exhibition_id", "position", name=op.f("uq_exhibition_stops_exhibition_id")
        ),
    )
    with op.batch_alter_table("exhibition_stops", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exhibition_stops_record_id"), ["record_id"], unique=False
        )

    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), nullable=False, server_default="primary")
        )
        batch_op.add_column(sa.Column("position", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("label", JSON, nullable=False, server_default=EMPTY_OBJECT))
        batch_op.add_column(
            sa.Column("access_level", sa.String(length=16), nullable=False, server_default="public")
        )
        batch_op.add_column(
            sa.Column("technical", JSON, nullable=False, server_default=EMPTY_OBJECT)
        )
        batch_op.add_column(sa.Column("published_version", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("updated_at", sa.DateTime(), nullable=False, server_default=NOW)
        )

    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("alt_titles", JSON, nullable=False, server_default=EMPTY_OBJECT)
        )
        batch_op.add_column(
            sa.Column("significance", JSON, nullable=False, server_default=EMPTY_OBJECT)
        )
        batch_op.add_column(sa.Column("registration_number", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "designation", sa.String(length=32), nullable=False, server_default="chua_xep_hang"
            )
        )
        batch_op.add_column(sa.Column("decisions", JSON, nullable=False, server_default=EMPTY_LIST))
        batch_op.add_column(
            sa.Column("subtype", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("materials", JSON, nullable=False, server_default=EMPTY_LIST))
        batch_op.add_column(
            sa.Column("techniques", JSON, nullable=False, server_default=EMPTY_LIST)
        )
        batch_op.add_column(sa.Column("dimensions", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("dating", sa.String(length=255), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("date_earliest", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("date_latest", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("period", sa.String(length=128), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("condition", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("provenance", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column(
                "rights",
                sa.String(length=255),
                nullable=False,
                server_default="http://rightsstatements.org/vocab/CNE/1.0/",
            )
        )
        batch_op.add_column(
            sa.Column("rights_holder", sa.String(length=255), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("credit_line", JSON, nullable=False, server_default=EMPTY_OBJECT)
        )
        batch_op.add_column(
            sa.Column("access_level", sa.String(length=16), nullable=False, server_default="public")
        )
        batch_op.add_column(
            sa.Column(
                "digitization_status",
                sa.String(length=16),
                nullable=False,
                server_default="not_digitized",
            )
        )
        batch_op.add_column(
            sa.Column("digitization_priority", sa.Integer(), nullable=False, server_default="3")
        )
        batch_op.add_column(sa.Column("published_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("extra", JSON, nullable=False, server_default=EMPTY_OBJECT))
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_records_access_level"), ["access_level"], unique=False)
        batch_op.create_index(batch_op.f("ix_records_designation"), ["designation"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_records_digitization_status"), ["digitization_status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_records_updated_at"), ["updated_at"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_records_registration_number"), ["registration_number"]
        )

    create_search_index()


def create_search_index() -> None:
    """FTS5 on SQLite; a weighted tsvector with a GIN index on PostgreSQL."""
    if op.get_bind().dialect.name == "sqlite":
        # Text is folded (no diacritics) before indexing, in Python, on both engines.
        op.execute(
            "CREATE VIRTUAL TABLE record_fts USING fts5("
            "record_id UNINDEXED, title, body, tags, tokenize='unicode61', prefix='2 3 4')"
        )
    else:
        op.execute(
            "ALTER TABLE record_search ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('simple', title), 'A') || "
            "setweight(to_tsvector('simple', body), 'B') || "
            "setweight(to_tsvector('simple', tags), 'D')) STORED"
        )
        op.execute("CREATE INDEX ix_record_search_tsv ON record_search USING gin (tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS record_fts")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_records_registration_number"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_records_updated_at"))
        batch_op.drop_index(batch_op.f("ix_records_digitization_status"))
        batch_op.drop_index(batch_op.f("ix_records_designation"))
        batch_op.drop_index(batch_op.f("ix_records_access_level"))
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("extra")
        batch_op.drop_column("published_at")
        batch_op.drop_column("digitization_priority")
        batch_op.drop_column("digitization_status")
        batch_op.drop_column("access_level")
        batch_op.drop_column("credit_line")
        batch_op.drop_column("rights_holder")
        batch_op.drop_column("rights")
        batch_op.drop_column("provenance")
        batch_op.drop_column("condition")
        batch_op.drop_column("period")
        batch_op.drop_column("date_latest")
        batch_op.drop_column("date_earliest")
        batch_op.drop_column("dating")
        batch_op.drop_column("dimensions")
        batch_op.drop_column("techniques")
        batch_op.drop_column("materials")
        batch_op.drop_column("subtype")
        batch_op.drop_column("decisions")
        batch_op.drop_column("designation")
        batch_op.drop_column("registration_number")
        batch_op.drop_column("significance")
        batch_op.drop_column("alt_titles")

    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("published_version")
        batch_op.drop_column("technical")
        batch_op.drop_column("access_level")
        batch_op.drop_column("label")
        batch_op.drop_column("position")
        batch_op.drop_column("role")

    with op.batch_alter_table("exhibition_stops", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exhibition_stops_record_id"))

    op.drop_table("exhibition_stops")
    op.drop_table("record_search")
    with op.batch_alter_table("record_places", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_places_place_id"))

    op.drop_table("record_places")
    with op.batch_alter_table("record_facets", schema=None) as batch_op:
        batch_op.drop_index("ix_record_facets_facet_value")

    op.drop_table("record_facets")
    with op.batch_alter_table("record_agents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_agents_agent_id"))

    op.drop_table("record_agents")
    with op.batch_alter_table("collection_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collection_records_record_id"))

    op.drop_table("collection_records")
    op.drop_table("places")
    op.drop_table("exhibitions")
    op.drop_table("collections")
    op.drop_table("agents")
