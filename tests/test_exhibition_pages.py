"""Exhibition pages (list, stops, room) and defining exhibitions: save_exhibition and the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from server.cli import main
from server.db import Database
from server.errors import ValidationError
from server.exhibitions import parse_exhibition, save_exhibition
from server.models import Asset, ExhibitionStop, Record
from server.settings import Settings

V = "v1"
MODEL, IMAGE, VIDEO, AUDIO, GUIDE, RAW, HIDDEN, HIDDEN_OWNER = (c * 32 for c in "mivagrho")

TECHNICAL: dict[str, dict[str, Any]] = {
    MODEL: {
        "pipeline": "3d",
        "kind": "mesh",
        "dimensions_mm": {"width": 212.4, "height": 301.0, "depth": 180.2},
        "lods": [
            {
                "name": n,
                "role": f"lod:{n}",
                "path": f"{n}.glb",
                "triangles": t,
                "points": 0,
                "bytes": b,
            }
            for n, t, b in [
                ("high", 1_000_000, 9_000_000),
                ("web", 150_000, 2_000_000),
                ("thumb", 20_000, 300_000),
                ("preview", 5_000, 80_000),
            ]
        ],
        "model": "web.glb",
        "poster": "poster.jpg",
        "thumbnail": "thumbnail.jpg",
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
    VIDEO: {"pipeline": "av", "kind": "video", "width": 960, "height": 540, "poster": "poster.jpg"},
    AUDIO: {"pipeline": "av", "kind": "audio", "duration": 12.0},
    GUIDE: {"pipeline": "av", "kind": "audio", "duration": 3.0},
    RAW: {},
    HIDDEN: {"pipeline": "image", "kind": "image", "width": 10, "height": 10, "thumbnails": {}},
    HIDDEN_OWNER: {
        "pipeline": "image",
        "width": 10,
        "height": 10,
        "thumbnails": {"thumbnail:150": "t.jpg"},
    },
}


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


SAMPLE: dict[str, Any] = {
    "id": "sample-media",
    "title": {"vi": "Tư liệu mẫu", "en": "Sample media"},
    "summary": {"vi": "Tư liệu dùng thử, không phải hiện vật của tỉnh."},
    "published": True,
    "stops": [
        {"record_id": "DL-ART-01", "asset_id": MODEL, "text": {"vi": "Bình gốm", "en": "A jar"}},
        {"record_id": "DL-ICH-07", "text": {"vi": "Không được thấy"}},  # restricted record
        {"record_id": "DL-ICH-01", "title": {"vi": "Cồng chiêng", "en": "Gongs"}},
        {"asset_id": VIDEO, "title": {"vi": "Phim mẫu", "en": "Sample film"}},
        {"record_id": "DL-ICH-02", "text": {"vi": "Sử thi"}},
        {"title": {"vi": "Lời kết"}, "text": {"vi": "Cảm ơn </script><b>"}},
    ],
}


def _build(session: Session) -> None:
    session.add_all(
        [
            _asset(MODEL, "DL-ART-01", "model"),
            _asset(
                IMAGE,
                "DL-ICH-01",
                "image",
                position=2,
                label={"vi": "Dàn chiêng", "en": "Gong set"},
            ),
            _asset(GUIDE, "DL-ICH-01", "audio", position=0, role="guide"),
            _asset(RAW, "DL-ICH-01", "image", position=1),  # not processed by a pipeline
            _asset(HIDDEN, "DL-ICH-01", "image", position=0, access_level="staff"),
            _asset(VIDEO, None, "video"),
            _asset(AUDIO, "DL-ICH-02", "audio"),
        ]
    )
    session.get(Record, "DL-ICH-07").access_level = "restricted"  # type: ignore[union-attr]
    session.flush()
    save_exhibition(session, SAMPLE)
    save_exhibition(
        session,
        {"id": "draft", "title": {"vi": "Bản nháp"}, "stops": [{"record_id": "DL-ICH-01"}]},
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
    save_exhibition(
        session,
        {"id": "a-first", "title": {"vi": "Ảnh", "en": "Zebra"}, "published": True, "stops": []},
    )


@pytest.fixture
def site(client: TestClient) -> TestClient:
    client.app.state.museum.db.call(_build, write=True)  # type: ignore[attr-defined]
    return client


def html(client: TestClient, path: str) -> str:
    response = client.get(path, headers={"accept": "text/html"})
    assert response.status_code == 200, response.text
    return response.text


def room_data(page: str) -> dict[str, Any]:
    match = re.search(
        r'<script type="application/json" id="room-data"[^>]*>(.*?)</script>', page, re.S
    )
    assert match, "no room description on the page"
    return json.loads(match.group(1))  # type: ignore[no-any-return]


# Pages


def test_the_list_shows_published_exhibitions_the_visitor_may_see(site: TestClient) -> None:
    vi = html(site, "/exhibitions?lang=vi")
    assert '<a href="/exhibitions/sample-media" lang="vi">Tư liệu mẫu</a>' in vi
    assert "/exhibitions/sample-media/room" in vi
    assert "Bản nháp" not in vi and "Nội bộ" not in vi
    # Sorted by the title in the page's language.
    assert vi.index("Ảnh") < vi.index("Tư liệu mẫu")
    en = html(site, "/exhibitions?lang=en")
    assert '<a href="/exhibitions/sample-media" lang="en">Sample media</a>' in en
    assert en.index("Sample media") < en.index("Zebra")
    assert "Tư liệu dùng thử" in en  # the summary falls back to Vietnamese
    assert '<p lang="vi">Tư liệu dùng thử' in en


def test_an_empty_list_says_so(client: TestClient) -> None:
    assert "Chưa có triển lãm nào mở cửa." in html(client, "/exhibitions?lang=vi")
    assert "No exhibition is open yet." in html(client, "/exhibitions?lang=en")


def _stop_titles(page: str) -> list[str]:
    return re.findall(
        r'<span class="stop-number">\d+\.</span> <span lang="\w+">([^<]*)</span>', page
    )


def test_the_stops_come_in_order_in_the_page_language(site: TestClient) -> None:
    en = html(site, "/exhibitions/sample-media?lang=en")
    # The restricted record's stop is left out; the record-less film and closing stops stay.
    assert _stop_titles(en) == [
        "Ancient gong sets (Dak Lak Museum collection)",
        "Gongs",
        "Sample film",
        "Khan – Ede epic",
        "Lời kết",
    ]
    assert "Không được thấy" not in en and "DL-ICH-07" not in en
    assert '<p lang="en">A jar</p>' in en
    assert '<p lang="vi">Sử thi</p>' in en  # no English text: Vietnamese, marked as such
    assert '<a href="/items/DL-ICH-01" lang="en">Space of Gong Culture' in en
    vi = html(site, "/exhibitions/sample-media?lang=vi")
    assert _stop_titles(vi)[:3] == [
        "Bộ chiêng cổ (sưu tập Bảo tàng Đắk Lắk)",
        "Cồng chiêng",
        "Phim mẫu",
    ]
    assert 'id="stop-5"' in vi and 'id="stop-6"' not in vi


def test_each_stop_shows_its_picture_with_alt_text(site: TestClient) -> None:
    page = html(site, "/exhibitions/sample-media?lang=en")
    images = re.findall(
        r'<img class="stop-picture" src="([^"]+)" width="(\d+)" height="(\d+)" alt="([^"]*)"', page
    )
    assert images == [
        (
            f"/media/{MODEL}/{V}/poster.jpg",
            "1024",
            "768",
            "Ancient gong sets (Dak Lak Museum collection) (3D model)",
        ),
        # The record's first showable asset: not the guide, the unprocessed or the staff-only one.
        (f"/media/{IMAGE}/{V}/thumb-400.jpg", "400", "267", "Gong set"),
        (f"/media/{VIDEO}/{V}/poster.jpg", "960", "540", "Sample film (still from the video)"),
    ]
    vi = html(site, "/exhibitions/sample-media?lang=vi")
    assert 'alt="Bộ chiêng cổ (sưu tập Bảo tàng Đắk Lắk) (mô hình 3D)"' in vi


def test_the_room_page_lists_the_stops_and_describes_the_exhibits(site: TestClient) -> None:
    page = html(site, "/exhibitions/sample-media/room?lang=en")
    assert 'data-island="room"' in page
    links = re.findall(r'<li class="room-exhibit" data-number="(\d)">\s*<a href="([^"]+)"', page)
    assert links == [
        ("1", "/items/DL-ART-01"),
        ("2", "/items/DL-ICH-01"),
        ("3", "/exhibitions/sample-media#stop-3"),
        ("4", "/items/DL-ICH-02"),
        ("5", "/exhibitions/sample-media#stop-5"),
    ]
    data = room_data(page)
    exhibits = data["exhibits"]
    assert [e["kind"] for e in exhibits] == ["model", "image", "video", "audio", "text"]
    assert [e["label"] for e in exhibits][:3] == [
        "Ancient gong sets (Dak Lak Museum collection)",
        "Gongs",
        "Sample film",
    ]
    assert [e["url"] for e in exhibits] == [url for _, url in links]
    model = exhibits[0]
    # Smallest first, and never the million-triangle level in a room.
    assert [lod["url"] for lod in model["lods"]] == [
        f"/media/{MODEL}/{V}/{name}.glb" for name in ("preview", "thumb", "web")
    ]
    assert model["lods"][0] == {
        "url": f"/media/{MODEL}/{V}/preview.glb",
        "primitives": 5000,
        "bytes": 80000,
    }
    assert model["size_m"] == pytest.approx([0.2124, 0.301, 0.1802])
    assert exhibits[1]["picture"] == {
        "src": f"/media/{IMAGE}/{V}/thumb-1200.jpg",
        "width": 1200,
        "height": 800,
    }
    assert exhibits[2]["picture"]["src"] == f"/media/{VIDEO}/{V}/poster.jpg"
    assert exhibits[3]["picture"] is None and exhibits[4]["lods"] == []
    # The closing text cannot end the script element early.
    assert "</script><b>" not in page


def test_the_room_speaks_the_page_language(site: TestClient) -> None:
    vi = html(site, "/exhibitions/sample-media/room?lang=vi")
    assert 'data-no-webgl="Trình duyệt này không vẽ được phòng 3D' in vi
    assert room_data(vi)["exhibits"][1]["label"] == "Cồng chiêng"
    en = html(site, "/exhibitions/sample-media/room?lang=en")
    assert 'data-no-webgl="This browser cannot draw the 3D room' in en


def test_media_of_a_hidden_record_is_not_shown(site: TestClient) -> None:
    def add(session: Session) -> None:
        session.add(_asset(HIDDEN_OWNER, "DL-ICH-07", "image"))  # the restricted record's
        session.flush()
        stop = {"asset_id": HIDDEN_OWNER, "title": {"vi": "Ảnh kín"}}
        save_exhibition(session, {**GOOD, "id": "hidden", "published": True, "stops": [stop]})

    site.app.state.museum.db.call(add, write=True)  # type: ignore[attr-defined]
    page = html(site, "/exhibitions/hidden?lang=vi")
    assert _stop_titles(page) == ["Ảnh kín"] and HIDDEN_OWNER not in page
    assert room_data(html(site, "/exhibitions/hidden/room"))["exhibits"][0]["kind"] == "text"


@pytest.mark.parametrize(
    "path",
    [
        "/exhibitions/nothing-here",
        "/exhibitions/draft",
        "/exhibitions/staff-only",
        "/exhibitions/draft/room",
        "/exhibitions/staff-only/room",
    ],
)
def test_unknown_draft_and_restricted_exhibitions_are_not_found(
    site: TestClient, path: str
) -> None:
    name = path.split("/")[2]
    vi = site.get(f"{path}?lang=vi", headers={"accept": "text/html"})
    assert vi.status_code == 404
    assert f"Không có trưng bày nào mang mã {name}." in vi.text and "<h1>404</h1>" in vi.text
    en = site.get(f"{path}?lang=en", headers={"accept": "text/html"})
    assert en.status_code == 404 and f"No exhibition with id {name}." in en.text
    assert site.get(path).json()["error"]["parameter"] == "exhibition_id"


# Defining exhibitions


def test_saving_again_replaces_the_stops(site: TestClient) -> None:
    db: Database = site.app.state.museum.db  # type: ignore[attr-defined]
    fewer = {**SAMPLE, "stops": [{"record_id": "DL-ICH-02"}, {"title": {"vi": "Hết"}}]}
    db.call(lambda session: save_exhibition(session, fewer), write=True)
    rows = db.call(
        lambda session: [
            (s.position, s.record_id)
            for s in session.scalars(
                select(ExhibitionStop)
                .where(ExhibitionStop.exhibition_id == "sample-media")
                .order_by(ExhibitionStop.position)
            )
        ]
    )
    assert rows == [(1, "DL-ICH-02"), (2, None)]
    assert _stop_titles(html(site, "/exhibitions/sample-media?lang=vi")) == [
        "Khan – Sử thi Êđê",
        "Hết",
    ]


GOOD = {"id": "x", "title": {"vi": "X"}, "stops": []}


@pytest.mark.parametrize(
    ("data", "parameter"),
    [
        ([], "exhibition"),
        ({**GOOD, "colour": "red"}, "colour"),
        ({"title": {"vi": "X"}, "stops": []}, "id"),
        ({**GOOD, "id": "Bad Id"}, "id"),
        ({**GOOD, "id": "-x"}, "id"),
        ({**GOOD, "title": {"en": "Only English"}}, "title"),
        ({**GOOD, "title": "X"}, "title"),
        ({**GOOD, "title": {"vi": "X", "Tiếng": "Y"}}, "title"),
        ({**GOOD, "title": {"vi": 3}}, "title.vi"),
        ({**GOOD, "access_level": "secret"}, "access_level"),
        ({**GOOD, "published": "yes"}, "published"),
        ({**GOOD, "stops": {}}, "stops"),
        ({**GOOD, "stops": [{"text": {"vi": "no anchor"}}]}, "stops.1"),
        ({**GOOD, "stops": [{"record_id": "A"}, {"record_id": 7}]}, "stops.2.record_id"),
        ({**GOOD, "stops": [{"record_id": "A", "photo": "x"}]}, "stops.1.photo"),
        ({**GOOD, "stops": [{"title": {"vi": "x" * 20_001}}]}, "stops.1.title.vi"),
        ({**GOOD, "stops": [{"title": {"vi": "x"}}] * 501}, "stops"),
    ],
)
def test_a_faulty_description_names_the_field(data: Any, parameter: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_exhibition(data)
    assert caught.value.parameter == parameter


def test_texts_are_normalized_and_blanks_dropped() -> None:
    spec = parse_exhibition(
        {**GOOD, "title": {"vi": " Ca\u0301 ", "en": "  "}, "stops": [{"record_id": " DL-ICH-01 "}]}
    )
    assert spec.title == {"vi": "Cá"}
    assert spec.stops[0].record_id == "DL-ICH-01" and spec.published is False
    assert spec.access_level == "public"


@pytest.mark.parametrize(
    ("stop", "parameter", "message"),
    [
        ({"record_id": "DL-NOPE"}, "stops.1.record_id", "no heritage item with id DL-NOPE"),
        ({"asset_id": "f" * 32}, "stops.1.asset_id", "no media asset with id"),
        (
            {"record_id": "DL-ICH-02", "asset_id": MODEL},
            "stops.1.asset_id",
            "belongs to DL-ART-01, not to record DL-ICH-02",
        ),
    ],
)
def test_records_and_assets_must_exist_and_match(
    site: TestClient, stop: dict[str, str], parameter: str, message: str
) -> None:
    db: Database = site.app.state.museum.db  # type: ignore[attr-defined]
    with pytest.raises(ValidationError) as caught:
        db.call(lambda s: save_exhibition(s, {**GOOD, "stops": [stop]}), write=True)
    assert caught.value.parameter == parameter
    assert message in str(caught.value)


# The command line


def museum(settings: Settings, *args: str, language: str = "vi") -> Any:
    env = {"MUSEUM_DATA_DIR": str(settings.data_dir), "MUSEUM_LANGUAGE": language}
    return CliRunner().invoke(main, list(args), env=env)


def test_staff_import_list_and_remove_exhibitions(
    seeded_settings: Settings, tmp_path: Path
) -> None:
    file = tmp_path / "exhibitions.json"
    second = {"id": "khan", "title": {"vi": "Sử thi"}, "stops": [{"record_id": "DL-ICH-02"}]}
    file.write_text(json.dumps([{**SAMPLE, "stops": SAMPLE["stops"][1:3]}, second]), "utf-8")
    result = museum(seeded_settings, "exhibitions", "import", str(file))
    assert result.exit_code == 0, result.output
    assert "sample-media\t2\tđã công bố" in result.output
    assert "khan\t1\tbản nháp" in result.output
    listed = museum(seeded_settings, "exhibitions", "list", language="en")
    assert listed.output.splitlines() == [
        "khan\t1\tpublic\tdraft\tSử thi",
        "sample-media\t2\tpublic\tpublished\tTư liệu mẫu",
    ]
    removed = museum(seeded_settings, "exhibitions", "remove", "khan", language="en")
    assert removed.exit_code == 0 and "Exhibition khan removed." in removed.output
    assert museum(seeded_settings, "exhibitions", "list").output.startswith("sample-media\t")
    gone = museum(seeded_settings, "exhibitions", "remove", "khan")
    assert gone.exit_code == 1 and "Không có trưng bày nào mang mã khan." in gone.output


def test_a_faulty_file_changes_nothing_and_says_where(
    seeded_settings: Settings, tmp_path: Path
) -> None:
    file = tmp_path / "exhibitions.json"
    good = {"id": "good", "title": {"vi": "Tốt"}, "stops": []}
    bad = {"id": "bad", "title": {"vi": "Hỏng"}, "stops": [{"record_id": "DL-NOPE"}]}
    file.write_text(json.dumps([good, bad]), "utf-8")
    result = museum(seeded_settings, "exhibitions", "import", str(file))
    assert result.exit_code == 1
    assert (
        "Triển lãm thứ 2 trong tệp: stops.1.record_id: không có di sản nào mang mã DL-NOPE."
        in result.output
    )
    english = museum(seeded_settings, "exhibitions", "import", str(file), language="en")
    assert (
        "Exhibition 2 of the file: stops.1.record_id: no heritage item with id DL-NOPE."
        in english.output
    )
    assert "good" not in museum(seeded_settings, "exhibitions", "list").output
    file.write_text('{"id": "x",', "utf-8")
    broken = museum(seeded_settings, "exhibitions", "import", str(file), language="en")
    assert (
        broken.exit_code == 1 and "is not valid JSON" in broken.output and "line 1" in broken.output
    )


def test_saving_and_reading_on_both_engines(database_url: str) -> None:
    from server.catalog import import_catalog_file
    from server.exhibition_pages import load_view
    from server.migrate import upgrade
    from tests.conftest import SEED_CATALOG

    db = Database(database_url)
    try:
        upgrade(db)
        db.call(lambda s: import_catalog_file(s, SEED_CATALOG), write=True)
        db.call(_build, write=True)
        again = {**SAMPLE, "stops": list(reversed(SAMPLE["stops"]))}
        db.call(lambda s: save_exhibition(s, again), write=True)  # replaces every position
        view = db.call(lambda s: load_view(s, "sample-media", ("public",), "en", str))
    finally:
        db.dispose()
    assert view is not None
    assert [stop.kind for stop in view.stops] == ["text", "audio", "video", "image", "model"]
    assert [stop.number for stop in view.stops] == [1, 2, 3, 4, 5]
