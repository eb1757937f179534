"""Rights per media item (server/media_rights.py): a media item's own licence and credit on
the record page, in the JSON API and in the IIIF manifest, and who may download its
original, as what."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from urllib.parse import unquote

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.catalog import import_catalog_file
from server.db import Database
from server.media_rights import ascii_fallback, content_disposition, is_open_licence
from server.migrate import upgrade
from server.settings import Settings
from tests.conftest import SEED_CATALOG
from tests.media_fixtures import (
    CC0,
    CC_BY,
    CNE,
    IN_COPYRIGHT,
    NOC,
    add_media,
    jpeg_bytes,
    set_record,
)
from tests.staff import sign_in, sign_out

CREDIT = "Ảnh: H'Linh Niê"


def figure_of(page: str, asset_id: str) -> str:
    for figure in re.findall(r"<figure.*?</figure>", page, re.S):
        if asset_id in figure:
            return str(figure)
    raise AssertionError(f"no figure for {asset_id}")


def test_a_media_items_own_credit_and_licence_are_shown_beside_it(client: TestClient) -> None:
    asset_id = add_media(
        client,
        license=CC_BY,
        attribution=CREDIT,
        downloadable=True,
        files={"thumb-400.jpg": b"x"},
        technical={
            "pipeline": "image",
            "width": 64,
            "height": 48,
            "thumbnails": {"thumbnail:400": "thumb-400.jpg"},
        },
    )
    page = client.get("/items/DL-ICH-01?lang=en").text
    figure = html.unescape(figure_of(page, asset_id))
    assert f"Credit: {CREDIT}" in figure
    assert f'<a href="{CC_BY}" rel="license' in figure and "CC BY 4.0" in figure
    assert f'href="/originals/{asset_id}" download' in figure
    # And in the page's list of media with their own attribution.
    assert f"{CREDIT}" in html.unescape(page.split('class="licence"')[1])


def test_without_its_own_credit_a_media_item_carries_the_records(client: TestClient) -> None:
    set_record(client, "DL-ICH-01", credit_line={"vi": "Bảo tàng Đắk Lắk", "en": "Đắk Lắk Museum"})
    asset_id = add_media(client, files={"a.jpg": b"x"})
    figure = html.unescape(figure_of(client.get("/items/DL-ICH-01?lang=en").text, asset_id))
    assert "Credit: Đắk Lắk Museum" in figure
    assert "/originals/" not in figure  # not offered for download


def test_the_api_gives_each_media_items_rights(client: TestClient) -> None:
    own = add_media(client, license=CC0, attribution=CREDIT, downloadable=True)
    body = client.get(f"/api/v1/media/{own}").json()
    assert body["rights"]["license"] == CC0
    assert body["rights"]["attribution"] == CREDIT
    assert body["rights"]["original"].endswith(f"/originals/{own}")
    plain = add_media(client, technical={"attribution": "Photo: old stop-gap"})
    body = client.get(f"/api/v1/media/{plain}").json()
    assert body["rights"]["license"] == "http://rightsstatements.org/vocab/CNE/1.0/"  # the record's
    assert body["rights"]["attribution"] == "Photo: old stop-gap"
    assert body["rights"]["original"] is None


def test_the_manifest_states_a_canvass_own_rights_where_they_differ(client: TestClient) -> None:
    image = {"pipeline": "image", "width": 64, "height": 48}
    own = add_media(client, license=CC_BY, attribution=CREDIT, files={}, technical=image)
    same = add_media(client, files={}, technical=image)
    manifest = client.get("/iiif/3/manifests/DL-ICH-01").json()
    canvases = {c["id"].rsplit("/", 1)[-1]: c for c in manifest["items"]}
    assert canvases[own]["rights"] == CC_BY
    assert canvases[own]["requiredStatement"]["value"] == {"none": [CREDIT]}
    assert "rights" not in canvases[same] and "requiredStatement" not in canvases[same]
    assert manifest["rights"] == CNE  # the record's own statement is unchanged


# Original downloads ----------------------------------------------------------------------

LICENCES = {"cc-by": CC_BY, "cc0": CC0, "noc": NOC, "in-copyright": IN_COPYRIGHT, "cne": CNE}
OPEN = {"cc-by", "cc0", "noc"}
ACCESS = ("public", "staff", "draft-record")
Case = tuple[str, str, bool]
Matrix = tuple[TestClient, dict[Case, str]]


@pytest.fixture(scope="module")
def matrix(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict[Case, str]]]:
    """One app holding a media item for every licence × access × "offered" combination."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("matrix") / "data")
    db = Database(settings.resolved_database_url)
    upgrade(db)
    db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    db.dispose()
    with TestClient(create_app(settings)) as client:
        set_record(client, "DL-ICH-06", status="draft")
        assets = {
            (licence, access, offered): add_media(
                client,
                "DL-ICH-06" if access == "draft-record" else "DL-ICH-01",
                access="staff" if access == "staff" else "public",
                license=LICENCES[licence],
                downloadable=offered,
                data=jpeg_bytes(color="teal"),
            )
            for licence in LICENCES
            for access in ACCESS
            for offered in (True, False)
        }
        yield client, assets


def expected_status(case: Case, role: str | None) -> int:
    licence, access, offered = case
    if role == "editor":
        return 200  # staff: anything they can see in the admin interface
    if access != "public":
        return 404  # visitors cannot see it at all
    return 200 if offered and licence in OPEN else 403


@pytest.mark.parametrize("role", [None, "contributor", "editor"])
def test_who_may_download_an_original(matrix: Matrix, role: str | None) -> None:
    client, assets = matrix
    sign_out(client)
    if role is not None:
        sign_in(client, f"user_{role}", role)
    data = jpeg_bytes(color="teal")
    for case, asset_id in assets.items():
        response = client.get(f"/originals/{asset_id}", headers={"accept-language": "en"})
        expected = expected_status(case, role)
        assert response.status_code == expected, (case, role, response.text)
        if expected == 200:
            assert response.content == data
            assert response.headers["content-disposition"].startswith("attachment;")
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
        elif expected == 403:
            message = response.json()["error"]["message"]
            assert ("licence" in message) == case[2], message  # says why: licence, or not offered


def test_a_vietnamese_file_name_is_encoded_per_rfc_6266(client: TestClient) -> None:
    name = "Cồng chiêng Đắk Lắk (2025).jpg"
    asset_id = add_media(client, license=CC0, downloadable=True, filename=name)
    header = client.get(f"/originals/{asset_id}").headers["content-disposition"]
    assert header.isascii()
    fallback = re.search(r'filename="([^"]*)"', header)
    assert fallback and fallback.group(1) == "Cong chieng Dak Lak (2025).jpg"
    encoded = re.search(r"filename\*=UTF-8''(\S+)$", header)
    assert encoded and unquote(encoded.group(1), encoding="utf-8") == name
    assert "%E1%BB%93" in encoded.group(1)  # ồ, as UTF-8 bytes


@pytest.mark.parametrize(
    "name",
    ['a"; filename="evil.html', "x\r\nSet-Cookie: a=b.jpg", "../../etc/passwd", "", "Đ" * 400],
)
def test_no_file_name_breaks_out_of_the_header(name: str) -> None:
    header = content_disposition(name)
    assert header.isascii() and "\r" not in header and "\n" not in header
    assert header.count('"') == 2 and "/" not in header.split(";", 1)[1].replace("%2F", "")
    assert ascii_fallback(name)


@pytest.mark.parametrize(
    ("uri", "open_"),
    [
        (CC_BY, True),
        ("https://creativecommons.org/licenses/by-sa/4.0/", True),
        ("https://creativecommons.org/licenses/by/2.0", True),
        (CC0, True),
        ("https://creativecommons.org/publicdomain/mark/1.0/", True),
        (NOC, True),
        ("http://creativecommons.org/licenses/by-nc/4.0/", False),
        ("http://creativecommons.org/licenses/by-nd/4.0/", False),
        (IN_COPYRIGHT, False),
        (CNE, False),
        ("https://opensource.org/license/mit", False),
        ("", False),
    ],
)
def test_open_licences(uri: str, open_: bool) -> None:
    assert is_open_licence(uri) is open_
