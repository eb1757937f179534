"""Catalog content beyond the seed: collection, exhibition, place, media, a restricted record."""

from __future__ import annotations

from server.db import Database
from server.models import (
    Asset,
    Collection,
    CollectionRecord,
    Exhibition,
    ExhibitionStop,
    Place,
    Record,
    RecordPlace,
)
from server.search import index_record

PUBLISHED_ASSET = "a" * 32
STAFF_ASSET = "b" * 32


def add_fixtures(db: Database) -> None:
    """A collection, an exhibition, a place, a published image and a restricted record."""

    def build(session):  # type: ignore[no-untyped-def]
        session.add(Collection(id="gongs", title={"vi": "Cồng chiêng", "en": "Gongs"}))
        session.add(Collection(id="secret", title={"vi": "Kho"}, access_level="staff"))
        for position, record_id in enumerate(["DL-ART-01", "DL-ICH-01", "DL-ICH-07"]):
            session.add(
                CollectionRecord(collection_id="gongs", record_id=record_id, position=position)
            )
        session.add(Exhibition(id="sample-media", title={"vi": "Tư liệu mẫu"}, published=True))
        session.add(Exhibition(id="draft", title={"vi": "Bản nháp"}, published=False))
        session.add_all(
            [
                ExhibitionStop(
                    exhibition_id="sample-media",
                    position=1,
                    record_id="DL-ICH-01",
                    text={"vi": "Một"},
                ),
                ExhibitionStop(
                    exhibition_id="sample-media",
                    position=2,
                    record_id="DL-ICH-07",
                    text={"vi": "Hai"},
                ),
                ExhibitionStop(exhibition_id="sample-media", position=3, title={"vi": "Lời kết"}),
            ]
        )
        session.add(Place(id="bmt", name={"vi": "Buôn Ma Thuột"}, latitude=12.67, longitude=108.04))
        session.add(RecordPlace(record_id="DL-REL-01", place_id="bmt", role="located_at"))
        session.add(RecordPlace(record_id="DL-ICH-07", place_id="bmt", role="practiced_in"))
        session.add(
            Asset(
                id=PUBLISHED_ASSET,
                sha256="0" * 64,
                size=10,
                filename="gong.jpg",
                media_type="image/jpeg",
                kind="image",
                record_id="DL-ICH-01",
                published_version="v1",
                technical={"width": 800, "height": 600},
            )
        )
        session.add(
            Asset(
                id=STAFF_ASSET,
                sha256="1" * 64,
                size=10,
                filename="raw.tif",
                media_type="image/tiff",
                kind="image",
                record_id="DL-ICH-01",
                access_level="staff",
            )
        )
        session.flush()
        sacred = session.get(Record, "DL-ICH-07")
        sacred.access_level = "restricted"
        for record_id in ("DL-ICH-01", "DL-REL-01", "DL-ICH-07"):
            index_record(session, session.get(Record, record_id))

    db.call(build, write=True)
