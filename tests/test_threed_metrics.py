"""Geometric error metrics, checked against geometry whose answer is known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

from processing.threed.metrics import point_distance, sample_surface, surface_distance
from processing.threed.model import ModelError

KEYS = {"hausdorff_pct", "rms_pct", "mean_pct", "hausdorff", "rms", "mean"}
SAMPLES = 50_000  # enough for these shapes, and fast


def unit_cube() -> tuple[np.ndarray, np.ndarray]:
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    return np.asarray(box.vertices, np.float64), np.asarray(box.faces, np.uint32)


def grid_plane(size: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """A flat (size x size)-vertex grid over the unit square in z = 0."""
    xs, ys = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size))
    vertices = np.stack([xs.ravel(), ys.ravel(), np.zeros(size * size)], 1)
    faces = []
    for row in range(size - 1):
        for col in range(size - 1):
            a = row * size + col
            faces += [(a, a + 1, a + size + 1), (a, a + size + 1, a + size)]
    return vertices, np.asarray(faces, np.uint32)


def test_identical_meshes_are_zero_apart() -> None:
    cube = unit_cube()
    result = surface_distance(cube, cube, samples=SAMPLES)
    assert set(result) == KEYS
    # Zero up to float32 rounding (distances are computed in float32).
    assert all(result[key] < 1e-6 for key in ("hausdorff", "rms", "mean"))
    assert all(result[key] < 1e-4 for key in ("hausdorff_pct", "rms_pct", "mean_pct"))


def test_offset_cube_hausdorff_is_the_offset_and_pct_uses_the_diagonal() -> None:
    vertices, faces = unit_cube()
    moved = (vertices + np.array([0.01, 0.0, 0.0]), faces)
    result = surface_distance((vertices, faces), moved, samples=SAMPLES)
    assert result["hausdorff"] == pytest.approx(0.01, rel=1e-3)
    assert result["hausdorff_pct"] == pytest.approx(0.01 / math.sqrt(3) * 100, rel=1e-3)
    # Only the two faces across the offset are 0.01 away; the four sliding faces touch.
    assert 0.0 < result["mean"] < 0.01
    assert result["rms_pct"] == pytest.approx(result["rms"] / math.sqrt(3) * 100)
    # Area-weighted: about 2 of 6 faces (both directions) are 0.01 away, the rest ~0.
    assert result["mean"] == pytest.approx(0.01 / 3, rel=0.05)


def test_plane_with_one_raised_vertex_has_hausdorff_h() -> None:
    vertices, faces = grid_plane()
    raised = vertices.copy()
    centre = 5 * 11 + 5
    height = 0.05
    raised[centre, 2] = height
    result = surface_distance((vertices, faces), (raised, faces), samples=SAMPLES)
    assert result["hausdorff"] == pytest.approx(height, rel=1e-3)
    # Only the six triangles around the vertex move: the mean is a small fraction of h.
    assert 0.0 < result["mean"] < height / 10


def circumradius(corners: np.ndarray) -> np.ndarray:
    a = np.linalg.norm(corners[:, 1] - corners[:, 2], axis=1)
    b = np.linalg.norm(corners[:, 0] - corners[:, 2], axis=1)
    c = np.linalg.norm(corners[:, 0] - corners[:, 1], axis=1)
    area = 0.5 * np.linalg.norm(
        np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1
    )
    radius: np.ndarray = a * b * c / (4 * area)
    return radius


def test_fine_sphere_vs_coarse_sphere_is_the_largest_sagitta() -> None:
    fine = trimesh.creation.icosphere(subdivisions=5)
    coarse = trimesh.creation.icosphere(subdivisions=2)
    # A flat triangle inscribed in the unit sphere lies 1 - sqrt(1 - R²) below it at its
    # centre (R its circumradius): the sagitta. The worst face sets the Hausdorff distance.
    sagitta = float((1 - np.sqrt(1 - circumradius(coarse.vertices[coarse.faces]) ** 2)).max())
    result = surface_distance((fine.vertices, fine.faces), (coarse.vertices, coarse.faces))
    assert result["hausdorff"] == pytest.approx(sagitta, rel=0.03)
    diagonal = float(np.linalg.norm(np.ptp(fine.vertices, axis=0)))
    assert result["hausdorff_pct"] == pytest.approx(result["hausdorff"] / diagonal * 100)
    assert result["mean"] < result["rms"] < result["hausdorff"]


def test_same_seed_gives_identical_numbers_and_the_seed_matters() -> None:
    vertices, faces = unit_cube()
    moved = (vertices + np.array([0.01, 0.02, 0.0]), faces)
    first = surface_distance((vertices, faces), moved, samples=SAMPLES, seed=7)
    again = surface_distance((vertices, faces), moved, samples=SAMPLES, seed=7)
    other = surface_distance((vertices, faces), moved, samples=SAMPLES, seed=8)
    assert first == again
    assert first["mean"] != other["mean"]


def test_samples_are_area_weighted_and_on_the_surface() -> None:
    # Two triangles: one has 9x the area of the other, so it should get ~90% of the points.
    vertices = np.array([[0, 0, 0], [3, 0, 0], [0, 3, 0], [10, 0, 0], [11, 0, 0], [10, 1, 0]])
    faces = np.array([[0, 1, 2], [3, 4, 5]], np.uint32)
    points = sample_surface(vertices.astype(float), faces, 20_000, np.random.default_rng(0))
    in_big = points[:, 0] < 5
    assert in_big.mean() == pytest.approx(0.9, abs=0.01)
    big = points[in_big]
    assert (big[:, 0] >= 0).all() and (big[:, 1] >= 0).all() and (big.sum(1) <= 3 + 1e-9).all()
    # Uniform inside: the centroid of the samples is the triangle's centroid.
    assert big[:, :2].mean(0) == pytest.approx([1.0, 1.0], abs=0.03)


def test_float32_precision_survives_georeferenced_coordinates() -> None:
    vertices, faces = unit_cube()
    far = vertices + np.array([500_000.0, 1_200_000.0, 30.0])  # UTM-like metres
    result = surface_distance((far, faces), (far + np.array([0.01, 0, 0]), faces), samples=SAMPLES)
    assert result["hausdorff"] == pytest.approx(0.01, rel=1e-3)


@pytest.mark.parametrize(
    ("mesh", "code"),
    [
        ((np.zeros((3, 3)), np.zeros((0, 3), np.uint32)), "empty_mesh"),
        ((np.eye(3), np.array([[0, 1, 5]], np.uint32)), "bad_mesh"),
        ((np.zeros((3, 3)), np.array([[0, 1, 2]], np.uint32)), "empty_mesh"),
        ((np.zeros((3, 2)), np.array([[0, 1, 2]], np.uint32)), "bad_mesh"),
    ],
)
def test_unusable_meshes_are_refused_with_a_reason(
    mesh: tuple[np.ndarray, np.ndarray], code: str
) -> None:
    with pytest.raises(ModelError) as caught:
        surface_distance(unit_cube(), mesh, samples=100)
    assert caught.value.code == code
    assert "candidate" in caught.value.reason


def test_point_clouds_shifted_by_d_are_d_apart() -> None:
    axis = np.arange(10) * 0.1
    grid = np.stack(np.meshgrid(axis, axis, axis), -1).reshape(-1, 3)
    result = point_distance(grid, grid + np.array([0.01, 0, 0]))
    assert result["hausdorff"] == pytest.approx(0.01)
    assert result["mean"] == pytest.approx(0.01)
    assert result["hausdorff_pct"] == pytest.approx(0.01 / (0.9 * math.sqrt(3)) * 100)
    assert point_distance(grid, grid)["hausdorff"] == 0.0


def test_point_cloud_decimation_error_is_one_sided_where_it_should_be() -> None:
    # Keeping every other point of a line: dropped points are one spacing from a kept
    # one, kept points are exactly on the reference. Over both sets the mean is s/3.
    spacing = 0.25
    line = np.stack([np.arange(200) * spacing, np.zeros(200), np.zeros(200)], 1)
    kept = line[::2]
    result = point_distance(line, kept)
    assert result["hausdorff"] == pytest.approx(spacing)
    assert result["mean"] == pytest.approx(spacing / 3)
    assert result["rms"] == pytest.approx(math.sqrt(100 * spacing**2 / 300))


def test_point_distance_subsamples_deterministically() -> None:
    rng = np.random.default_rng(1)
    cloud = rng.random((5000, 3))
    other = cloud + rng.normal(0, 0.001, cloud.shape)
    first = point_distance(cloud, other, samples=1000, seed=3)
    assert first == point_distance(cloud, other, samples=1000, seed=3)
    assert first != point_distance(cloud, other, samples=1000, seed=4)
    assert first["mean"] == pytest.approx(point_distance(cloud, other)["mean"], rel=0.1)


def test_empty_point_cloud_is_refused() -> None:
    with pytest.raises(ModelError) as caught:
        point_distance(np.zeros((0, 3)), np.zeros((5, 3)))
    assert caught.value.code == "empty_points"
