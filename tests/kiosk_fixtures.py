"""A kiosk exhibition with every kind of media, as the pipelines would have published it.

The catalog rows say what was processed (``Asset.technical``); the derivative folders hold
the files the kiosk's offline list reads: a IIIF ``info.json`` for the image, and HLS
playlists (a two-rung video with an audio group and Vietnamese captions; an audio guide).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from server.exhibitions import save_exhibition
from server.models import Asset

V = "v1"
EXHIBITION = "kiosk-test"
MODEL, IMAGE, VIDEO, GUIDE = (c * 32 for c in "mivg")
MODEL_RECORD, IMAGE_RECORD = "DL-ART-01", "DL-ICH-01"
SEGMENTS = 3

TECHNICAL: dict[str, dict[str, Any]] = {
    MODEL: {
        "pipeline": "3d",
        "kind": "mesh",
        "dimensions_mm": {"width": 212.4, "height": 301.0, "depth": 180.2},
        "lods": [
            {"name": n, "role": f"lod:{n}", "path": f"{n}.glb", "triangles": t, "bytes": b}
            for n, t, b in [
                ("high", 1_000_000, 9_000_000),
                ("web", 150_000, 2_000_000),
                ("thumb", 20_000, 300_000),
                ("preview", 5_000, 80_000),
            ]
        ],
        "model": "web.glb",
        "poster": "poster.jpg",
    },
    IMAGE: {
        "pipeline": "image",
        "kind": "image",
        "width": 3000,
        "height": 2000,
        "thumbnails": {
            "thumbnail:150": "thumb-150.jpg",
            "thumbnail:400": "thumb-400.jpg",
            "thumbnail:1200": "thumb-1200.jpg",
        },
    },
    VIDEO: {
        "pipeline": "av",
        "kind": "video",
        "width": 1280,
        "height": 720,
        "duration": 12.0,
        "poster": "poster.jpg",
        "master": "master.m3u8",
        "captions": ["vi"],
    },
    GUIDE: {
        "pipeline": "av",
        "kind": "audio",
        "duration": 6.0,
        "master": "master.m3u8",
        "guide_language": "vi",
    },
}

INFO = {
    "@context": "http://iiif.io/api/image/3/context.json",
    "width": 3000,
    "height": 2000,
    "sizes": [{"width": 375, "height": 250}, {"width": 1200, "height": 800}],
    "tiles": [{"width": 512, "height": 512, "scaleFactors": [1, 2, 4, 8]}],
}

VIDEO_MASTER = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,URI="audio/index.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Tiếng Việt",LANGUAGE="vi",URI="captions.vi.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2000000,RESOLUTION=1280x720,AUDIO="audio",SUBTITLES="subs"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=800000,AVERAGE-BANDWIDTH=600000,RESOLUTION=640x360,AUDIO="audio",SUBTITLES="subs"
360p/index.m3u8
"""

GUIDE_MASTER = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-STREAM-INF:BANDWIDTH=140000,AVERAGE-BANDWIDTH=130000,CODECS="mp4a.40.2"
audio/index.m3u8
"""

CAPTIONS_PLAYLIST = """#EXTM3U
#EXT-X-TARGETDURATION:12
#EXTINF:12.000,
captions.vi.vtt
#EXT-X-ENDLIST
"""


def media_playlist(segments: int = SEGMENTS) -> str:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:4", '#EXT-X-MAP:URI="init.mp4"']
    for number in range(segments):
        lines += ["#EXTINF:4.000,", f"seg-{number}.m4s"]
    return "\n".join([*lines, "#EXT-X-ENDLIST", ""])


def _asset(asset_id: str, record_id: str | None, kind: str, **extra: Any) -> Asset:
    return Asset(
        id=asset_id,
        sha256=asset_id[0] * 64,
        size=1,
        filename=f"{kind}.bin",
        media_type="application/octet-stream",
        kind=kind,
        record_id=record_id,
        published_version=V,
        technical=TECHNICAL[asset_id],
        **extra,
    )


def write_files(derivatives: Path, version: str = V) -> None:
    """The derivative files the offline list reads, for every asset at ``version``."""
    image = derivatives / IMAGE / version / "iiif"
    image.mkdir(parents=True, exist_ok=True)
    (image / "info.json").write_text(json.dumps(INFO), "utf-8")
    video = derivatives / VIDEO / version
    for rung in ("720p", "360p", "audio"):
        (video / rung).mkdir(parents=True, exist_ok=True)
        (video / rung / "index.m3u8").write_text(media_playlist(), "utf-8")
    (video / "master.m3u8").write_text(VIDEO_MASTER, "utf-8")
    (video / "captions.vi.m3u8").write_text(CAPTIONS_PLAYLIST, "utf-8")
    guide = derivatives / GUIDE / version / "audio"
    guide.mkdir(parents=True, exist_ok=True)
    (guide / "index.m3u8").write_text(media_playlist(2), "utf-8")
    (guide.parent / "master.m3u8").write_text(GUIDE_MASTER, "utf-8")


EXHIBITION_JSON: dict[str, Any] = {
    "id": EXHIBITION,
    "title": {"vi": "Trưng bày thử", "en": "Test display"},
    "summary": {"vi": "Tư liệu mẫu cho ki-ốt."},
    "published": True,
    "stops": [
        {"record_id": MODEL_RECORD, "asset_id": MODEL, "text": {"vi": "Bình gốm", "en": "A jar"}},
        {"record_id": IMAGE_RECORD, "asset_id": IMAGE},
        {"asset_id": VIDEO, "title": {"vi": "Phim mẫu", "en": "Sample film"}},
        {"title": {"vi": "Lời kết", "en": "Closing words"}, "text": {"vi": "Kê̆č ƀlă"}},
    ],
}


def build(session: Session) -> None:
    session.add_all(
        [
            _asset(MODEL, MODEL_RECORD, "model"),
            _asset(IMAGE, IMAGE_RECORD, "image", label={"vi": "Dàn chiêng", "en": "Gong set"}),
            _asset(GUIDE, IMAGE_RECORD, "audio", role="guide"),
            _asset(VIDEO, None, "video"),
        ]
    )
    session.flush()
    save_exhibition(session, EXHIBITION_JSON)
    save_exhibition(
        session, {"id": "draft", "title": {"vi": "Bản nháp"}, "stops": [{"record_id": "DL-ICH-01"}]}
    )
    save_exhibition(
        session,
        {
            "id": "staff-only",
            "title": {"vi": "Nội bộ"},
            "access_level": "staff",
            "published": True,
            "stops": [],
        },
    )
