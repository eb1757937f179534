"""The catalog's tables (SQLAlchemy 2). Alembic migrations in ``server/migrations`` build them.

Timestamps are naive UTC (``utcnow``) on both engines, so SQLite's text
storage and PostgreSQL compare them the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")

# The four kinds of heritage the provincial plan names, in display order.
RECORD_KINDS = ("di_san_phi_vat_the", "di_tich", "hien_vat", "di_san_tu_lieu")

JOB_STATES = ("queued", "running", "succeeded", "failed")

# Catalog data may be reused freely; a record's own rights statement covers its media.
DEFAULT_RIGHTS = "http://rightsstatements.org/vocab/CNE/1.0/"


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Record(Base):
    """One heritage item: an intangible heritage, a relic site, an artefact or a document."""

    __tablename__ = "records"
    __table_args__ = (CheckConstraint(_one_of("kind", RECORD_KINDS), name="kind"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    # Multilingual text: {"vi": ..., "en": ..., "rad": ...}; Vietnamese is required.
    title: Mapped[dict[str, str]] = mapped_column(JSONType)
    description: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    category: Mapped[str] = mapped_column(String(255), default="")
    ranking: Mapped[str] = mapped_column(Text, default="")
    ranking_year: Mapped[str] = mapped_column(String(32), default="")
    decision_note: Mapped[str] = mapped_column(Text, default="")
    location_current: Mapped[str] = mapped_column(Text, default="")
    location_historical: Mapped[str] = mapped_column(Text, default="")
    ethnic_groups: Mapped[str] = mapped_column(Text, default="")
    sources: Mapped[list[str]] = mapped_column(JSONType, default=list)
    needs_verify: Mapped[str] = mapped_column(String(255), default="")
    # Scientific record (heritage-standards §3); codes come from server.vocab.
    alt_titles: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    significance: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    registration_number: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    designation: Mapped[str] = mapped_column(String(32), default="chua_xep_hang", index=True)
    decisions: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    subtype: Mapped[str] = mapped_column(String(64), default="")
    materials: Mapped[list[str]] = mapped_column(JSONType, default=list)
    techniques: Mapped[list[str]] = mapped_column(JSONType, default=list)
    dimensions: Mapped[str] = mapped_column(Text, default="")
    dating: Mapped[str] = mapped_column(String(255), default="")
    date_earliest: Mapped[int | None] = mapped_column(Integer, nullable=True)
    date_latest: Mapped[int | None] = mapped_column(Integer, nullable=True)
    period: Mapped[str] = mapped_column(String(128), default="")
    condition: Mapped[str] = mapped_column(String(64), default="")
    provenance: Mapped[str] = mapped_column(Text, default="")
    rights: Mapped[str] = mapped_column(String(255), default=DEFAULT_RIGHTS)
    rights_holder: Mapped[str] = mapped_column(String(255), default="")
    credit_line: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    access_level: Mapped[str] = mapped_column(String(16), default="public", index=True)
    digitization_status: Mapped[str] = mapped_column(
        String(16), default="not_digitized", index=True
    )
    digitization_priority: Mapped[int] = mapped_column(Integer, default=3)
    published_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, default=utcnow, onupdate=utcnow, index=True
    )
    # Records are never erased: OAI-PMH harvesters must learn of deletions.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Place(Base):
    """A place: a commune-level unit, a village (buôn), a site; current and pre-2025 names."""

    __tablename__ = "places"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[dict[str, str]] = mapped_column(JSONType)
    kind: Mapped[str] = mapped_column(String(32), default="site")
    commune_current: Mapped[str] = mapped_column(String(255), default="")
    province_current: Mapped[str] = mapped_column(String(255), default="Đắk Lắk")
    district_historical: Mapped[str] = mapped_column(String(255), default="")
    province_historical: Mapped[str] = mapped_column(String(255), default="")
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class RecordPlace(Base):
    __tablename__ = "record_places"
    __table_args__ = (PrimaryKeyConstraint("record_id", "place_id", "role"),)

    record_id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    place_id: Mapped[str] = mapped_column(ForeignKey("places.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32), default="located_at")


class Agent(Base):
    """A person, a community (a village, a gong troupe) or an organisation."""

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[dict[str, str]] = mapped_column(JSONType)
    kind: Mapped[str] = mapped_column(String(32), default="person")
    ethnic_group: Mapped[str] = mapped_column(String(128), default="")
    honorific: Mapped[str] = mapped_column(String(128), default="")
    description: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class RecordAgent(Base):
    __tablename__ = "record_agents"
    __table_args__ = (PrimaryKeyConstraint("record_id", "agent_id", "role"),)

    record_id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32), default="bearer")


class Collection(Base):
    __tablename__ = "collections"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[dict[str, str]] = mapped_column(JSONType)
    description: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    access_level: Mapped[str] = mapped_column(String(16), default="public")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class CollectionRecord(Base):
    __tablename__ = "collection_records"
    __table_args__ = (PrimaryKeyConstraint("collection_id", "record_id"),)

    collection_id: Mapped[str] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Exhibition(Base):
    """A virtual exhibition: an ordered walk through stops, each with its own text."""

    __tablename__ = "exhibitions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[dict[str, str]] = mapped_column(JSONType)
    summary: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    access_level: Mapped[str] = mapped_column(String(16), default="public")
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class ExhibitionStop(Base):
    __tablename__ = "exhibition_stops"
    __table_args__ = (UniqueConstraint("exhibition_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exhibition_id: Mapped[str] = mapped_column(ForeignKey("exhibitions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    record_id: Mapped[str | None] = mapped_column(
        ForeignKey("records.id", ondelete="SET NULL"), nullable=True, index=True
    )
    asset_id: Mapped[str | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL"), nullable=True
    )
    title: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    text: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)


class RecordFacet(Base):
    """One facet value of a record (ethnic group, place, material, media kind ...), for filters."""

    __tablename__ = "record_facets"
    __table_args__ = (
        PrimaryKeyConstraint("record_id", "facet", "value"),
        Index("ix_record_facets_facet_value", "facet", "value"),
    )

    record_id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    facet: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(255))


class RecordSearch(Base):
    """Folded (diacritic-free) text of a record, indexed by FTS5 or tsvector per engine."""

    __tablename__ = "record_search"

    record_id: Mapped[str] = mapped_column(
        ForeignKey("records.id", ondelete="CASCADE"), primary_key=True
    )
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    # Facet and access values as single tokens (zzk..., zza...), so filters run inside the index.
    tags: Mapped[str] = mapped_column(Text, default="")
    # The access level ("deleted" for deleted records): PostgreSQL filters on it in SQL.
    access: Mapped[str] = mapped_column(String(16), default="public")
    exact: Mapped[str] = mapped_column(Text, default="")


class Asset(Base):
    """One original file, stored once by SHA-256, optionally attached to a record."""

    __tablename__ = "assets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(512))
    media_type: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str | None] = mapped_column(
        ForeignKey("records.id", ondelete="SET NULL"), index=True, nullable=True
    )
    role: Mapped[str] = mapped_column(String(16), default="primary")
    position: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    access_level: Mapped[str] = mapped_column(String(16), default="public")
    # Width, height, duration, faces ... of the published derivative, written by pipelines.
    technical: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The derivative version visitors see (derivatives/<asset>/<version>/); None: not yet processed.
    published_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class AssetText(Base):
    """Text read by a machine from an asset's published version (OCR of a document's pages).

    Kept in the database rather than only beside the derivatives, so the record's
    search row can be rebuilt at any time; ``source`` and ``model`` say what wrote it
    (the review workflow of machine output builds on these).
    """

    __tablename__ = "asset_texts"

    asset_id: Mapped[str] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[str] = mapped_column(String(64))  # the derivative version it was read from
    source: Mapped[str] = mapped_column(String(32), default="ocr")
    model: Mapped[str] = mapped_column(String(128), default="")
    language: Mapped[str] = mapped_column(String(16), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


CAPTION_SOURCES = ("human", "asr")
CAPTION_STATUSES = ("draft", "accepted")


class AssetCaption(Base):
    """One language's caption track of a video or recording: WebVTT people wrote, or the
    machine draft read from its speech.

    The published version's ``captions.{language}.vtt`` files are built from these rows,
    not the other way round, so a reprocessed recording gets people's captions back.
    ``text`` is the sanitised WebVTT as published.
    """

    __tablename__ = "asset_captions"
    __table_args__ = (
        PrimaryKeyConstraint("asset_id", "language"),
        CheckConstraint(_one_of("source", CAPTION_SOURCES), name="source"),
        CheckConstraint(_one_of("status", CAPTION_STATUSES), name="status"),
    )

    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(16))  # BCP 47: vi, en, rad, pt-BR
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(128))  # the track's name in the player
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(255), default="")
    model: Mapped[str] = mapped_column(String(128), default="")  # what wrote a machine draft
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Annotation(Base):
    """A numbered point of interest on a 3D model, with its text in several languages.

    The position is in the published model's own frame (glTF: metres, Y up, standing on
    y = 0 and centred, as ``processing.threed.normalize`` leaves every scan), so it holds
    for every level of detail and for any version made from the same scan and units.
    """

    __tablename__ = "annotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    z: Mapped[float] = mapped_column(Float)
    # The surface's outward direction there (unit length), when known: the marker faces it.
    normal_x: Mapped[float | None] = mapped_column(Float, nullable=True)
    normal_y: Mapped[float | None] = mapped_column(Float, nullable=True)
    normal_z: Mapped[float | None] = mapped_column(Float, nullable=True)
    title: Mapped[dict[str, str]] = mapped_column(JSONType)
    text: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    media_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Job(Base):
    """A unit of background work. The row, not the queue message, is the truth."""

    __tablename__ = "jobs"
    __table_args__ = (CheckConstraint(_one_of("state", JOB_STATES), name="state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    state: Mapped[str] = mapped_column(String(16), index=True, default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    worker: Mapped[str] = mapped_column(String(255), default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    asset_id: Mapped[str | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL"), index=True, nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    enqueued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class JobEvent(Base):
    """Append-only history of a job: each enqueue, start, retry, requeue and ending."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    event: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")


# Engine-specific search structures live outside the ORM: SQLite's FTS5 table
# (and its shadow tables) and PostgreSQL's generated tsvector column.
ENGINE_SPECIFIC = ("record_fts",)


def include_in_comparison(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic hook: leave engine-specific search objects out of schema comparison."""
    if name is None:
        return True
    if type_ == "table" and name.startswith(ENGINE_SPECIFIC):
        return False
    return not (type_ in {"column", "index"} and name in {"tsv", "ix_record_search_tsv"})
