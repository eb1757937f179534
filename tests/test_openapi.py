"""schemathesis against /api/openapi.json: no server errors, responses match the document."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from server.app import create_app
from server.catalog import import_catalog_file
from server.db import Database
from server.migrate import upgrade
from server.settings import Settings
from tests.api_fixtures import PUBLISHED_ASSET, add_fixtures
from tests.conftest import SEED_CATALOG

pytestmark = pytest.mark.slow
EXAMPLES_PER_OPERATION = 30


def build_schema(tmp_path: Path) -> schemathesis.BaseSchema:
    settings_ = Settings(data_dir=tmp_path / "data")
    db = Database(settings_.resolved_database_url)
    upgrade(db)
    db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    add_fixtures(db)
    db.dispose()
    return schemathesis.openapi.from_asgi("/api/openapi.json", create_app(settings_))


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> schemathesis.BaseSchema:
    return build_schema(Path(tmp_path_factory.mktemp("openapi")))


def operation_labels() -> list[str]:

    from server.openapi import document

    return [f"GET {path}" for path in document("http://testserver")["paths"]]


# schemathesis' own pytest plugin does not support pytest 9 yet, so each
# operation runs through hypothesis directly: same generation, same checks.
@pytest.mark.parametrize("label", operation_labels())
def test_api_conforms_to_its_openapi_document(
    api_schema: schemathesis.BaseSchema, label: str
) -> None:
    operations = [r.ok() for r in api_schema.get_all_operations()]
    operation = next(op for op in operations if op.label == label)

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    def check(case: schemathesis.Case) -> None:
        # A cursor is opaque: only one the API handed out is valid, so a random
        # string that fits the pattern is rightly refused with 400.
        opaque = [positive_data_acceptance] if case.query and "cursor" in case.query else []
        case.call_and_validate(excluded_checks=opaque)

    check()
    # Random ids almost never exist; the documented examples do, so the full
    # response schemas of the detail endpoints are checked too.
    for parameters in EXAMPLES.get(label, []):
        operation.Case(path_parameters=parameters).call_and_validate()


EXAMPLES = {
    "GET /api/v1/records/{record_id}": [{"record_id": "DL-ICH-01"}, {"record_id": "DL-REL-01"}],
    "GET /api/v1/collections/{collection_id}": [{"collection_id": "gongs"}],
    "GET /api/v1/exhibitions/{exhibition_id}": [{"exhibition_id": "sample-media"}],
    "GET /api/v1/places/{place_id}": [{"place_id": "bmt"}],
    "GET /api/v1/media/{asset_id}": [{"asset_id": PUBLISHED_ASSET}],
}
