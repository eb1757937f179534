"""IIIF Presentation 3.0: manifests and collections, checked against the IIIF JSON Schema.

The schema and its fixtures come from IIIF/presentation-validator, which
carries no licence, so they are read from ``../shared/validators`` rather than
copied here (``tests/data/iiif/README.md``); without them the schema tests skip
and say why.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from server import iiif_manifest
from server import iiif_presentation as iiif
from server.app import create_app
from server.db import Database
from server.errors import BadRequest, NotFound
from server.i18n import load_catalogs
from server.models import (
    Asset,
    Collection,
    CollectionRecord,
    Exhibition,
    ExhibitionStop,
    Record,
    utcnow,
)
from server.records import RecordBundle, load_bundle
from server.search import index_record
from server.settings import Settings
from tests.conftest import SHARED, seed_rows

VALIDATOR_DIR = SHARED / "validators" / "iiif-presentation-3"
SCHEMA_PATH = VALIDATOR_DIR / "iiif_3_0.json"
FIXTURES = VALIDATOR_DIR / "fixtures"
GOOD_FIXTURES = ("accompanyingCanvas", "full_example", "navPlace", "simple_video")
# rights_lang_issues is one of upstream's invalid fixtures (tests/test_validator.py there).
BROKEN_FIXTURES = (
    "broken_choice",
    "broken_collection",
    "broken_embedded_annos",
    "broken_service",
    "broken_simple_image",
    "rights_lang_issues",
)
BASE = "http://testserver"
LD_JSON = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
SEED_IDS = [row["seed_id"] for row in seed_rows()]
EN = {"accept-language": "en"}


# The schema


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    if not SCHEMA_PATH.is_file():
        pytest.skip(
            f"IIIF Presentation 3.0 schema not found at {SCHEMA_PATH}: it is read from "
            "../shared/validators (no licence to copy it; see tests/data/iiif/README.md)"
        )
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def schema_errors(validator: jsonschema.Draft7Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def assert_valid(validator: jsonschema.Draft7Validator, document: Any) -> None:
    errors = schema_errors(validator, document)
    assert errors == [], f"{document.get('id')} is not valid IIIF Presentation 3.0"


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", GOOD_FIXTURES)
def test_good_fixtures_pass(validator: jsonschema.Draft7Validator, name: str) -> None:
    assert schema_errors(validator, _fixture(name)) == []


@pytest.mark.parametrize("name", BROKEN_FIXTURES)
def test_broken_fixtures_fail(validator: jsonschema.Draft7Validator, name: str) -> None:
    assert schema_errors(validator, _fixture(name)) != []


def test_every_fixture_is_classified(validator: jsonschema.Draft7Validator) -> None:
    present = {path.stem for path in FIXTURES.glob("*.json")}
    assert present == set(GOOD_FIXTURES) | set(BROKEN_FIXTURES)


# Media attached to the seed records


@dataclass(frozen=True)
class Spec:
    """One asset to attach, and what the manifest must show for it."""

    kind: str
    technical: dict[str, Any]
    role: str = "primary"
    published: bool = True
    label: dict[str, str] = field(default_factory=dict)

    @property
    def canvas(self) -> bool:
        return self.published and self.kind in {"image", "document", "audio", "video"}


PAGE = {"width": 2480, "height": 3508}
PROFILES: dict[str, list[Spec]] = {
    "image": [Spec("image", {"width": 4000, "height": 3000})],
    "pages": [
        Spec("document", PAGE, role="page"),
        Spec("document", {"width": 2400, "height": 3500}, role="page"),
        Spec("document", PAGE, role="page"),
    ],
    "audio": [Spec("audio", {"duration": 93.5, "captions": ["vi", "en"]}, role="audio")],
    "video": [
        Spec("video", {"width": 1920, "height": 1080, "duration": 30, "captions": ["vi"]}),
    ],
    "mixed": [
        Spec("image", {"width": 3000, "height": 2000}),
        Spec("image", {"width": 800, "height": 600}, published=False),
        Spec("model", {"faces": 120000}, role="scan"),
        Spec("image", {"width": 1200, "height": 1600}, role="detail"),
        Spec("captions", {}),
        Spec("video", {"width": 1280, "height": 720, "duration": 12.25}, role="video"),
    ],
    "labelled": [
        Spec("image", {"width": 1000, "height": 700}, label={"vi": "Mặt trước", "en": "Front"}),
        Spec("image", {"width": 1000, "height": 700}, label={"vi": "Mặt sau", "en": "Back"}),
    ],
}
PROFILE_NAMES = list(PROFILES)


def profile_of(record_id: str) -> str:
    return PROFILE_NAMES[SEED_IDS.index(record_id) % len(PROFILE_NAMES)]


def asset_id(record_id: str, number: int) -> str:
    return f"{record_id.lower()}-{number}"


def attach(session: Session, record_id: str, specs: list[Spec], start: int = 0) -> None:
    for offset, spec in enumerate(specs):
        number = start + offset
        session.add(
            Asset(
                id=asset_id(record_id, number),
                sha256=f"{number:064x}",
                size=1024,
                filename=f"{record_id}-{number}.bin",
                media_type="application/octet-stream",
                kind=spec.kind,
                record_id=record_id,
                role=spec.role,
                position=number,
                label=spec.label,
                technical=spec.technical,
                published_version="v1" if spec.published else None,
            )
        )


def attach_all(session: Session) -> None:
    for record_id in SEED_IDS:
        attach(session, record_id, PROFILES[profile_of(record_id)])


def set_record(session: Session, record_id: str, **values: Any) -> None:
    record = session.get(Record, record_id)
    assert record is not None
    for name, value in values.items():
        setattr(record, name, value)
    index_record(session, record)


@pytest.fixture(scope="module")
def vi() -> Callable[[str], str]:
    return load_catalogs()["vi"].gettext


@pytest.fixture(scope="module")
def media_db(seeded_database: Database) -> Database:
    """The seed catalog on each engine, every record with one of the media profiles."""
    seeded_database.call(attach_all, write=True)
    return seeded_database


@pytest.fixture
def media_client(client: TestClient) -> TestClient:
    museum(client).db.call(attach_all, write=True)
    return client


def museum(client: TestClient) -> Any:
    return client.app.state.museum  # type: ignore[attr-defined]


# What every manifest must say about its media


def check_manifest(document: dict[str, Any], record_id: str, base: str = BASE) -> None:
    specs = [s for s in PROFILES[profile_of(record_id)] if s.canvas]
    numbers = [n for n, s in enumerate(PROFILES[profile_of(record_id)]) if s.canvas]
    canvases = document["items"]
    assert document["id"] == f"{base}/iiif/3/manifests/{record_id}"
    assert [c["type"] for c in canvases] == ["Canvas"] * len(specs)
    for canvas, spec, number in zip(canvases, specs, numbers, strict=True):
        check_canvas(canvas, spec, asset_id(record_id, number), base)
    ids = [
        obj["id"]
        for canvas in canvases
        for obj in (canvas, *canvas["items"], *canvas["items"][0]["items"])
    ]
    assert len(ids) == len(set(ids)), "canvas, page and annotation ids must be unique"
    assert all("#" not in c["id"] for c in canvases)


def check_canvas(canvas: dict[str, Any], spec: Spec, asset: str, base: str) -> None:
    annotation = canvas["items"][0]["items"][0]
    body = annotation["body"]
    assert annotation["motivation"] == "painting"
    assert annotation["target"] == canvas["id"]
    if spec.label:
        assert canvas["label"] == {k: [v] for k, v in spec.label.items()}
    if spec.kind in {"image", "document"}:
        size = (spec.technical["width"], spec.technical["height"])
        assert (canvas["width"], canvas["height"]) == size
        assert (body["width"], body["height"]) == size
        assert body["type"] == "Image"
        assert body["id"] == f"{base}/iiif/3/{asset}/full/max/0/default.jpg"
        assert body["service"] == [
            {"id": f"{base}/iiif/3/{asset}", "type": "ImageService3", "profile": "level2"}
        ]
        assert canvas["thumbnail"][0]["service"] == body["service"]
        return
    assert canvas["duration"] == pytest.approx(spec.technical["duration"])
    assert body["duration"] == canvas["duration"]
    assert isinstance(canvas["duration"], float)
    assert body["type"] == {"audio": "Sound", "video": "Video"}[spec.kind]
    assert body["id"] == f"{base}/media/{asset}/v1/master.m3u8"
    assert body["format"] == "application/vnd.apple.mpegurl"
    if spec.kind == "video":
        assert (canvas["width"], canvas["height"]) == (
            spec.technical["width"],
            spec.technical["height"],
        )
    captions = spec.technical.get("captions", [])
    if not captions:
        assert "annotations" not in canvas
        return
    annotations = canvas["annotations"][0]["items"]
    assert [a["motivation"] for a in annotations] == ["supplementing"] * len(captions)
    assert [a["body"] for a in annotations] == [
        {
            "id": f"{base}/media/{asset}/v1/captions.{lang}.vtt",
            "type": "Text",
            "format": "text/vtt",
            "language": lang,
            "label": a["body"]["label"],
        }
        for lang, a in zip(captions, annotations, strict=True)
    ]


# Pure builders on both engines


def test_every_seed_record_with_media_has_a_valid_manifest(
    media_db: Database, validator: jsonschema.Draft7Validator, vi: Callable[[str], str]
) -> None:
    def build_all(session: Session) -> dict[str, dict[str, Any]]:
        out = {}
        for record_id in SEED_IDS:
            bundle = load_bundle(session, record_id)
            assert bundle is not None
            out[record_id] = iiif_manifest.build_manifest(bundle, BASE, vi)
        return out

    documents = media_db.call(build_all)
    assert len(documents) == 31
    for record_id, document in documents.items():
        assert_valid(validator, document)
        check_manifest(document, record_id)


def test_manifest_language_maps_and_links(media_db: Database, vi: Callable[[str], str]) -> None:
    bundle = media_db.call(lambda session: load_bundle(session, "DL-ICH-01"))
    assert bundle is not None
    document = iiif_manifest.build_manifest(bundle, BASE, vi)
    assert document["label"] == {
        "vi": ["Không gian văn hóa Cồng chiêng Tây Nguyên"],
        "en": ["Space of Gong Culture in the Central Highlands"],
    }
    assert list(document["summary"]) == ["en"]
    assert document["summary"]["en"][0].startswith("Gong culture spanning five")
    assert document["homepage"][0]["id"] == f"{BASE}/items/DL-ICH-01"
    assert document["homepage"][0]["label"] == document["label"]
    assert document["seeAlso"][0]["id"] == f"{BASE}/api/v1/records/DL-ICH-01"
    assert document["seeAlso"][0]["type"] == "Dataset"
    assert document["rights"] == "http://rightsstatements.org/vocab/CNE/1.0/"
    assert document["provider"][0]["label"] == {
        "vi": ["Bảo tàng Di sản số Đắk Lắk"],
        "en": ["Đắk Lắk Digital Heritage Museum"],
    }
    assert document["partOf"][0]["id"] == f"{BASE}/iiif/3/collections/all"
    labels = {entry["label"]["en"][0]: entry for entry in document["metadata"]}
    assert labels["Category"]["label"]["vi"] == ["Loại hình"]
    assert labels["Kind of heritage"]["value"] == {
        "vi": ["Di sản văn hóa phi vật thể"],
        "en": ["Intangible cultural heritage"],
    }
    assert labels["Designation"]["value"]["en"] == ["UNESCO-inscribed"]
    assert labels["Communities"]["value"] == {
        "none": ["Êđê", "M'nông", "Jrai", "Ba Na"]  # "others" is not a community
    }
    assert labels["Location before 1 July 2025"]["value"] == {
        "none": ["Kon Tum, Gia Lai, Đắk Lắk, Đắk Nông, Lâm Đồng"]
    }
    assert "Materials" not in labels  # empty fields are left out


def test_page_documents_are_paged_and_single_views_are_not(
    media_db: Database, vi: Callable[[str], str]
) -> None:
    def behaviors(session: Session) -> dict[str, list[str]]:
        out = {}
        for record_id in SEED_IDS:
            bundle = load_bundle(session, record_id)
            assert bundle is not None
            out[record_id] = iiif_manifest.build_manifest(bundle, BASE, vi).get("behavior", [])
        return out

    for record_id, behavior in media_db.call(behaviors).items():
        assert behavior == (["paged"] if profile_of(record_id) == "pages" else []), record_id


def test_collection_all_lists_every_record_with_a_manifest(
    media_db: Database, validator: jsonschema.Draft7Validator, vi: Callable[[str], str]
) -> None:
    def build(session: Session) -> dict[str, Any]:
        source = iiif.load_collection(session, iiif.CollectionKey("all", ""), vi)
        assert source is not None
        return iiif_manifest.build_collection(source, BASE, vi)

    document = media_db.call(build)
    assert_valid(validator, document)
    assert [item["id"] for item in document["items"]] == [
        f"{BASE}/iiif/3/manifests/{r}" for r in sorted(SEED_IDS)
    ]
    assert {item["type"] for item in document["items"]} == {"Manifest"}
    audio_only = next(r for r in SEED_IDS if profile_of(r) == "audio")
    by_id = {item["id"].rsplit("/", 1)[1]: item for item in document["items"]}
    assert "thumbnail" not in by_id[audio_only]
    image = next(r for r in SEED_IDS if profile_of(r) == "image")
    assert by_id[image]["thumbnail"][0]["service"][0]["id"] == f"{BASE}/iiif/3/{asset_id(image, 0)}"


# Pure functions


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"vi": "Cồng chiêng", "en": "Gongs"}, {"vi": ["Cồng chiêng"], "en": ["Gongs"]}),
        ({"vi": "  ", "en": "Gongs"}, {"en": ["Gongs"]}),
        ({"vi": "Co\u0302\u0300ng"}, {"vi": ["Cồng"]}),  # stored decomposed, served NFC
        ({"es-419": "Gongs"}, {"none": ["Gongs"]}),  # the 3.0 schema rejects digits in keys
        ({"rad": "Ayŭ"}, {"rad": ["Ayŭ"]}),
        ({"en": "<b>bold</b>"}, {"en": ["<b>bold</b> "]}),  # plain text, not HTML
        ({}, {}),
        (None, {}),
    ],
)
def test_language_map(values: dict[str, str] | None, expected: dict[str, list[str]]) -> None:
    assert iiif_manifest.language_map(values) == expected


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "http://rightsstatements.org/vocab/CNE/1.0/",
            "http://rightsstatements.org/vocab/CNE/1.0/",
        ),
        (
            "https://rightsstatements.org/vocab/InC/1.0/",
            "http://rightsstatements.org/vocab/InC/1.0/",
        ),
        (
            "https://creativecommons.org/licenses/by/4.0/",
            "http://creativecommons.org/licenses/by/4.0/",
        ),
        (
            "http://creativecommons.org/publicdomain/zero/1.0/",
            "http://creativecommons.org/publicdomain/zero/1.0/",
        ),
        ("https://example.org/our-licence", None),
        ("Bản quyền thuộc Sở VHTTDL", None),
        ("", None),
    ],
)
def test_iiif_rights(uri: str, expected: str | None) -> None:
    assert iiif_manifest.iiif_rights(uri) == expected


@pytest.mark.parametrize(
    ("value", "kind", "key"),
    [
        ("all", "all", ""),
        ("collection-cong-chieng", "collection", "cong-chieng"),
        ("collection-all", "collection", "all"),
        ("exhibition-sample-media", "exhibition", "sample-media"),
    ],
)
def test_parse_collection_id(value: str, kind: str, key: str) -> None:
    assert iiif.parse_collection_id(value) == iiif.CollectionKey(kind, key)


@pytest.mark.parametrize("value", ["", "collection-", "exhibition-", "All", "gongs"])
def test_parse_collection_id_rejects(value: str) -> None:
    with pytest.raises(NotFound) as caught:
        iiif.parse_collection_id(value)
    assert caught.value.parameter == "collection_id"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, False), ("", False), ("0", False), ("1", True), ("true", True), ("YES", True)],
)
def test_parse_draft3d(value: str | None, expected: bool) -> None:
    assert iiif.parse_draft3d(value) is expected


def test_parse_draft3d_rejects_other_values() -> None:
    with pytest.raises(BadRequest) as caught:
        iiif.parse_draft3d("maybe")
    assert caught.value.parameter == "draft3d"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, LD_JSON),
        ("*/*", LD_JSON),
        ("application/ld+json", LD_JSON),
        ("application/ld+json, application/json;q=0.5", LD_JSON),
        ("application/json", "application/json"),
    ],
)
def test_negotiate_media_type(accept: str | None, expected: str) -> None:
    assert iiif.negotiate_media_type(accept) == expected


@pytest.mark.parametrize(
    ("technical", "size", "duration"),
    [
        ({"width": 1920, "height": 1080, "duration": 30}, (1920, 1080), 30.0),
        ({"width": 1920.0, "height": 1080.0, "duration": 0.5}, (1920, 1080), 0.5),
        ({"width": 1920.5, "height": 1080}, None, None),
        ({"width": "1920", "height": 1080, "duration": "30"}, None, None),
        ({"width": True, "height": 1080, "duration": True}, None, None),
        ({"width": 0, "height": 1080, "duration": 0}, None, None),
        ({"width": 1920, "duration": float("nan")}, None, None),
        ({"duration": float("inf")}, None, None),
        ({}, None, None),
    ],
)
def test_technical_values(
    technical: dict[str, Any], size: tuple[int, int] | None, duration: float | None
) -> None:
    assert iiif_manifest.image_size(technical) == size
    assert iiif_manifest.duration_of(technical) == duration


def test_caption_languages_keep_valid_distinct_tags() -> None:
    technical = {"captions": ["vi", "en", "vi", "", 3, "x y", "rad"]}
    assert iiif_manifest.caption_languages(technical) == ["vi", "en", "rad"]
    assert iiif_manifest.caption_languages({"captions": "vi"}) == []


def _record(**values: Any) -> Record:
    defaults: dict[str, Any] = {
        "id": "T-1",
        "kind": "hien_vat",
        "title": {"vi": "Ché"},
        "description": {},
        "category": "",
        "ranking": "",
        "ranking_year": "",
        "designation": "chua_xep_hang",
        "dating": "",
        "ethnic_groups": "",
        "location_current": "",
        "location_historical": "",
        "materials": [],
        "credit_line": {},
        "rights_holder": "",
        "rights": "http://rightsstatements.org/vocab/CNE/1.0/",
    }
    return Record(**{**defaults, **values})


def _bundle(record: Record, assets: list[Asset]) -> RecordBundle:
    return RecordBundle(record=record, assets=assets, places=[], agents=[], collections=[])


def _asset(number: int, kind: str, technical: dict[str, Any], **values: Any) -> Asset:
    return Asset(
        id=f"a{number}",
        kind=kind,
        technical=technical,
        role=values.pop("role", "primary"),
        label=values.pop("label", {}),
        published_version=values.pop("published_version", "v1"),
        **values,
    )


def test_metadata_labels_use_the_translator_and_skip_empty_values() -> None:
    record = _record(
        ranking="Danh mục kiểm kê",
        ranking_year="2019",
        materials=["gốm", "đồng"],
        dating="Thế kỷ XIX",
    )
    entries = iiif_manifest.metadata(record, lambda msgid: f"VI:{msgid}")
    assert [e["label"] for e in entries] == [
        {"vi": [f"VI:{label}"], "en": [label]}
        for label in (
            "Identifier",
            "Kind of heritage",
            "Designation",
            "Ranking or listing",
            "Dating",
            "Materials",
        )
    ]
    values = {e["label"]["en"][0]: e["value"] for e in entries}
    assert values["Ranking or listing"] == {"vi": ["Danh mục kiểm kê (2019)"]}
    assert values["Materials"] == {"none": ["gốm", "đồng"]}
    assert values["Kind of heritage"] == {"vi": ["VI:Artefact"], "en": ["Artefact"]}


def test_ranking_year_is_not_repeated() -> None:
    record = _record(ranking="UNESCO (2005)", ranking_year="2005")
    values = {e["label"]["en"][0]: e["value"] for e in iiif_manifest.metadata(record, str)}
    assert values["Ranking or listing"] == {"vi": ["UNESCO (2005)"]}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"credit_line": {"vi": "Ảnh: Bảo tàng", "en": "Photo: Museum"}, "rights_holder": "X"},
            {"vi": ["Ảnh: Bảo tàng"], "en": ["Photo: Museum"]},
        ),
        ({"rights_holder": "Buôn Akô Dhông"}, {"none": ["Buôn Akô Dhông"]}),
        (
            {},
            {
                "vi": ["VI:Đắk Lắk Department of Culture, Sports and Tourism"],
                "en": ["Đắk Lắk Department of Culture, Sports and Tourism"],
            },
        ),
    ],
)
def test_required_statement_falls_back(values: dict[str, Any], expected: Any) -> None:
    statement = iiif_manifest.required_statement(_record(**values), lambda m: f"VI:{m}")
    assert statement["value"] == expected
    assert statement["label"]["en"] == ["Attribution"]


def test_rights_outside_the_vocabularies_are_left_out(vi: Callable[[str], str]) -> None:
    record = _record(rights="https://example.org/terms")
    document = iiif_manifest.build_manifest(
        _bundle(record, [_asset(1, "image", {"width": 10, "height": 10})]), BASE, vi
    )
    assert "rights" not in document
    assert document["requiredStatement"]["value"]["en"] == [
        "Đắk Lắk Department of Culture, Sports and Tourism"
    ]


def test_fallback_canvas_labels_count_the_shown_items(vi: Callable[[str], str]) -> None:
    assets = [
        _asset(1, "image", {"width": 10, "height": 10}, published_version=None),
        _asset(2, "image", {"width": 10, "height": 10}),
        _asset(3, "audio", {"duration": 4.0}),
    ]
    items = iiif_manifest.build_manifest(_bundle(_record(), assets), BASE, lambda m: f"VI:{m}")[
        "items"
    ]
    assert [c["label"] for c in items] == [
        {"vi": ["VI:Page 1"], "en": ["Page 1"]},
        {"vi": ["VI:Part 2"], "en": ["Part 2"]},
    ]


def test_assets_with_unusable_technical_data_are_left_out_and_logged(
    caplog: pytest.LogCaptureFixture, vi: Callable[[str], str]
) -> None:
    assets = [
        _asset(1, "image", {"width": 10}),
        _asset(2, "video", {"duration": -1}),
        _asset(3, "image", {"width": 10, "height": 20}),
    ]
    with caplog.at_level(logging.WARNING, logger="server.iiif_manifest"):
        document = iiif_manifest.build_manifest(_bundle(_record(), assets), BASE, vi)
    assert [c["id"].rsplit("/", 1)[1] for c in document["items"]] == ["a3"]
    assert "a1" in caplog.text
    assert "a2" in caplog.text


@pytest.mark.parametrize(
    ("assets", "fragment"),
    [
        ([], "no digitized media yet"),
        ([_asset(1, "image", {"width": 5, "height": 5}, published_version=None)], "no digitized"),
        ([_asset(1, "captions", {})], "no digitized media yet"),
        ([_asset(1, "model", {})], "only 3D media"),
    ],
)
def test_records_without_displayable_media_have_no_manifest(
    assets: list[Asset], fragment: str, vi: Callable[[str], str]
) -> None:
    with pytest.raises(NotFound) as caught:
        iiif_manifest.build_manifest(_bundle(_record(), assets), BASE, vi)
    assert fragment in str(caught.value)
    assert caught.value.parameter == "record_id"


def test_draft_3d_adds_a_scene_the_3_0_schema_rejects(
    validator: jsonschema.Draft7Validator, vi: Callable[[str], str]
) -> None:
    assets = [
        _asset(1, "image", {"width": 10, "height": 10}),
        _asset(2, "model", {"model": "web.glb", "lods": []}),
    ]
    bundle = _bundle(_record(), assets)
    plain = iiif_manifest.build_manifest(bundle, BASE, vi)
    draft = iiif_manifest.build_manifest(bundle, BASE, vi, include_3d=True)
    assert [i["type"] for i in plain["items"]] == ["Canvas"]
    assert [i["type"] for i in draft["items"]] == ["Canvas", "Scene"]
    body = draft["items"][1]["items"][0]["items"][0]["body"]
    assert body == {
        "id": f"{BASE}/media/a2/v1/web.glb",
        "type": "Model",
        "format": "model/gltf-binary",
    }
    assert schema_errors(validator, plain) == []
    assert schema_errors(validator, draft) != []  # documented as non-conforming


# Over HTTP (SQLite)


def test_every_seed_manifest_over_http(
    media_client: TestClient, validator: jsonschema.Draft7Validator
) -> None:
    for record_id in SEED_IDS:
        response = media_client.get(f"/iiif/3/manifests/{record_id}")
        assert response.status_code == 200, record_id
        assert response.headers["content-type"] == LD_JSON
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["cache-control"] == "public, max-age=300"
        document = response.json()
        assert document["@context"] == "http://iiif.io/api/presentation/3/context.json"
        assert_valid(validator, document)
        check_manifest(document, record_id)


@pytest.mark.parametrize("record_id", ["DL-ICH-01", "DL-DOC-04", "DL-ART-06"])
def test_records_without_media_answer_404(client: TestClient, record_id: str) -> None:
    response = client.get(f"/iiif/3/manifests/{record_id}", headers=EN)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["parameter"] == "record_id"
    assert error["message"] == (
        f"Heritage item {record_id} has no digitized media yet, so it has no IIIF manifest."
    )


def test_unknown_record_answers_404(client: TestClient) -> None:
    response = client.get("/iiif/3/manifests/NO-SUCH-ID", headers=EN)
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "No heritage item with id NO-SUCH-ID."


def test_restricted_and_deleted_records_are_hidden_everywhere(
    media_client: TestClient, validator: jsonschema.Draft7Validator
) -> None:
    def hide(session: Session) -> None:
        set_record(session, "DL-ICH-01", access_level="restricted")
        set_record(session, "DL-REL-01", deleted_at=utcnow())

    museum(media_client).db.call(hide, write=True)
    for record_id in ("DL-ICH-01", "DL-REL-01"):
        response = media_client.get(f"/iiif/3/manifests/{record_id}", headers=EN)
        assert response.status_code == 404
        assert response.json()["error"]["message"] == f"No heritage item with id {record_id}."
    listed = media_client.get("/iiif/3/collections/all").json()
    assert_valid(validator, listed)
    ids = [item["id"].rsplit("/", 1)[1] for item in listed["items"]]
    assert ids == sorted(set(SEED_IDS) - {"DL-ICH-01", "DL-REL-01"})


def test_restricted_assets_are_left_out(media_client: TestClient) -> None:
    labelled = next(r for r in SEED_IDS if profile_of(r) == "labelled")
    single = next(r for r in SEED_IDS if profile_of(r) == "image")

    def restrict(session: Session) -> None:
        for record_id in (labelled, single):
            asset = session.get(Asset, asset_id(record_id, 0))
            assert asset is not None
            asset.access_level = "restricted"

    museum(media_client).db.call(restrict, write=True)
    items = media_client.get(f"/iiif/3/manifests/{labelled}").json()["items"]
    assert [c["label"]["en"] for c in items] == [["Back"]]
    assert media_client.get(f"/iiif/3/manifests/{single}").status_code == 404
    listed = _manifest_ids(media_client.get("/iiif/3/collections/all").json())
    assert labelled in listed
    assert single not in listed


def test_etag_and_304(media_client: TestClient) -> None:
    first = media_client.get("/iiif/3/manifests/DL-ICH-01")
    etag = first.headers["etag"]
    again = media_client.get("/iiif/3/manifests/DL-ICH-01", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["access-control-allow-origin"] == "*"
    weak = media_client.get("/iiif/3/manifests/DL-ICH-01", headers={"if-none-match": f"W/{etag}"})
    assert weak.status_code == 304
    museum(media_client).db.call(
        lambda session: attach(session, "DL-ICH-01", PROFILES["image"], start=10), write=True
    )
    changed = media_client.get("/iiif/3/manifests/DL-ICH-01", headers={"if-none-match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert len(changed.json()["items"]) == len(first.json()["items"]) + 1


def test_plain_json_when_asked(media_client: TestClient) -> None:
    response = media_client.get(
        "/iiif/3/manifests/DL-ICH-01", headers={"accept": "application/json"}
    )
    assert response.headers["content-type"] == "application/json"
    assert "accept" in {v.strip().lower() for v in response.headers["vary"].split(",")}


def test_head_answers_like_get(media_client: TestClient) -> None:
    response = media_client.head("/iiif/3/manifests/DL-ICH-01")
    assert response.status_code == 200
    assert response.headers["content-type"] == LD_JSON


def test_public_base_url_is_used_for_every_id(
    seeded_settings: Settings, validator: jsonschema.Draft7Validator
) -> None:
    base = "https://museum.example.org"
    settings = dataclasses.replace(seeded_settings, public_base_url=base + "/")
    with TestClient(create_app(settings)) as client:
        museum(client).db.call(attach_all, write=True)
        document = client.get("/iiif/3/manifests/DL-DOC-01").json()
    assert_valid(validator, document)
    check_manifest(document, "DL-DOC-01", base=base)
    text = json.dumps(document)
    assert "testserver" not in text


def test_draft3d_over_http(media_client: TestClient, validator: jsonschema.Draft7Validator) -> None:
    record_id = next(r for r in SEED_IDS if profile_of(r) == "mixed")
    plain = media_client.get(f"/iiif/3/manifests/{record_id}").json()
    draft = media_client.get(f"/iiif/3/manifests/{record_id}?draft3d=1").json()
    assert "Scene" not in {i["type"] for i in plain["items"]}
    scenes = [i for i in draft["items"] if i["type"] == "Scene"]
    assert [s["id"] for s in scenes] == [
        f"{BASE}/iiif/3/manifests/{record_id}/scene/{asset_id(record_id, 2)}"
    ]
    assert schema_errors(validator, plain) == []
    assert schema_errors(validator, draft) != []
    bad = media_client.get(f"/iiif/3/manifests/{record_id}?draft3d=maybe", headers=EN)
    assert bad.status_code == 400
    assert bad.json()["error"]["parameter"] == "draft3d"


def test_3d_only_record_points_to_the_draft_flag(client: TestClient) -> None:
    museum(client).db.call(
        lambda session: attach(session, "DL-ART-01", [Spec("model", {"faces": 5}, role="scan")]),
        write=True,
    )
    response = client.get("/iiif/3/manifests/DL-ART-01", headers=EN)
    assert response.status_code == 404
    assert "?draft3d=1" in response.json()["error"]["message"]
    assert client.get("/iiif/3/manifests/DL-ART-01?draft3d=1").status_code == 200
    listed = client.get("/iiif/3/collections/all").json()
    assert listed["items"] == []  # a harvester is never sent to a manifest that 404s


# Collections and exhibitions over HTTP


@pytest.fixture
def curated(media_client: TestClient) -> Iterator[TestClient]:
    """A public collection, a restricted one, a published exhibition and a draft one."""

    def create(session: Session) -> None:
        session.add(Collection(id="gongs", title={"vi": "Cồng chiêng", "en": "Gongs"}))
        session.add(Collection(id="secret", title={"vi": "Kho"}, access_level="restricted"))
        session.add(Collection(id="empty", title={"vi": "Trống"}))
        session.flush()
        for position, record_id in enumerate(["DL-REL-03", "DL-ICH-02", "DL-ICH-01"]):
            session.add(
                CollectionRecord(collection_id="gongs", record_id=record_id, position=position)
            )
        session.add(
            Exhibition(id="sample-media", title={"vi": "Mẫu", "en": "Samples"}, published=True)
        )
        session.add(Exhibition(id="draft", title={"vi": "Nháp"}, published=False))
        session.flush()
        stops = ["DL-DOC-01", None, "DL-ART-02", "DL-DOC-01", "DL-ICH-03"]
        for position, record_id in enumerate(stops):
            session.add(
                ExhibitionStop(exhibition_id="sample-media", position=position, record_id=record_id)
            )
        set_record(session, "DL-ICH-02", access_level="restricted")

    museum(media_client).db.call(create, write=True)
    yield media_client


def _manifest_ids(document: dict[str, Any]) -> list[str]:
    return [item["id"].rsplit("/", 1)[1] for item in document["items"]]


def test_catalog_collection_in_position_order(
    curated: TestClient, validator: jsonschema.Draft7Validator
) -> None:
    response = curated.get("/iiif/3/collections/collection-gongs")
    assert response.status_code == 200
    assert response.headers["content-type"] == LD_JSON
    assert response.headers["access-control-allow-origin"] == "*"
    document = response.json()
    assert_valid(validator, document)
    assert document["id"] == f"{BASE}/iiif/3/collections/collection-gongs"
    assert document["label"] == {"vi": ["Cồng chiêng"], "en": ["Gongs"]}
    assert _manifest_ids(document) == ["DL-REL-03", "DL-ICH-01"]  # DL-ICH-02 is restricted
    for item in document["items"]:
        assert set(item) <= {"id", "type", "label", "thumbnail"}  # referenced, not embedded
    member = curated.get("/iiif/3/manifests/DL-ICH-01").json()
    assert {"id": document["id"], "type": "Collection"} in member["partOf"]


def test_public_collection_without_members_is_valid_and_empty(
    curated: TestClient, validator: jsonschema.Draft7Validator
) -> None:
    document = curated.get("/iiif/3/collections/collection-empty").json()
    assert_valid(validator, document)
    assert document["items"] == []


def test_exhibition_in_stop_order(
    curated: TestClient, validator: jsonschema.Draft7Validator
) -> None:
    document = curated.get("/iiif/3/collections/exhibition-sample-media").json()
    assert_valid(validator, document)
    assert _manifest_ids(document) == ["DL-DOC-01", "DL-ART-02", "DL-ICH-03"]


@pytest.mark.parametrize(
    "collection_id",
    ["collection-secret", "exhibition-draft", "collection-none", "exhibition-none"],
)
def test_hidden_or_unknown_collections_answer_404(curated: TestClient, collection_id: str) -> None:
    response = curated.get(f"/iiif/3/collections/{collection_id}", headers=EN)
    assert response.status_code == 404
    assert response.json()["error"] == {
        "status": 404,
        "code": "not_found",
        "message": f"No public collection or exhibition {collection_id}.",
        "parameter": "collection_id",
    }


def test_malformed_collection_id_answers_404(client: TestClient) -> None:
    response = client.get("/iiif/3/collections/gongs", headers=EN)
    assert response.status_code == 404
    assert "collection-<id>" in response.json()["error"]["message"]


def test_collection_all_etag(media_client: TestClient) -> None:
    first = media_client.get("/iiif/3/collections/all")
    assert first.status_code == 200
    again = media_client.get(
        "/iiif/3/collections/all", headers={"if-none-match": first.headers["etag"]}
    )
    assert again.status_code == 304


def test_collection_all_is_empty_but_valid_without_media(
    client: TestClient, validator: jsonschema.Draft7Validator
) -> None:
    document = client.get("/iiif/3/collections/all").json()
    assert_valid(validator, document)
    assert document["items"] == []
    assert document["label"]["vi"] == ["Di sản Đắk Lắk"]


def test_vietnamese_interface_error(client: TestClient) -> None:
    response = client.get("/iiif/3/manifests/NO-SUCH-ID")
    assert response.json()["error"]["message"] == "Không có di sản nào mang mã NO-SUCH-ID."


def test_site_wide_draft_3d_setting(seeded_settings: Any) -> None:
    from dataclasses import replace

    from server.app import create_app

    with TestClient(create_app(replace(seeded_settings, iiif_draft_3d=True))) as site:
        museum(site).db.call(
            lambda session: attach(
                session, "DL-ART-01", [Spec("model", {"faces": 5}, role="scan")]
            ),
            write=True,
        )
        document = site.get("/iiif/3/manifests/DL-ART-01").json()
    assert [item["type"] for item in document["items"]] == ["Scene"]
