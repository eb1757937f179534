"""schemathesis against /api/openapi.json: no server errors, responses match the document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pyvips
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from server.app import create_app
from server.catalog import import_catalog_file
from server.db import Database
from server.migrate import upgrade
from server.settings import Settings
from tests.api_fixtures import PUBLISHED_ASSET, add_fixtures
from tests.conftest import SEED_CATALOG

pytestmark = pytest.mark.slow
# 100 per operation (the security research's goal): about a minute for the whole document.
EXAMPLES_PER_OPERATION = 100
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
IMAGE_REQUEST = "GET /iiif/3/{identifier}/{region}/{size}/{rotation}/{quality}.{format}"
# The image request renders pixels (half its cases on the real image): fewer examples
# keep it near the others' time on a loaded machine.
EXAMPLES_BY_OPERATION = {IMAGE_REQUEST: 60}
# A small maxArea keeps every possible rendering cheap; info.json states it.
MAX_AREA = 400 * 300


def publish_fixture_image(data_dir: Path) -> None:
    """The derivatives the image pipeline would publish for PUBLISHED_ASSET (800×600)."""
    folder = data_dir / "derivatives" / PUBLISHED_ASSET / "v1"
    folder.mkdir(parents=True)
    image = pyvips.Image.xyz(800, 600).extract_band(0).cast("uchar").bandjoin([64, 128])
    image = image.copy(interpretation="srgb")
    image.dzsave(str(folder / "iiif"), layout="iiif3", tile_size=256, suffix=".jpg[Q=80]")
    image.tiffsave(str(folder / "pyramid.tif"), tile=True, pyramid=True, compression="jpeg")


def build_schema(tmp_path: Path) -> schemathesis.BaseSchema:
    settings_ = Settings(data_dir=tmp_path / "data", iiif_max_area=MAX_AREA)
    db = Database(settings_.resolved_database_url)
    upgrade(db)
    db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    add_fixtures(db)
    db.dispose()
    publish_fixture_image(settings_.data_dir)
    return schemathesis.openapi.from_asgi("/api/openapi.json", create_app(settings_))


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> schemathesis.BaseSchema:
    return build_schema(Path(tmp_path_factory.mktemp("openapi")))


def operation_labels() -> list[str]:

    from server.openapi import document

    paths = document("http://testserver")["paths"]
    return [
        f"{method.upper()} {path}"
        for path, item in paths.items()
        for method in item
        # schemathesis leaves out the address it loaded the document from
        if method in METHODS and path != "/api/openapi.json"
    ]


# schemathesis' own pytest plugin does not support pytest 9 yet, so each
# operation runs through hypothesis directly: same generation, same checks.
@pytest.mark.parametrize("label", operation_labels())
def test_api_conforms_to_its_openapi_document(
    api_schema: schemathesis.BaseSchema, label: str
) -> None:
    operations = [r.ok() for r in api_schema.get_all_operations()]
    operation = next(op for op in operations if op.label == label)
    # Random ids almost never exist: half the cases take an id that does, with the
    # other parameters still generated, so the positive paths are exercised too.
    strategy = operation.as_strategy()
    if label in EXISTING:
        strategy = st.one_of(strategy, operation.as_strategy(path_parameters=EXISTING[label]))

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES_BY_OPERATION.get(label, EXAMPLES_PER_OPERATION),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(excluded_checks=content_dependent(label, case))

    check()
    # The documented examples: the full response schemas of the detail endpoints.
    for example in EXAMPLES.get(label, []):
        operation.Case(**example).call_and_validate()


def content_dependent(label: str, case: schemathesis.Case) -> list[Any]:
    """Checks that cannot hold where acceptance depends on content, not on the syntax."""
    # A cursor is opaque: only one the API handed out is valid, so a random
    # string that fits the pattern is rightly refused with 400.
    if case.query and "cursor" in case.query:
        return [positive_data_acceptance]
    # Whether a region or size is possible depends on the image's dimensions and
    # maxArea (e.g. a region outside the image): a well-formed request may be a 400.
    if label == IMAGE_REQUEST:
        return [positive_data_acceptance]
    return []


EXISTING = {
    "GET /iiif/3/{identifier}/info.json": {"identifier": PUBLISHED_ASSET},
    IMAGE_REQUEST: {"identifier": PUBLISHED_ASSET},
    "GET /iiif/3/manifests/{record_id}": {"record_id": "DL-ICH-01"},
    "GET /api/v1/records/{record_id}": {"record_id": "DL-ICH-01"},
}
EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "GET /api/v1/records/{record_id}": [
        {"path_parameters": {"record_id": "DL-ICH-01"}},
        {"path_parameters": {"record_id": "DL-REL-01"}},
    ],
    "GET /api/v1/collections/{collection_id}": [{"path_parameters": {"collection_id": "gongs"}}],
    "GET /api/v1/exhibitions/{exhibition_id}": [
        {"path_parameters": {"exhibition_id": "sample-media"}}
    ],
    "GET /api/v1/places/{place_id}": [{"path_parameters": {"place_id": "bmt"}}],
    "GET /api/v1/media/{asset_id}": [{"path_parameters": {"asset_id": PUBLISHED_ASSET}}],
    "GET /iiif/3/{identifier}/info.json": [{"path_parameters": {"identifier": PUBLISHED_ASSET}}],
    IMAGE_REQUEST: [
        {
            "path_parameters": {
                "identifier": PUBLISHED_ASSET,
                "region": region,
                "size": size,
                "rotation": rotation,
                "quality": quality,
                "format": format_,
            }
        }
        for region, size, rotation, quality, format_ in (
            ("full", "max", "0", "default", "jpg"),  # rendered within maxArea
            ("0,0,256,256", "256,", "0", "default", "jpg"),  # a pre-generated tile
            ("pct:10,10,50,50", "^!500,500", "!90", "gray", "webp"),
            ("square", "pct:10", "22.5", "bitonal", "png"),
        )
    ],
    "GET /iiif/3/manifests/{record_id}": [{"path_parameters": {"record_id": "DL-ICH-01"}}],
    "GET /iiif/3/collections/{collection_id}": [
        {"path_parameters": {"collection_id": collection}}
        for collection in ("all", "collection-gongs", "exhibition-sample-media")
    ],
    "GET /oai": [
        {"query": {"verb": "GetRecord", "identifier": f"oai:testserver:{record}", **prefix}}
        for record in ("DL-ICH-01", "DL-ART-01")
        for prefix in ({"metadataPrefix": "oai_dc"}, {"metadataPrefix": "lido"})
    ]
    + [{"query": {"verb": "ListRecords", "metadataPrefix": "oai_dc"}}],
}
