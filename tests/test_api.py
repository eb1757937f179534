"""The JSON API: search, records, collections, exhibitions, places, media — ETag, CORS, cursors."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.api_fixtures import add_fixtures


@pytest.fixture
def api(client: TestClient) -> TestClient:
    add_fixtures(client.app.state.museum.db)  # type: ignore[attr-defined]
    return client


def test_search_finds_without_diacritics_and_returns_facets(api: TestClient) -> None:
    response = api.get("/api/v1/search", params={"q": "cong chieng", "lang": "en"})
    assert response.status_code == 200
    body = response.json()
    assert body["items"][0]["id"] == "DL-ICH-01"
    assert body["items"][0]["links"]["html"].endswith("/items/DL-ICH-01")
    assert body["total"] == len(body["items"])
    kinds = {f["value"]: f for f in body["facets"]["kind"]}
    assert kinds["di_san_phi_vat_the"]["label"] == "Intangible cultural heritage"
    assert {f["value"] for f in body["facets"]["media"]} == {"image"}


def test_search_facet_labels_follow_the_language(api: TestClient) -> None:
    body = api.get("/api/v1/search", params={"lang": "vi"}).json()
    labels = {f["value"]: f["label"] for f in body["facets"]["designation"]}
    assert labels["di_tich_quoc_gia"] == "Di tích quốc gia"
    places = {f["value"]: f["label"] for f in body["facets"]["place"]}
    assert places == {"bmt": "Buôn Ma Thuột"}


def test_search_pages_with_cursors_until_the_end(api: TestClient) -> None:
    seen: list[str] = []
    params: dict[str, str] = {"limit": "7"}
    for _ in range(10):
        body = api.get("/api/v1/search", params=params).json()
        seen += [item["id"] for item in body["items"]]
        if body["next_cursor"] is None:
            break
        params = {"limit": "7", "cursor": body["next_cursor"]}
    assert len(seen) == len(set(seen)) == 30  # 31 seed records, one restricted


def test_records_list_pages_by_id_and_filters_by_kind(api: TestClient) -> None:
    first = api.get("/api/v1/records", params={"limit": 5, "kind": "di_tich"}).json()
    assert [r["id"] for r in first["items"]] == [f"DL-REL-{i:02d}" for i in range(1, 6)]
    rest = api.get(
        "/api/v1/records", params={"limit": 100, "kind": "di_tich", "cursor": first["next_cursor"]}
    ).json()
    assert rest["items"][0]["id"] == "DL-REL-06"
    assert rest["next_cursor"] is None and len(rest["items"]) == 7


def test_record_detail_has_media_places_and_links(api: TestClient) -> None:
    body = api.get("/api/v1/records/DL-ICH-01").json()
    assert body["title"]["vi"] == "Không gian văn hóa Cồng chiêng Tây Nguyên"
    assert body["designation"] == "unesco"
    assert [m["id"] for m in body["media"]] == ["a" * 32]  # the staff-only asset is not listed
    assert body["collections"] == ["gongs"]
    assert body["links"]["iiif_manifest"].endswith("/iiif/3/manifests/DL-ICH-01")
    assert "Êđê" in body["ethnic_groups"]
    place = api.get("/api/v1/records/DL-REL-01").json()["places"][0]
    assert (place["id"], place["role"], place["latitude"]) == ("bmt", "located_at", 12.67)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/records/DL-ICH-07",
        "/api/v1/records/NO-SUCH",
        "/api/v1/collections/secret",
        "/api/v1/exhibitions/draft",
        "/api/v1/media/" + "b" * 32,
        "/api/v1/media/" + "c" * 32,
        "/api/v1/places/nowhere",
    ],
)
def test_hidden_or_missing_things_are_404(api: TestClient, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_restricted_record_is_absent_from_every_listing(api: TestClient) -> None:
    for path in (
        "/api/v1/search?limit=100",
        "/api/v1/records?limit=100",
        "/api/v1/collections/gongs",
        "/api/v1/places/bmt",
    ):
        assert "DL-ICH-07" not in api.get(path).text, path
    stops = api.get("/api/v1/exhibitions/sample-media").json()["stops"]
    assert [s["position"] for s in stops] == [1, 3]
    collections = api.get("/api/v1/collections").json()["items"]
    assert [(c["id"], c["record_count"]) for c in collections] == [("gongs", 2)]


def test_media_detail_links_to_its_derivatives(api: TestClient) -> None:
    body = api.get("/api/v1/media/" + "a" * 32).json()
    assert body["record_id"] == "DL-ICH-01"
    assert body["links"]["derivatives"].endswith(f"/media/{'a' * 32}/v1/")
    assert body["technical"] == {"width": 800, "height": 600}


def test_etag_and_304(api: TestClient) -> None:
    first = api.get("/api/v1/records/DL-ICH-01")
    etag = first.headers["etag"]
    again = api.get("/api/v1/records/DL-ICH-01", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    other = api.get("/api/v1/records/DL-ICH-02", headers={"if-none-match": etag})
    assert other.status_code == 200


def test_cors_on_get(api: TestClient) -> None:
    response = api.get("/api/v1/search", headers={"origin": "https://harvester.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    preflight = api.options(
        "/api/v1/records",
        headers={"origin": "https://x.example", "access-control-request-method": "GET"},
    )
    assert preflight.status_code == 200
    refused = api.options(
        "/api/v1/records",
        headers={"origin": "https://x.example", "access-control-request-method": "DELETE"},
    )
    assert refused.status_code == 400


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJvIjotMSwiYSI6IiJ9"}, "cursor"),
        ({"exact": "maybe"}, "exact"),
        ({"q": "x" * 501}, "q"),
        ({"colour": "red"}, "colour"),
        ({"q": ["a", "b"]}, "q"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    api: TestClient, params: dict, parameter: str
) -> None:  # type: ignore[type-arg]
    response = api.get("/api/v1/search", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["parameter"] == parameter


def test_openapi_document_lists_every_api_route(api: TestClient) -> None:
    from starlette.routing import Mount

    document = api.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    mount = next(r for r in api.app.routes if isinstance(r, Mount) and r.path == "/api/v1")  # type: ignore[attr-defined]
    implemented = {"/api/v1" + route.path.replace(":str", "") for route in mount.routes}
    assert implemented == {path for path in document["paths"] if path.startswith("/api/v1/")}


def test_openapi_document_lists_the_machine_readable_routes(api: TestClient) -> None:
    """IIIF, OAI-PMH, sitemap, map outline, health checks: documented at their real paths."""
    from starlette.routing import Route

    names = {
        "openapi",
        "iiif_image_info",
        "iiif_image",
        "iiif_manifest",
        "iiif_collection",
        "iiif_annotations",
        "oai",
        "sitemap",
        "map_outline",
        "healthz",
        "readyz",
    }
    routes = {r.name: r for r in api.app.routes if isinstance(r, Route) and r.name in names}  # type: ignore[attr-defined]
    assert set(routes) == names
    paths = api.get("/api/openapi.json").json()["paths"]
    for name, route in routes.items():
        path = route.path.replace(":str", "").replace("{qf}", "{quality}.{format}")
        documented = {method.upper() for method in paths.get(path, {})}
        assert documented and documented <= set(route.methods or ()), (name, path)
