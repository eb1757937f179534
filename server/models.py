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
    # Publishing workflow (server.policy.RECORD_STATES): only "published" reaches visitors,
    # and not before ``embargo_until`` (naive UTC) has passed.
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    embargo_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
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
    # Rights of this media item (a licence or rights-statement URI); empty: the record's rights.
    license: Mapped[str] = mapped_column(String(255), default="")
    attribution: Mapped[str] = mapped_column(String(512), default="")
    # Whether visitors may download the original (when licence and access level allow).
    original_downloadable: Mapped[bool] = mapped_column(Boolean, default=False)
    # The account that uploaded it (no foreign key: SQLite cannot add one to a live table).
    uploaded_by: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
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
    # Review (REVIEW_STATUSES): only accepted text reaches visitors and the public search.
    status: Mapped[str] = mapped_column(String(16), default="draft")
    reviewer: Mapped[str] = mapped_column(String(255), default="")
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


REVIEW_STATUSES = ("draft", "accepted", "rejected")
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
    reviewer: Mapped[str] = mapped_column(String(255), default="")
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
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


ROLES = ("admin", "curator", "editor", "contributor")


class User(Base):
    """A staff member or registered contributor. Passwords are Argon2id PHC strings."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)  # NFC, case-folded
    display_name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on every role change, disabling and password change: older sessions end.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    # Bytes this user may keep in unfinished and finished uploads; None: the site default.
    upload_quota: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class UserSession(Base):
    """A signed-in browser. Only the SHA-256 of the cookie's random id is stored."""

    __tablename__ = "user_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    epoch: Mapped[int] = mapped_column(Integer)  # the user's session_epoch when signed in
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)  # absolute timeout
    client: Mapped[str] = mapped_column(String(64), default="")  # hash of address + agent


class LoginThrottle(Base):
    """Failed sign-ins counted per account and per address (``key``), shared by all processes."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class AuditEntry(Base):
    """Who changed what, when, with the object before and after. Rows are never updated or
    deleted: database triggers refuse it (migration 0006)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    actor: Mapped[str] = mapped_column(String(255), default="")  # username, "cli:<user>", "public"
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(128), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    address: Mapped[str] = mapped_column(String(64), default="")


class RecordVersion(Base):
    """A snapshot of a record's catalog fields after each change, for diff and revert."""

    __tablename__ = "record_versions"
    __table_args__ = (UniqueConstraint("record_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    author: Mapped[str] = mapped_column(String(255), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


UPLOAD_STATES = ("receiving", "verifying", "complete", "failed", "terminated")


class Upload(Base):
    """A tus 1.0 resumable upload. ``offset`` is written only after the bytes are on disk."""

    __tablename__ = "uploads"
    __table_args__ = (CheckConstraint(_one_of("state", UPLOAD_STATES), name="state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    filename: Mapped[str] = mapped_column(String(512), default="")
    # Upload-Metadata as sent (decoded), e.g. filetype, sha256, record
    meta: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="receiving", index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    asset_id: Mapped[str | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL"), nullable=True
    )
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)


DRAFT_FIELDS = ("label", "description", "alt_text", "title")
DRAFT_SOURCES = ("llm", "template")


class MachineDraft(Base):
    """Text a model or a template wrote for a record or a media item, waiting for review.

    Nothing here reaches visitors: accepting copies ``final_text`` into the record (a new
    record version) or the asset, keeping who wrote and who reviewed it.
    """

    __tablename__ = "machine_drafts"
    __table_args__ = (CheckConstraint(_one_of("status", REVIEW_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    asset_id: Mapped[str | None] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), nullable=True, index=True
    )
    field: Mapped[str] = mapped_column(String(32))  # DRAFT_FIELDS
    language: Mapped[str] = mapped_column(String(16))
    source_language: Mapped[str] = mapped_column(String(16), default="")  # set for translations
    text: Mapped[str] = mapped_column(Text)  # as the machine wrote it
    final_text: Mapped[str] = mapped_column(Text, default="")  # as accepted (maybe edited)
    source: Mapped[str] = mapped_column(String(16))  # DRAFT_SOURCES
    model: Mapped[str] = mapped_column(String(128), default="")
    model_version: Mapped[str] = mapped_column(String(128), default="")
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    reviewer: Mapped[str] = mapped_column(String(255), default="")
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


CONTRIBUTION_KINDS = ("photo", "story", "recording")
CONTRIBUTION_STATES = ("pending", "approved", "rejected")


class Contribution(Base):
    """Something a member of the public sent about an item or a tradition, awaiting moderation.

    Its media (if any) is an asset kept at access level "staff" until approval.
    """

    __tablename__ = "contributions"
    __table_args__ = (
        CheckConstraint(_one_of("kind", CONTRIBUTION_KINDS), name="kind"),
        CheckConstraint(_one_of("status", CONTRIBUTION_STATES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str | None] = mapped_column(
        ForeignKey("records.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(255), default="")
    story: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16), default="vi")
    contributor_name: Mapped[str] = mapped_column(String(255))
    contributor_email: Mapped[str] = mapped_column(String(255), default="")
    license: Mapped[str] = mapped_column(String(255))
    asset_id: Mapped[str | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    moderator: Mapped[str] = mapped_column(String(255), default="")
    moderated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    moderation_note: Mapped[str] = mapped_column(Text, default="")
    client: Mapped[str] = mapped_column(String(64), default="")  # hash of the sender's address
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class Kiosk(Base):
    """A touch screen in the museum running ``/kiosk/{exhibition}`` all day.

    It signs its heartbeats with a token whose SHA-256 alone is kept here; staff assign it
    an exhibition, which it follows on its next heartbeat.
    """

    __tablename__ = "kiosks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # a name staff chose: "hall-1"
    label: Mapped[str] = mapped_column(String(255), default="")
    token_hash: Mapped[str] = mapped_column(String(64))
    exhibition_id: Mapped[str | None] = mapped_column(
        ForeignKey("exhibitions.id", ondelete="SET NULL"), nullable=True
    )
    # What the kiosk last reported: its app version, cache state, last error.
    version: Mapped[str] = mapped_column(String(64), default="")
    cache_state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_seen: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Trip(Base):
    """A teacher-led virtual field trip through an exhibition. Live state travels through
    the trip hub (in-process or Redis); this row keeps who led it and, once ended, its
    summary (who joined, the questions and answers) for the CSV download."""

    __tablename__ = "trips"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)  # the short join code
    exhibition_id: Mapped[str | None] = mapped_column(
        ForeignKey("exhibitions.id", ondelete="SET NULL"), nullable=True, index=True
    )
    teacher_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    language: Mapped[str] = mapped_column(String(16), default="vi")
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class FixityCheck(Base):
    """When an original was last re-hashed by ``museum fixity``, and what was found, so a
    rotating audit re-hashes the least recently checked first (promise D3)."""

    __tablename__ = "fixity_checks"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    detail: Mapped[str] = mapped_column(String(255), default="")  # what was wrong, if anything


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
