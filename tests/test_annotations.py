"""Annotations on 3D models: the table and its migration, the public API with access levels,
``museum annotations``, and the record page's viewer markup that points at them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from server.annotations import NewAnnotation, add_annotation
from server.app import create_app
from server.cli import main
from server.db import Database
from server.migrate import alembic_config, upgrade
from server.models import Annotation, Asset, Record
from server.settings import Settings
from tests.test_cli import run_museum

MODEL = "c" * 32  # a published scan on a public record
STAFF_MODEL = "d" * 32  # a scan only staff may see
HIDDEN_MODEL = "e" * 32  # a scan on a restricted record
IMAGE = "f" * 32
UNPUBLISHED = "0" * 31 + "1"
RECORD = "DL-ART-01"
TECHNICAL = {
    "pipeline": "3d",
    "kind": "mesh",
    "dimensions_mm": {"width": 212.4, "height": 301.0, "depth": 180.2},
    "lods": [
        {"name": n, "role": f"lod:{n}", "path": f"{n}.glb", "triangles": t, "points": 0, "bytes": b}
        for n, t, b in [
            ("high", 1_000_000, 9_800_000),
            ("web", 150_000, 1_900_000),
            ("thumb", 20_000, 310_000),
            ("preview", 5_000, 95_000),
        ]
    ],
    "model": "web.glb",
    "poster": "poster.jpg",
    "thumbnail": "thumbnail.jpg",
    "report": "report.json",
}


def _asset(asset_id: str, **fields: Any) -> Asset:
    values: dict[str, Any] = {
        "sha256": asset_id * 2,
        "size": 10,
        "filename": "scan.ply",
        "media_type": "model/x-ply",
        "kind": "model",
        "record_id": RECORD,
        "published_version": "3d-v1",
        "technical": TECHNICAL,
        **fields,
    }
    return Asset(id=asset_id, **values)


def add_models(db: Database) -> None:
    def build(session: Session) -> None:
        session.add(_asset(MODEL, label={"vi": "Mặt trước", "en": "Front"}))
        session.add(_asset(STAFF_MODEL, access_level="staff"))
        session.add(_asset(HIDDEN_MODEL, record_id="DL-ICH-07"))
        session.add(_asset(IMAGE, kind="image", media_type="image/jpeg", technical={}))
        session.add(_asset(UNPUBLISHED, published_version=None, technical={}))
        hidden = session.get(Record, "DL-ICH-07")
        assert hidden is not None
        hidden.access_level = "restricted"

    db.call(build, write=True)


def note(title: str, order: int | None = None, **fields: Any) -> NewAnnotation:
    return NewAnnotation(
        position=(0.0, 0.15, 0.09),
        title={"vi": title, "en": title.upper()},
        text={},
        sort_order=order,
        **fields,
    )


@pytest.fixture
def museum(seeded_settings: Settings) -> Iterator[Database]:
    db = Database(seeded_settings.resolved_database_url)
    add_models(db)
    yield db
    db.dispose()


@pytest.fixture
def api(seeded_settings: Settings, museum: Database) -> Iterator[TestClient]:
    with TestClient(create_app(seeded_settings)) as client:
        yield client


# The table


def test_the_migration_adds_the_table_and_takes_it_away(database_url: str) -> None:
    db = Database(database_url)
    try:
        upgrade(db, "0004")
        assert "annotations" not in inspect(db.engine).get_table_names()
        upgrade(db)
        columns = {c["name"] for c in inspect(db.engine).get_columns("annotations")}
        assert {"asset_id", "x", "y", "z", "normal_x", "title", "text", "media_url"} <= columns
        assert {"sort_order", "created_at", "updated_at"} <= columns
        config = alembic_config()
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0004")
        assert "annotations" not in inspect(db.engine).get_table_names()
    finally:
        db.dispose()


def test_annotations_go_with_their_model(database_url: str) -> None:
    from server.catalog import import_catalog_file
    from tests.conftest import SEED_CATALOG

    db = Database(database_url)
    try:
        upgrade(db)
        db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
        add_models(db)
        db.call(lambda session: add_annotation(session, MODEL, note("Một")), write=True)
        db.call(lambda session: session.delete(session.get(Asset, MODEL)), write=True)
        assert db.call(lambda session: session.scalars(select(Annotation)).all()) == []
    finally:
        db.dispose()


def test_a_new_annotation_goes_after_the_others_unless_placed(museum: Database) -> None:
    def build(session: Session) -> list[int]:
        rows = [
            add_annotation(session, MODEL, note("Hai")),
            add_annotation(session, MODEL, note("Ba")),
            add_annotation(session, MODEL, note("Một", order=0)),
        ]
        return [row.sort_order for row in rows]

    assert museum.call(build, write=True) == [0, 1, 0]


# The public API


def test_the_api_lists_a_models_annotations_in_order(api: TestClient, museum: Database) -> None:
    def build(session: Session) -> None:
        add_annotation(session, MODEL, note("Hai", order=5))
        add_annotation(
            session,
            MODEL,
            note("Một", order=1, normal=(0.0, 1.0, 0.0), media_url="/items/DL-ART-01"),
        )

    museum.call(build, write=True)
    response = api.get(f"/api/v1/media/{MODEL}/annotations", headers={"origin": "https://x.org"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    body = response.json()
    assert body["asset_id"] == MODEL and body["units"] == "m"
    first, second = body["items"]
    assert [first["number"], second["number"]] == [1, 2]
    assert first["title"] == {"vi": "Một", "en": "MỘT"}
    assert first["position"] == [0.0, 0.15, 0.09]
    assert first["normal"] == [0.0, 1.0, 0.0] and second["normal"] is None
    assert first["media_url"] == "/items/DL-ART-01" and second["media_url"] is None
    again = api.get(
        f"/api/v1/media/{MODEL}/annotations", headers={"if-none-match": response.headers["etag"]}
    )
    assert again.status_code == 304


def test_a_model_without_annotations_has_an_empty_list(api: TestClient) -> None:
    response = api.get(f"/api/v1/media/{MODEL}/annotations")
    assert response.json()["items"] == []


@pytest.mark.parametrize("asset_id", [STAFF_MODEL, HIDDEN_MODEL, "9" * 32, "no-such-thing"])
def test_the_api_hides_what_the_visitor_may_not_see(
    api: TestClient, museum: Database, asset_id: str
) -> None:
    if asset_id in (STAFF_MODEL, HIDDEN_MODEL):
        museum.call(lambda s: add_annotation(s, asset_id, note("Bí mật")), write=True)
    response = api.get(f"/api/v1/media/{asset_id}/annotations?lang=en")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["parameter"] == "asset_id"
    assert error["message"] == f"No media with id {asset_id}."
    assert "Bí mật" not in response.text


# museum annotations


def cli(settings: Settings, *args: str) -> Any:
    """The command in-process (fast), as a Vietnamese-speaking curator runs it."""
    env = {"MUSEUM_DATA_DIR": str(settings.data_dir), "MUSEUM_LANGUAGE": "vi"}
    return CliRunner().invoke(main, ["annotations", *args], env=env)


def test_add_list_and_remove_on_the_command_line(tmp_path: Path, museum: Database) -> None:
    env = {"MUSEUM_LANGUAGE": "en"}
    added = run_museum(
        tmp_path,
        *("annotations", "add", MODEL, "--x", "0,05", "--y", "0.3", "--z", "-0.09"),
        *("--title-vi", "Núm chiêng", "--title-en", "Gong boss"),
        *("--text-vi", "Chỗ dùi đánh vào", "--media", "https://example.org/gong"),
        env=env,
    )
    assert added.returncode == 0, added.stderr
    annotation_id = int(added.stdout)
    assert f"Annotation {annotation_id} added" in added.stderr
    row = museum.call(lambda s: s.get(Annotation, annotation_id))
    assert row is not None
    assert (row.x, row.y, row.z) == (0.05, 0.3, -0.09)
    assert row.text == {"vi": "Chỗ dùi đánh vào"}
    listed = run_museum(tmp_path, "annotations", "list", MODEL, env=env)
    assert listed.stdout.split("\t") == [
        str(annotation_id),
        "1",
        "0.05 0.3 -0.09",
        "Núm chiêng",
        "Gong boss",
        "https://example.org/gong\n",
    ]
    removed = run_museum(tmp_path, "annotations", "remove", str(annotation_id), env=env)
    assert removed.returncode == 0 and f"Annotation {annotation_id} removed." in removed.stderr
    empty = run_museum(tmp_path, "annotations", "list", MODEL, env=env)
    assert empty.stdout == "" and "has no annotations" in empty.stderr
    again = run_museum(tmp_path, "annotations", "remove", str(annotation_id), env=env)
    assert again.returncode == 1
    assert f"No annotation with id {annotation_id}." in again.stderr


GOOD = ["--x", "0", "--y", "0.1", "--z", "0", "--title-vi", "Một", "--title-en", "One"]


def _with(option: str, *values: str) -> list[str]:
    """GOOD with one option's value replaced (or the option added)."""
    args = list(GOOD)
    if option in args:
        args[args.index(option) + 1] = values[0]
        return args
    return [*args, option, *values]


@pytest.mark.parametrize(
    ("asset_id", "args", "message"),
    [
        (MODEL, _with("--x", "abc"), "--x phải là một số, ví dụ 0.12 (mét), không phải “abc”."),
        (MODEL, _with("--y", "nan"), "--y phải là một số"),
        (MODEL, _with("--x", "150"), "--x 150 nằm ngoài mô hình, vốn trải từ -0.1062 đến 0.1062"),
        (MODEL, _with("--y", "-0.2"), "--y -0.2 nằm ngoài mô hình"),
        (MODEL, _with("--title-en", "  "), "--title-en đang trống"),
        (MODEL, _with("--title-vi", "x" * 201), "--title-vi dài hơn 200 ký tự (201)."),
        (MODEL, _with("--media", "javascript:alert(1)"), "--media phải là một địa chỉ http"),
        (MODEL, _with("--media", "//evil.example/x"), "--media phải là một địa chỉ http"),
        (MODEL, _with("--media", "/\\evil.example/x"), "--media phải là một địa chỉ http"),
        (MODEL, _with("--normal", "0", "0", "0"), "--normal phải chỉ một hướng"),
        (MODEL, _with("--order", "-1"), "--order phải là một số nguyên từ 0 đến 100000"),
        ("9" * 32, GOOD, f"Không có tư liệu số nào mang mã {'9' * 32}."),
        (IMAGE, GOOD, f"Tư liệu {IMAGE} thuộc loại image, không phải mô hình 3D"),
    ],
)
def test_bad_input_is_refused_in_the_users_language_and_stores_nothing(
    seeded_settings: Settings, museum: Database, asset_id: str, args: list[str], message: str
) -> None:
    result = cli(seeded_settings, "add", asset_id, *args)
    assert result.exit_code == 1
    assert message in result.output
    assert museum.call(lambda s: s.scalars(select(Annotation)).all()) == []


def test_remove_needs_an_annotation_id(seeded_settings: Settings, museum: Database) -> None:
    result = cli(seeded_settings, "remove", "abc")
    assert result.exit_code == 1
    assert "ANNOTATION_ID phải là mã của một chú thích" in result.output


def test_a_point_on_a_model_not_yet_processed_is_taken_as_given(
    seeded_settings: Settings, museum: Database
) -> None:
    # No size is known before processing, so there is nothing to check the point against.
    result = cli(seeded_settings, "add", UNPUBLISHED, *_with("--x", "150"))
    assert result.exit_code == 0, result.output
    assert museum.call(lambda s: s.scalars(select(Annotation.x)).all()) == [150.0]


# The record page


def test_the_record_page_hands_the_viewer_its_levels_size_and_annotations(
    api: TestClient,
) -> None:
    page = api.get(f"/items/{RECORD}?lang=vi").text
    figures = re.findall(r'<figure class="model-viewer".*?</figure>', page, re.S)
    assert len(figures) == 1  # the public, published model only
    figure = figures[0]
    lods = re.search(r'data-lods="([^"]*)"', figure)
    assert lods is not None
    names = re.findall(r"&#34;name&#34;:&#34;(\w+)&#34;", lods.group(1))
    assert names == ["preview", "thumb", "web", "high"]  # smallest first
    assert f"/media/{MODEL}/3d-v1/preview.glb" in lods.group(1)
    assert f'data-annotations="/api/v1/media/{MODEL}/annotations"' in figure
    assert 'alt="Mặt trước, mô hình 3D"' in figure
    assert f'src="/media/{MODEL}/3d-v1/poster.jpg"' in figure
    assert "212,4 × 301 × 180,2 mm" in figure  # Vietnamese decimals
    assert 'data-reset="Đặt lại góc nhìn"' in figure
    assert f'href="/media/{MODEL}/3d-v1/web.glb" download' in figure
    english = api.get(f"/items/{RECORD}?lang=en").text
    assert "212.4 × 301 × 180.2 mm" in english and 'data-reset="Reset view"' in english


def test_a_page_without_a_model_loads_no_viewer(api: TestClient) -> None:
    page = api.get("/items/DL-ICH-02?lang=vi").text
    assert 'data-island="model-viewer"' not in page
    assert "model-viewer-" not in page  # the bundle is named only where a model is shown
