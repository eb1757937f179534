"""Media items for the rights, access and contribution tests: an original in the store, its
asset row, and (optionally) a published derivative folder, without running a pipeline."""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

from PIL import Image
from sqlalchemy import select
from starlette.testclient import TestClient

from server.models import Asset, AuditEntry, Record

CC_BY = "http://creativecommons.org/licenses/by/4.0/"
CC0 = "http://creativecommons.org/publicdomain/zero/1.0/"
NOC = "http://rightsstatements.org/vocab/NoC-US/1.0/"
IN_COPYRIGHT = "http://rightsstatements.org/vocab/InC/1.0/"
CNE = "http://rightsstatements.org/vocab/CNE/1.0/"
ORIGIN = "http://testserver"


def museum_of(client: TestClient) -> Any:
    return client.app.state.museum  # type: ignore[attr-defined]


def change(client: TestClient, fn: Any) -> Any:
    return museum_of(client).db.call(fn, write=True)


def read(client: TestClient, fn: Any) -> Any:
    return museum_of(client).db.call(fn)


def jpeg_bytes(size: tuple[int, int] = (64, 48), color: str = "orange") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def add_media(
    client: TestClient,
    record_id: str | None = "DL-ICH-01",
    *,
    access: str = "public",
    license: str = "",
    attribution: str = "",
    downloadable: bool = False,
    filename: str = "photo.jpg",
    data: bytes | None = None,
    files: dict[str, bytes] | None = None,
    technical: dict[str, Any] | None = None,
) -> str:
    """An image asset with its original stored; ``files`` become its published version v1."""
    museum = museum_of(client)
    stored = museum.store.ingest(io.BytesIO(data if data is not None else jpeg_bytes()))
    asset_id = uuid.uuid4().hex
    version = None
    if files is not None:
        version = "v1"
        with museum.store.publish(asset_id, version) as folder:
            for name, content in files.items():
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(content)

    def add(session: Any) -> None:
        session.add(
            Asset(
                id=asset_id,
                sha256=stored.sha256,
                size=stored.size,
                filename=filename,
                media_type="image/jpeg",
                kind="image",
                record_id=record_id,
                access_level=access,
                license=license,
                attribution=attribution,
                original_downloadable=downloadable,
                published_version=version,
                technical=technical or {"pipeline": "image", "width": 64, "height": 48},
            )
        )

    change(client, add)
    return asset_id


def set_record(client: TestClient, record_id: str, **values: Any) -> None:
    def apply(session: Any) -> None:
        record = session.get(Record, record_id)
        for key, value in values.items():
            setattr(record, key, value)

    change(client, apply)


def audit_rows(client: TestClient, action: str) -> list[AuditEntry]:
    return list(
        read(
            client,
            lambda s: s.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            ).all(),
        )
    )


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)
