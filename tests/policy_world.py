"""A small museum in every state the policy distinguishes, for the role × route tests.

One record (with an image asset, an exhibition, a collection) per state: published and
public, draft, in review, withdrawn, under embargo, and published at each access level
above public. Plus a job, uploads owned by two contributors, a pending contribution.
Each record's title carries a marker word, so a test can look for it in any response.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyvips

from server.db import Database
from server.models import (
    Asset,
    Collection,
    CollectionRecord,
    Contribution,
    Exhibition,
    ExhibitionStop,
    Job,
    Place,
    Record,
    RecordPlace,
    Trip,
    Upload,
    User,
    utcnow,
)
from server.search import index_record
from tests.staff import add_user


@dataclass(frozen=True)
class State:
    name: str
    status: str
    access_level: str
    embargo: bool = False

    @property
    def record_id(self) -> str:
        return f"T-{self.name.upper()}"

    @property
    def asset_id(self) -> str:
        return f"{self.name:x<32}"[:32]

    @property
    def marker(self) -> str:
        """A word found nowhere else: its presence in a response means a leak."""
        return f"zqmarker{self.name.replace('_', '')}"


STATES = (
    State("published", "published", "public"),
    State("draft", "draft", "public"),
    State("in_review", "in_review", "public"),
    State("withdrawn", "withdrawn", "public"),
    State("embargoed", "published", "public", embargo=True),
    State("registered", "published", "registered"),
    State("staff", "published", "staff"),
    State("restricted", "published", "restricted"),
)
PUBLIC_STATE = STATES[0]
HIDDEN_STATES = STATES[1:]
JOB_ID = "0123456789abcdef" * 2
PLACE_ID = "test-place"
CONTRIBUTION_OWNER = "owner"  # a contributor who owns upload OWN_UPLOAD
OWN_UPLOAD = "u" * 32
OTHER_UPLOAD = "v" * 32
TRIP_CODE = "KT7M4Q"  # a field trip through the published exhibition, led by the contributor


def tiny_image(folder: Path) -> None:
    """What the image pipeline publishes, in miniature: IIIF tiles and a pyramidal TIFF."""
    folder.mkdir(parents=True)
    pixels = np.full((96, 128, 3), (200, 120, 40), np.uint8)
    image = pyvips.Image.new_from_array(pixels, interpretation="srgb")
    image.dzsave(str(folder / "iiif"), layout="iiif3", tile_size=256, suffix=".jpg[Q=80]")
    image.tiffsave(str(folder / "pyramid.tif"), tile=True, pyramid=True, compression="jpeg")


def build_world(db: Database, data_dir: Path) -> dict[str, int]:
    """Add the states' records and the other objects; returns user ids by name."""
    import io

    from server.storage import Store

    store = Store(data_dir)
    store.ensure()
    original = store.ingest(io.BytesIO(b"\x89PNG\r\n\x1a\n original bytes"))
    users = {
        CONTRIBUTION_OWNER: add_user(db, CONTRIBUTION_OWNER, "contributor"),
        "other": add_user(db, "other", "contributor"),
    }

    def build(session):  # type: ignore[no-untyped-def]
        now = utcnow()
        session.add(Place(id=PLACE_ID, name={"vi": "Nơi thử"}, latitude=12.6, longitude=108.0))
        for state in STATES:
            record = Record(
                id=state.record_id,
                kind="hien_vat",
                title={"vi": f"Hiện vật {state.marker}", "en": f"Artefact {state.marker}"},
                description={"vi": f"Mô tả {state.marker}"},
                status=state.status,
                access_level=state.access_level,
                embargo_until=now + timedelta(days=30) if state.embargo else None,
                # When visitors first saw it: only records that were public ever were.
                published_at=now if state.name in ("published", "withdrawn") else None,
            )
            session.add(record)
            session.flush()
            session.add(RecordPlace(record_id=record.id, place_id=PLACE_ID, role="located_at"))
            session.add(
                Asset(
                    id=state.asset_id,
                    sha256=original.sha256,
                    size=original.size,
                    filename=f"{state.marker}.png",
                    # an open licence and the download allowed: the original is offered
                    license="https://creativecommons.org/licenses/by/4.0/",
                    original_downloadable=True,
                    media_type="image/png",
                    kind="image",
                    record_id=record.id,
                    role="primary",
                    access_level="public",
                    published_version="v1",
                    technical={"width": 128, "height": 96},
                )
            )
            session.add(
                Exhibition(
                    id=f"ex-{state.name}",
                    title={"vi": f"Triển lãm {state.name}"},
                    # exhibitions have no embargo: the embargoed one is not yet published
                    published=state.status == "published" and not state.embargo,
                    access_level=state.access_level,
                )
            )
            session.flush()
            session.add(
                ExhibitionStop(exhibition_id=f"ex-{state.name}", position=1, record_id=record.id)
            )
            session.add(
                Collection(
                    id=f"col-{state.name}",
                    title={"vi": f"Bộ sưu tập {state.name}"},
                    access_level=state.access_level,
                )
            )
            session.flush()
            session.add(CollectionRecord(collection_id=f"col-{state.name}", record_id=record.id))
            session.flush()
            index_record(session, record)
        session.add(Job(id=JOB_ID, kind="process_image", state="failed", message="boom"))
        for upload_id, owner in ((OWN_UPLOAD, CONTRIBUTION_OWNER), (OTHER_UPLOAD, "other")):
            session.add(
                Upload(
                    id=upload_id,
                    user_id=users[owner],
                    length=10,
                    filename="x.png",
                    meta={"filename": "x.png"},
                    expires_at=now + timedelta(days=1),
                )
            )
        session.add(
            Trip(code=TRIP_CODE, exhibition_id="ex-published", teacher_id=users[CONTRIBUTION_OWNER])
        )
        session.add(
            Contribution(
                record_id=PUBLIC_STATE.record_id,
                kind="story",
                title="zqmarkercontribution",
                story="zqmarkercontribution story",
                contributor_name="Visitor",
                license="https://creativecommons.org/licenses/by/4.0/",
            )
        )

    db.call(build, write=True)
    for state in STATES:
        tiny_image(data_dir / "derivatives" / state.asset_id / "v1")
    users["admin"] = add_user(db, "admin", "admin")
    return users


def user_id(db: Database, name: str) -> int:
    from sqlalchemy import select

    return int(db.call(lambda s: s.scalar(select(User.id).where(User.username == name))))
