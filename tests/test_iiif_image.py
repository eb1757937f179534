"""The IIIF Image API 3.0 endpoints: info.json, static tiles, rendered images, errors, cache."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import pyvips
from PIL import Image
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from server.app import create_app
from server.db import Database
from server.iiif_image import DiskCache
from server.models import Asset
from server.settings import Settings

IMAGE_ID = "a" * 32
STAFF_ID = "b" * 32
WIDTH, HEIGHT = 1300, 900
# Quadrant colours: top-left, top-right, bottom-left, bottom-right.
COLOURS = {"tl": (220, 30, 30), "tr": (30, 200, 30), "bl": (30, 30, 220), "br": (240, 220, 30)}


def quadrants() -> np.ndarray:
    pixels = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    half_w, half_h = WIDTH // 2, HEIGHT // 2
    pixels[:half_h, :half_w] = COLOURS["tl"]
    pixels[:half_h, half_w:] = COLOURS["tr"]
    pixels[half_h:, :half_w] = COLOURS["bl"]
    pixels[half_h:, half_w:] = COLOURS["br"]
    return pixels


def publish(data_dir: Path, asset_id: str) -> None:
    publish_image(
        pyvips.Image.new_from_array(quadrants(), interpretation="srgb"), data_dir, asset_id
    )


def publish_image(image: pyvips.Image, data_dir: Path, asset_id: str) -> None:
    """What the image pipeline publishes: an iiif3 tile tree and a pyramidal TIFF."""
    folder = data_dir / "derivatives" / asset_id / "v1"
    folder.mkdir(parents=True)
    image.dzsave(str(folder / "iiif"), layout="iiif3", tile_size=512, suffix=".jpg[Q=90]")
    image.tiffsave(str(folder / "pyramid.tif"), tile=True, pyramid=True, compression="jpeg", Q=90)


@pytest.fixture
def client(seeded_settings: Settings) -> Iterator[TestClient]:
    db = Database(seeded_settings.resolved_database_url)

    def add(session: Session) -> None:
        for asset_id, access in ((IMAGE_ID, "public"), (STAFF_ID, "staff")):
            session.add(
                Asset(
                    id=asset_id,
                    sha256="0" * 64,
                    size=1,
                    filename="quadrants.png",
                    media_type="image/png",
                    kind="image",
                    record_id="DL-ICH-01",
                    access_level=access,
                    published_version="v1",
                    technical={"width": WIDTH, "height": HEIGHT},
                )
            )

    db.call(add, write=True)
    db.dispose()
    for asset_id in (IMAGE_ID, STAFF_ID):
        publish(seeded_settings.data_dir, asset_id)
    with TestClient(create_app(seeded_settings)) as test_client:
        yield test_client


def picture(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB"), dtype=np.int16)


def near(pixel: np.ndarray, colour: tuple[int, int, int]) -> bool:
    return bool(np.abs(pixel - np.array(colour)).max() <= 12)


def test_info_json_describes_the_image_at_level_2(client: TestClient) -> None:
    response = client.get(f"/iiif/3/{IMAGE_ID}/info.json")
    assert response.status_code == 200
    info = response.json()
    assert info["id"] == f"http://testserver/iiif/3/{IMAGE_ID}"
    assert (info["width"], info["height"], info["profile"]) == (WIDTH, HEIGHT, "level2")
    assert info["tiles"][0]["width"] == 512 and 1 in info["tiles"][0]["scaleFactors"]
    assert info["maxArea"] > 0 and "sizeUpscaling" in info["extraFeatures"]
    assert response.headers["access-control-allow-origin"] == "*"
    assert 'rel="profile"' in response.headers["link"]
    ld = client.get(f"/iiif/3/{IMAGE_ID}/info.json", headers={"accept": "application/ld+json"})
    assert ld.headers["content-type"].startswith("application/ld+json")


def test_the_base_uri_redirects_to_info_json(client: TestClient) -> None:
    response = client.get(f"/iiif/3/{IMAGE_ID}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"/iiif/3/{IMAGE_ID}/info.json")


def test_a_pre_generated_tile_is_served_as_written(
    client: TestClient, seeded_settings: Settings
) -> None:
    tile = seeded_settings.data_dir / "derivatives" / IMAGE_ID / "v1" / "iiif" / "512,0,512,512"
    response = client.get(f"/iiif/3/{IMAGE_ID}/512,0,512,512/512,512/0/default.jpg")
    assert response.status_code == 200
    assert response.content == (tile / "512,512" / "0" / "default.jpg").read_bytes()
    assert response.headers["content-type"] == "image/jpeg"


def test_full_image_keeps_its_quadrants(client: TestClient) -> None:
    response = client.get(f"/iiif/3/{IMAGE_ID}/full/max/0/default.jpg")
    assert response.status_code == 200
    pixels = picture(response.content)
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    assert near(pixels[100, 100], COLOURS["tl"]) and near(pixels[800, 1200], COLOURS["br"])
    assert f'/iiif/3/{IMAGE_ID}/full/max/0/default.jpg>;rel="canonical"' in response.headers["link"]


@pytest.mark.parametrize(
    ("path", "size", "corners"),
    [
        # region x,y,w,h and a width: the right half, shrunk
        ("650,0,650,900/325,/0/default.png", (325, 450), ("tr", "tr", "br", "br")),
        # pct region: the bottom half
        ("pct:0,50,100,50/max/0/default.png", (1300, 450), ("bl", "br", "bl", "br")),
        # rotation by 90: the top-left quadrant goes to the top-right
        ("full/,300/90/default.png", (300, 433), ("bl", "tl", "br", "tr")),
        # mirrored: left and right swap
        ("full/433,/!0/default.png", (433, 300), ("tr", "tl", "br", "bl")),
        # mirrored, then turned 180
        ("full/433,/!180/default.png", (433, 300), ("bl", "br", "tl", "tr")),
        # confined to a box, from the smallest pyramid level
        ("full/!100,100/0/default.webp", (100, 69), ("tl", "tr", "bl", "br")),
        # upscaled region
        ("0,0,100,100/^200,200/0/default.png", (200, 200), ("tl", "tl", "tl", "tl")),
    ],
)
def test_rendered_images_show_the_right_pixels(
    client: TestClient, path: str, size: tuple[int, int], corners: tuple[str, ...]
) -> None:
    response = client.get(f"/iiif/3/{IMAGE_ID}/{path}")
    assert response.status_code == 200, response.text
    pixels = picture(response.content)
    height, width = pixels.shape[:2]
    assert (width, height) == size
    inset_x, inset_y = max(1, width // 8), max(1, height // 8)
    samples = [
        pixels[inset_y, inset_x],
        pixels[inset_y, width - 1 - inset_x],
        pixels[height - 1 - inset_y, inset_x],
        pixels[height - 1 - inset_y, width - 1 - inset_x],
    ]
    for sample, name in zip(samples, corners, strict=True):
        assert near(sample, COLOURS[name]), (sample, name)


def test_gray_and_bitonal_qualities(client: TestClient) -> None:
    gray = Image.open(io.BytesIO(client.get(f"/iiif/3/{IMAGE_ID}/full/200,/0/gray.png").content))
    assert gray.mode in ("L", "LA", "I;16")
    bitonal = client.get(f"/iiif/3/{IMAGE_ID}/full/200,/0/bitonal.png").content
    values = np.unique(np.asarray(Image.open(io.BytesIO(bitonal)).convert("L")))
    assert set(values.tolist()) <= {0, 255} and len(values) == 2


def test_arbitrary_rotation_grows_the_canvas(client: TestClient) -> None:
    response = client.get(f"/iiif/3/{IMAGE_ID}/full/200,/45/default.png")
    assert response.status_code == 200
    image = Image.open(io.BytesIO(response.content))
    assert image.width > 200 and image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0  # the corner outside the picture is transparent


@pytest.mark.parametrize(
    ("path", "status", "parameter"),
    [
        ("nonsense/max/0/default.jpg", 400, "region"),
        ("full/max/400/default.jpg", 400, "rotation"),
        ("full/max/0/sepia.jpg", 400, "quality"),
        ("full/max/0/default.tif", 501, "format"),
        ("2000,2000,10,10/max/0/default.jpg", 400, "region"),
        ("full/2000,/0/default.jpg", 400, "size"),
    ],
)
def test_bad_parameters_are_named_with_cors(
    client: TestClient, path: str, status: int, parameter: str
) -> None:
    response = client.get(f"/iiif/3/{IMAGE_ID}/{path}")
    assert response.status_code == status
    assert response.json()["error"]["parameter"] == parameter
    assert response.headers["access-control-allow-origin"] == "*"


def test_unknown_and_staff_only_images_are_not_found(client: TestClient) -> None:
    for identifier in ("c" * 32, STAFF_ID):
        for path in ("info.json", "full/max/0/default.jpg"):
            response = client.get(f"/iiif/3/{identifier}/{path}")
            assert response.status_code == 404, (identifier, path)
            assert response.headers["access-control-allow-origin"] == "*"


def test_rendered_images_are_cached_under_their_canonical_form(
    client: TestClient, seeded_settings: Settings
) -> None:
    cache = seeded_settings.data_dir / "cache" / "iiif"
    first = client.get(f"/iiif/3/{IMAGE_ID}/pct:0,0,50,50/max/0/default.jpg")
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert len(files) == 1
    # The same pixels asked another way share the entry.
    second = client.get(f"/iiif/3/{IMAGE_ID}/0,0,650,450/650,/0/default.jpg")
    assert second.content == first.content
    assert [p for p in cache.rglob("*") if p.is_file()] == files


def test_the_disk_cache_stays_within_its_bound(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, limit=10_000)
    for number in range(30):
        cache.put(f"key-{number}", bytes([number]) * 1000)
    total = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert total <= 10_000
    assert cache.get("key-29") == bytes([29]) * 1000  # the newest stays
    assert cache.get("key-0") is None  # the oldest went first
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]  # no half-written files


def test_repeated_public_tiles_are_replayed_until_the_lookup_expires(
    client: TestClient, seeded_settings: Settings
) -> None:
    path = f"/iiif/3/{IMAGE_ID}/512,0,512,512/512,512/0/default.jpg"
    first = client.get(path)
    tile = seeded_settings.data_dir / "derivatives" / IMAGE_ID / "v1" / "iiif" / "512,0,512,512"
    tile_file = tile / "512,512" / "0" / "default.jpg"
    # With the file gone and the app's own tile memory emptied, only the replay layer can
    # answer with the tile's bytes.
    tile_file.unlink()
    state = client.app.state  # type: ignore[attr-defined]
    state.iiif_tiles.items.clear()
    state.iiif_tiles.used = 0
    replayed = client.get(path)
    assert replayed.status_code == 200 and replayed.content == first.content
    for name in ("access-control-allow-origin", "link", "cache-control", "x-content-type-options"):
        assert replayed.headers[name] == first.headers[name], name
    head = client.head(path)
    assert head.status_code == 200 and head.content == b""
    # Once the lookup expires the app answers again: the file is gone, so it renders.
    state.iiif_lookups.ttl = 0.0
    state.iiif_lookups.items.clear()
    rendered = client.get(path)
    assert rendered.status_code == 200 and rendered.content != first.content


def test_a_due_lookup_is_renewed_by_one_request_while_the_rest_are_replayed(
    client: TestClient,
) -> None:
    """Under a steady stream of tiles the lookup never expires: when it is due, one request
    goes through the app (which looks the image up again) and the replay goes on."""
    path = f"/iiif/3/{IMAGE_ID}/0,0,512,512/512,512/0/default.jpg"
    lookups = client.app.state.iiif_lookups  # type: ignore[attr-defined]
    lookups.refresh_share = 0.0  # what the first request puts is due at once
    assert "content-language" in client.get(path).headers  # the app answered
    lookups.refresh_share = 0.7
    renewing = client.get(path)
    assert renewing.status_code == 200 and "content-language" in renewing.headers
    replayed = client.get(path)
    assert replayed.status_code == 200 and "content-language" not in replayed.headers
    assert replayed.content == renewing.content


def test_a_withdrawn_image_stops_being_served_within_the_lookup_time(
    client: TestClient, seeded_settings: Settings
) -> None:
    path = f"/iiif/3/{IMAGE_ID}/0,0,512,512/512,512/0/default.jpg"
    state = client.app.state  # type: ignore[attr-defined]
    state.iiif_lookups.ttl = 0.3
    assert client.get(path).status_code == 200
    db = Database(seeded_settings.resolved_database_url)

    def withdraw(session: Session) -> None:
        asset = session.get(Asset, IMAGE_ID)
        assert asset is not None
        asset.access_level = "staff"

    db.call(withdraw, write=True)
    db.dispose()
    time.sleep(0.4)
    assert client.get(path).status_code == 404
    assert client.get(f"/iiif/3/{IMAGE_ID}/info.json").status_code == 404


def test_known_images_are_rendered_before_routing_with_the_same_answer(
    client: TestClient,
) -> None:
    path = f"/iiif/3/{IMAGE_ID}/100,100,300,300/150,/0/default.jpg"
    through_app = client.get(path)  # the first request looks the image up in the catalog
    assert "content-language" in through_app.headers  # the app's middleware ran
    fast = client.get(path)
    assert "content-language" not in fast.headers  # answered before the middleware
    assert fast.content == through_app.content
    for name in ("content-type", "access-control-allow-origin", "link", "x-content-type-options"):
        assert fast.headers[name] == through_app.headers[name], name
    # Errors still come from the app, translated and naming the parameter.
    bad = client.get(f"/iiif/3/{IMAGE_ID}/100,100,300,300/150,/0/sepia.jpg")
    assert bad.status_code == 400 and bad.json()["error"]["parameter"] == "quality"
