"""Units, up axis and placement (processing.threed.normalize) on generated boxes."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import trimesh

from processing.threed.model import Model, ModelError, Part
from processing.threed.normalize import bounding_diagonal, normalize


def box_model(extents: tuple[float, float, float], offset: tuple[float, float, float]) -> Model:
    box: trimesh.Trimesh = trimesh.creation.box(extents=extents)
    box.apply_translation(offset)
    return Model(
        [Part(vertices=np.array(box.vertices), faces=np.asarray(box.faces, dtype=np.uint32))]
    )


def test_z_up_millimetre_box_becomes_y_up_metres_on_the_ground() -> None:
    model = box_model((100, 200, 300), (1000, -500, 42))  # x 100 mm, y 200 mm, z 300 mm
    placed, info = normalize(model, "mm", "z")
    low, high = placed.bounds()
    np.testing.assert_allclose(high - low, [0.1, 0.3, 0.2], atol=1e-12)
    assert low[1] == pytest.approx(0.0, abs=1e-12)
    assert (low[0] + high[0]) / 2 == pytest.approx(0.0, abs=1e-12)
    assert (low[2] + high[2]) / 2 == pytest.approx(0.0, abs=1e-12)
    assert info["scale"] == 0.001
    assert info["rotation"] == "z-up→y-up"
    assert info["dimensions_mm"] == {"width": 100.0, "height": 300.0, "depth": 200.0}
    np.testing.assert_allclose(info["bounding_box_m"], [low, high], atol=1e-12)
    # The translation is what was added after scaling and rotating the source.
    source = model.parts[0].vertices * 0.001
    turned = np.column_stack([source[:, 0], source[:, 2], -source[:, 1]])
    np.testing.assert_allclose(placed.parts[0].vertices, turned + info["translation"])


def test_y_up_input_is_only_translated() -> None:
    model = box_model((0.5, 1.5, 0.25), (3, 2, 1))
    placed, info = normalize(model, "m", "y")
    assert info["rotation"] == "none" and info["scale"] == 1.0
    np.testing.assert_allclose(info["translation"], [-3, -(2 - 0.75), -1])
    np.testing.assert_allclose(
        placed.parts[0].vertices, model.parts[0].vertices + info["translation"]
    )
    assert info["dimensions_mm"] == {"width": 500.0, "height": 1500.0, "depth": 250.0}


def test_centimetres_scale_by_a_hundredth() -> None:
    placed, info = normalize(box_model((10, 20, 30), (0, 0, 0)), "cm", "y")
    assert info["scale"] == 0.01
    low, high = placed.bounds()
    np.testing.assert_allclose(high - low, [0.1, 0.2, 0.3])


def test_normals_turn_with_the_geometry() -> None:
    # A counter-clockwise triangle in the xy plane faces +z: "up" in a Z-up file.
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float64)
    normals = np.tile(np.array([0, 0, 1], dtype=np.float32), (3, 1))
    normals[1] = (0, 1, 0)  # one pointing +y (away from the viewer in Z-up)
    part = Part(vertices=vertices, faces=np.array([[0, 1, 2]], np.uint32), normals=normals)
    placed, _ = normalize(Model([part]), "m", "z")
    out = placed.parts[0]
    assert out.normals is not None and out.normals.dtype == np.float32
    np.testing.assert_allclose(out.normals[[0, 2]], [[0, 1, 0], [0, 1, 0]], atol=1e-7)
    np.testing.assert_allclose(out.normals[1], [0, 0, -1], atol=1e-7)
    # The winding normal agrees: the rotation is proper, not a mirror.
    a, b, c = out.vertices
    winding = np.cross(b - a, c - a)
    np.testing.assert_allclose(winding / np.linalg.norm(winding), [0, 1, 0], atol=1e-12)


def test_several_parts_share_one_placement() -> None:
    first = box_model((1, 1, 1), (0, 0, 0)).parts[0]
    second = box_model((1, 1, 1), (4, 2, 0)).parts[0]
    placed, info = normalize(Model([first, second]), "m", "y")
    np.testing.assert_allclose(info["translation"], [-2, 0.5, 0])
    np.testing.assert_allclose(placed.parts[1].vertices, second.vertices + np.array([-2, 0.5, 0]))
    assert info["dimensions_mm"] == {"width": 5000.0, "height": 3000.0, "depth": 1000.0}


def test_input_is_not_modified_and_point_clouds_work() -> None:
    points = np.random.default_rng(2).normal(size=(50, 3)) * 100
    colours = np.full((50, 4), 9, dtype=np.uint8)
    model = Model([Part(vertices=points, colors=colours)])
    snapshot = copy.deepcopy(model)
    placed, _ = normalize(model, "mm", "z")
    np.testing.assert_array_equal(model.parts[0].vertices, snapshot.parts[0].vertices)
    assert placed.parts[0].is_points
    assert placed.bounds()[0][1] == pytest.approx(0.0, abs=1e-12)
    assert placed.parts[0].colors is not None
    np.testing.assert_array_equal(placed.parts[0].colors, colours)


@pytest.mark.parametrize(("units", "up"), [("inch", "y"), ("mm", "x"), ("M", "y")])
def test_invalid_units_or_axis_are_refused(units: str, up: str) -> None:
    with pytest.raises(ModelError) as caught:
        normalize(box_model((1, 1, 1), (0, 0, 0)), units, up)
    assert caught.value.code == "invalid_parameter"
    assert repr(units if units != "mm" else up) in caught.value.reason


def test_model_without_vertices_is_refused() -> None:
    with pytest.raises(ModelError) as caught:
        normalize(Model([Part(vertices=np.zeros((0, 3)))]), "m", "y")
    assert caught.value.code == "empty_model"


def test_bounding_diagonal() -> None:
    model = box_model((3, 4, 12), (100, 0, 0))
    assert bounding_diagonal(model) == pytest.approx(13.0)
    model.parts[0].vertices = np.vstack([model.parts[0].vertices, [[np.nan, 0, 0]]])
    assert bounding_diagonal(model) == pytest.approx(13.0)
    assert bounding_diagonal(Model([])) == 0.0
