"""Mesh and point-cloud cleaning (processing.threed.clean) on small generated meshes.

Each test builds its mesh in code, so the expected counts are known exactly.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import numpy.typing as npt
import pytest
import trimesh

from processing.threed.clean import STAT_KEYS, clean_model
from processing.threed.model import Model, ModelError, Part
from tests.conftest import CORPUS

SQUARE = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=np.float64)


def soup(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every face gets its own three vertices, as in an STL file."""
    corners = vertices[faces.reshape(-1)]
    return corners, np.arange(len(corners), dtype=np.uint32).reshape(-1, 3)


def mesh(vertices: npt.ArrayLike, faces: npt.ArrayLike, **attributes: object) -> Model:
    return Model(
        [
            Part(
                vertices=np.asarray(vertices, dtype=np.float64),
                faces=np.asarray(faces, dtype=np.uint32),
                **attributes,  # type: ignore[arg-type]
            )
        ]
    )


def sphere(subdivisions: int = 3) -> trimesh.Trimesh:
    """A unit icosphere centred on the origin (closed, wound outwards)."""
    ball: trimesh.Trimesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=1.0)
    return ball


def corner_positions(part: Part) -> np.ndarray:
    """(faces, 3, 3) positions of every face's corners."""
    assert part.faces is not None
    return part.vertices[part.faces.astype(np.int64)]


def face_set(part: Part) -> set[tuple[tuple[float, ...], ...]]:
    """Faces as sets of corner positions, independent of indexing and winding."""
    return {
        tuple(sorted(tuple(float(c) for c in corner) for corner in face))
        for face in corner_positions(part)
    }


def directed_edges_unique(part: Part) -> bool:
    """True when no directed edge (by position) occurs twice: consistent winding."""
    tm = trimesh.Trimesh(part.vertices, part.faces, process=False)
    tm.merge_vertices(merge_tex=True, merge_norm=True)
    edges = tm.faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    return bool(len(np.unique(edges, axis=0)) == len(edges))


def outward(part: Part, centre: np.ndarray) -> np.ndarray:
    """Per face: does its winding normal point away from ``centre``?"""
    corners = corner_positions(part)
    normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    facing: np.ndarray = np.einsum("ij,ij->i", normal, corners.mean(axis=1) - centre) > 0
    return facing


def check_bookkeeping(before: Model, after: Model, stats: dict[str, int]) -> None:
    """Every removed vertex and face is accounted for by exactly one counter."""
    assert set(stats) == set(STAT_KEYS)
    assert stats["vertices_before"] == before.vertex_count
    assert stats["faces_before"] == before.triangle_count
    assert stats["vertices_after"] == after.vertex_count
    assert stats["faces_after"] == after.triangle_count
    assert stats["vertices_after"] == stats["vertices_before"] - (
        stats["merged_vertices"]
        + stats["unreferenced_vertices"]
        + stats["duplicate_points"]
        + stats["nonfinite_points"]
    )
    assert stats["faces_after"] == stats["faces_before"] - (
        stats["degenerate_faces"] + stats["duplicate_faces"] + stats["debris_faces"]
    )


# ---------------------------------------------------------------- vertex merging


def test_two_triangles_given_as_six_vertices_merge_to_four() -> None:
    vertices, faces = soup(SQUARE, np.array([[0, 1, 2], [0, 2, 3]]))
    model = mesh(vertices, faces)
    cleaned, stats = clean_model(model, 0.01)
    part = cleaned.parts[0]
    assert len(part.vertices) == 4
    assert stats["merged_vertices"] == 2
    assert part.faces is not None and part.faces.dtype == np.uint32
    # The two faces now share an edge: exactly two vertex indices in common.
    assert len(set(part.faces[0]) & set(part.faces[1])) == 2
    assert face_set(part) == face_set(model.parts[0])
    check_bookkeeping(model, cleaned, stats)


def test_uv_seam_stays_split_but_matching_uvs_merge() -> None:
    vertices, faces = soup(SQUARE, np.array([[0, 1, 2], [0, 2, 3]]))
    # Corners 0 and 3 (square vertex 0) and 2 and 4 (square vertex 2) sit at the
    # same positions; give the second triangle its own UV island.
    seam_uv = np.array(
        [[0, 0], [0.5, 0], [0.5, 0.5], [0.6, 0.6], [1, 1], [0.6, 1]], dtype=np.float32
    )
    cleaned, stats = clean_model(mesh(vertices, faces, uv=seam_uv), 0.01)
    assert len(cleaned.parts[0].vertices) == 6
    assert stats["merged_vertices"] == 0

    shared_uv = (vertices[:, :2] * 0.5).astype(np.float32)
    cleaned, stats = clean_model(mesh(vertices, faces, uv=shared_uv), 0.01)
    assert len(cleaned.parts[0].vertices) == 4
    assert stats["merged_vertices"] == 2
    assert cleaned.parts[0].uv is not None
    np.testing.assert_allclose(cleaned.parts[0].uv, cleaned.parts[0].vertices[:, :2] * 0.5)


def test_colour_and_normal_differences_keep_vertices_apart() -> None:
    vertices, faces = soup(SQUARE, np.array([[0, 1, 2], [0, 2, 3]]))
    colours = np.full((6, 4), 200, dtype=np.uint8)
    colours[3] = (10, 20, 30, 255)  # square vertex 0 in the second triangle: another colour
    cleaned, stats = clean_model(mesh(vertices, faces, colors=colours), 0.01)
    assert len(cleaned.parts[0].vertices) == 5 and stats["merged_vertices"] == 1

    normals = np.tile(np.array([0, 0, 1], dtype=np.float32), (6, 1))
    normals[4] = (0, 0.6, 0.8)  # a hard edge at square vertex 2
    normals[5] += np.float32(1e-6)  # a rounding difference merges
    cleaned, stats = clean_model(mesh(vertices, faces, normals=normals), 0.01)
    assert len(cleaned.parts[0].vertices) == 5 and stats["merged_vertices"] == 1


# ---------------------------------------------------------------- bad faces


def test_degenerate_and_duplicate_faces_are_removed_and_counted() -> None:
    vertices = np.vstack([SQUARE, [[2, 0, 0], [3, 0, 0], [4, 0, 0]]])
    faces = np.array(
        [
            [0, 1, 2],  # kept
            [0, 2, 3],  # kept
            [0, 0, 1],  # repeated index
            [4, 5, 6],  # collinear, zero area
            [1, 2, 0],  # duplicate of face 0, rotated
            [3, 2, 0],  # duplicate of face 1, reversed
            [0, 1, 2],  # duplicate of face 0, identical
        ]
    )
    model = mesh(vertices, faces)
    cleaned, stats = clean_model(model, 0.0)
    part = cleaned.parts[0]
    assert stats["degenerate_faces"] == 2
    assert stats["duplicate_faces"] == 3
    assert stats["unreferenced_vertices"] == 3  # the collinear vertices
    np.testing.assert_array_equal(part.faces, [[0, 1, 2], [0, 2, 3]])
    np.testing.assert_array_equal(part.vertices, SQUARE)
    check_bookkeeping(model, cleaned, stats)


def test_face_made_degenerate_by_merging_is_removed() -> None:
    # Vertices 3 and 0 are the same point, so face (0, 1, 3) has no area once merged.
    vertices = np.vstack([SQUARE[:3], SQUARE[:1]])
    cleaned, stats = clean_model(mesh(vertices, [[0, 1, 2], [0, 1, 3]]), 0.0)
    assert stats["merged_vertices"] == 1 and stats["degenerate_faces"] == 1
    assert cleaned.triangle_count == 1


def test_non_finite_vertex_drops_its_faces() -> None:
    vertices = np.vstack([SQUARE, [[np.nan, 0, 0], [np.inf, 0, 0]]])
    model = mesh(vertices, [[0, 1, 2], [0, 2, 3], [0, 1, 4], [1, 2, 5]])
    cleaned, stats = clean_model(model, 0.0)
    assert stats["degenerate_faces"] == 2 and stats["unreferenced_vertices"] == 2
    assert np.isfinite(cleaned.parts[0].vertices).all()
    check_bookkeeping(model, cleaned, stats)


# ---------------------------------------------------------------- debris


def debris_model() -> tuple[Model, trimesh.Trimesh]:
    ball = sphere(3)  # 1280 faces
    specks = np.array([[5, 5, 5], [5.01, 5, 5], [5, 5.01, 5]], dtype=np.float64)
    vertices = [ball.vertices] + [specks + offset for offset in ([0, 0, 0], [1, 0, 0], [0, 2, 0])]
    faces = [ball.faces] + [
        np.array([[0, 1, 2]]) + len(ball.vertices) + 3 * index for index in range(3)
    ]
    return mesh(np.vstack(vertices), np.vstack(faces)), ball


def test_small_floating_components_are_removed() -> None:
    model, ball = debris_model()
    cleaned, stats = clean_model(model, 0.01)
    part = cleaned.parts[0]
    assert stats["debris_components"] == 3 and stats["debris_faces"] == 3
    assert part.triangle_count == len(ball.faces)
    assert len(part.vertices) == len(ball.vertices)
    np.testing.assert_array_equal(part.vertices, ball.vertices)
    check_bookkeeping(model, cleaned, stats)


def test_debris_fraction_zero_keeps_everything() -> None:
    model, ball = debris_model()
    cleaned, stats = clean_model(model, 0.0)
    assert stats["debris_components"] == 0 and stats["debris_faces"] == 0
    assert cleaned.triangle_count == len(ball.faces) + 3


def test_largest_component_is_never_debris() -> None:
    tetra = trimesh.creation.box().vertices[[0, 3, 5, 6]]  # four corners of a cube
    lone = np.array([[9, 9, 9], [9.1, 9, 9], [9, 9.1, 9]])
    faces = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2], [4, 5, 6]])
    cleaned, stats = clean_model(mesh(np.vstack([tetra, lone]), faces), 0.99)
    assert stats["debris_components"] == 1 and stats["debris_faces"] == 1
    assert cleaned.triangle_count == 4


def test_uv_seams_do_not_split_a_component() -> None:
    # A cube with its own UVs per side: 24 vertices, six index-connected islands
    # of two faces each, but one object by position.
    box = trimesh.creation.box()
    vertices, faces = soup(box.vertices, box.faces)
    uv = np.repeat(np.arange(12, dtype=np.float32), 3)[:, None] * np.array([[0.05, 0.0]]) + (
        np.tile(np.array([[0, 0], [0.02, 0], [0, 0.02]], dtype=np.float32), (12, 1))
    )
    uv = uv.astype(np.float32)
    cleaned, stats = clean_model(mesh(vertices, faces, uv=uv), 0.5)
    assert stats["debris_faces"] == 0
    assert cleaned.triangle_count == 12


# ---------------------------------------------------------------- unreferenced vertices


def test_unreferenced_vertices_go_and_attributes_follow() -> None:
    vertices = np.array(
        [[9, 9, 9], [0, 0, 0], [8, 8, 8], [1, 0, 0], [0, 1, 0], [7, 7, 7]], dtype=np.float64
    )
    colours = np.array([[i * 40, 255 - i * 40, i, 255] for i in range(6)], dtype=np.uint8)
    uv = np.array([[i / 10, 1 - i / 10] for i in range(6)], dtype=np.float32)
    model = mesh(vertices, [[1, 3, 4]], colors=colours, uv=uv)
    cleaned, stats = clean_model(model, 0.0)
    part = cleaned.parts[0]
    assert stats["unreferenced_vertices"] == 3
    assert len(part.vertices) == 3
    assert part.colors is not None and part.uv is not None
    for original in (1, 3, 4):
        (row,) = np.flatnonzero((part.vertices == vertices[original]).all(axis=1))
        np.testing.assert_array_equal(part.colors[row], colours[original])
        np.testing.assert_array_equal(part.uv[row], uv[original])
    assert part.faces is not None
    np.testing.assert_array_equal(part.vertices[part.faces[0]], vertices[[1, 3, 4]])


# ---------------------------------------------------------------- winding


def flipped_sphere(fraction: float, seed: int = 7) -> tuple[Model, np.ndarray]:
    ball = sphere(3)
    flip = np.random.default_rng(seed).random(len(ball.faces)) < fraction
    faces = np.where(flip[:, None], ball.faces[:, ::-1], ball.faces)
    return mesh(ball.vertices, faces), flip


def test_partly_flipped_sphere_comes_back_consistent_and_outward() -> None:
    model, flip = flipped_sphere(0.1)
    assert 0 < flip.sum() < len(flip)
    assert not directed_edges_unique(model.parts[0])
    cleaned, stats = clean_model(model, 0.01)
    part = cleaned.parts[0]
    assert directed_edges_unique(part)
    assert outward(part, np.zeros(3)).all()
    assert stats["flipped_faces"] == int(flip.sum())


def test_inside_out_sphere_is_turned_outward() -> None:
    ball = sphere(2)
    cleaned, stats = clean_model(mesh(ball.vertices, ball.faces[:, ::-1]), 0.01)
    assert outward(cleaned.parts[0], np.zeros(3)).all()
    assert stats["flipped_faces"] == len(ball.faces)


def test_open_surface_keeps_its_majority_winding() -> None:
    # A hemisphere has no inside, so no side is "right": the majority wins.
    ball = sphere(3)
    upper = ball.faces[ball.vertices[ball.faces].mean(axis=1)[:, 2] > 0.05]
    flip = np.zeros(len(upper), dtype=bool)
    flip[::7] = True
    faces = np.where(flip[:, None], upper[:, ::-1], upper)
    cleaned, stats = clean_model(mesh(ball.vertices, faces), 0.0)
    assert stats["flipped_faces"] == int(flip.sum())
    assert outward(cleaned.parts[0], np.zeros(3)).all()


def test_winding_is_made_consistent_across_parts() -> None:
    # One sphere split into two materials; the second was exported inside out.
    ball = sphere(3)
    top = ball.vertices[ball.faces].mean(axis=1)[:, 2] > 0.3
    parts = [
        Part(vertices=ball.vertices.copy(), faces=ball.faces[top].astype(np.uint32)),
        Part(vertices=ball.vertices.copy(), faces=ball.faces[~top][:, ::-1].astype(np.uint32)),
    ]
    model = Model(parts)
    cleaned, stats = clean_model(model, 0.01)
    assert stats["flipped_faces"] == int((~top).sum())
    assert stats["debris_faces"] == 0
    for part in cleaned.parts:
        assert outward(part, np.zeros(3)).all()
    check_bookkeeping(model, cleaned, stats)


def test_normals_kept_when_nothing_flips_and_dropped_when_faces_flip() -> None:
    ball = sphere(2)
    normals = (ball.vertices * 3).astype(np.float32)  # not unit length
    normals[5] = np.nan
    cleaned, _ = clean_model(mesh(ball.vertices, ball.faces, normals=normals), 0.01)
    kept = cleaned.parts[0].normals
    assert kept is not None
    np.testing.assert_allclose(np.linalg.norm(kept, axis=1), 1.0, rtol=1e-5)
    # The broken normal is recomputed from the faces around it: it points out.
    assert float(kept[5] @ ball.vertices[5]) > 0.95

    model, _ = flipped_sphere(0.1)
    model.parts[0].normals = ball_normals = sphere(3).vertex_normals.astype(np.float32)
    cleaned, stats = clean_model(model, 0.01)
    assert stats["flipped_faces"] > 0
    assert cleaned.parts[0].normals is None
    assert model.parts[0].normals is ball_normals


# ---------------------------------------------------------------- points, errors, purity


def test_point_cloud_loses_non_finite_and_duplicate_points() -> None:
    points = np.array(
        [[0, 0, 0], [1, 2, 3], [np.nan, 0, 0], [1, 2, 3], [-0.0, 0, 0], [4, 5, 6], [0, np.inf, 1]]
    )
    colours = np.arange(28, dtype=np.uint8).reshape(7, 4)
    model = Model([Part(vertices=points, colors=colours)])
    cleaned, stats = clean_model(model, 0.01)
    part = cleaned.parts[0]
    assert part.is_points
    assert stats["nonfinite_points"] == 2 and stats["duplicate_points"] == 2
    np.testing.assert_array_equal(part.vertices, [[0, 0, 0], [1, 2, 3], [4, 5, 6]])
    assert part.colors is not None
    np.testing.assert_array_equal(part.colors, colours[[0, 1, 5]])
    check_bookkeeping(model, cleaned, stats)


def test_input_model_is_not_modified() -> None:
    ball = sphere(3)
    flip = np.random.default_rng(5).random(len(ball.faces)) < 0.2
    speck = np.array([[9, 9, 9], [9.1, 9, 9], [9, 9.1, 9]])
    vertices = np.vstack([ball.vertices, speck])
    n = len(vertices)
    speck_face = np.arange(n - 3, n)[None]
    body = np.where(flip[:, None], ball.faces[:, ::-1], ball.faces)
    faces = np.vstack([body, speck_face, speck_face, [[0, 0, 1]]]).astype(np.uint32)
    part = Part(
        vertices=vertices,
        faces=faces,
        uv=np.zeros((n, 2), dtype=np.float32),
        colors=np.full((n, 4), 255, dtype=np.uint8),
        normals=(vertices * 2).astype(np.float32),
    )
    model = Model([part], warnings=["from the reader"])
    snapshot = copy.deepcopy(model)
    cleaned, stats = clean_model(model, 0.01)
    assert stats["flipped_faces"] and stats["debris_faces"] and stats["duplicate_faces"]
    assert stats["degenerate_faces"] and stats["unreferenced_vertices"]
    for name in ("vertices", "faces", "uv", "colors", "normals"):
        np.testing.assert_array_equal(getattr(part, name), getattr(snapshot.parts[0], name))
        out = getattr(cleaned.parts[0], name)
        assert out is None or not np.shares_memory(out, getattr(part, name))
    assert model.warnings == ["from the reader"]


@pytest.mark.parametrize("fraction", [-0.1, 1.0, float("nan")])
def test_bad_debris_fraction_is_refused(fraction: float) -> None:
    with pytest.raises(ModelError) as caught:
        clean_model(mesh(SQUARE, [[0, 1, 2]]), fraction)
    assert caught.value.code == "invalid_parameter"


def test_face_index_past_the_vertices_is_refused() -> None:
    with pytest.raises(ModelError) as caught:
        clean_model(mesh(SQUARE, [[0, 1, 4]]), 0.0)
    assert caught.value.code == "invalid_mesh" and "4 vertices" in caught.value.reason


def test_mesh_with_only_degenerate_faces_is_refused() -> None:
    with pytest.raises(ModelError) as caught:
        clean_model(mesh(SQUARE, [[0, 0, 1], [1, 2, 2]]), 0.0)
    assert caught.value.code == "empty_model"


def test_empty_part_is_dropped_with_a_warning() -> None:
    model = Model(
        [
            Part(vertices=SQUARE.copy(), faces=np.array([[0, 1, 2]], np.uint32), name="body"),
            Part(vertices=SQUARE.copy(), faces=np.array([[0, 0, 1]], np.uint32), name="glass"),
        ]
    )
    cleaned, _ = clean_model(model, 0.0)
    assert [part.name for part in cleaned.parts] == ["body"]
    assert any("glass" in warning for warning in cleaned.warnings)


# ---------------------------------------------------------------- scale


@pytest.mark.slow
def test_large_triangle_soup_is_cleaned_quickly() -> None:
    ball = sphere(7)  # 327,680 faces
    flip = np.random.default_rng(3).random(len(ball.faces)) < 0.1
    vertices, faces = soup(ball.vertices, np.where(flip[:, None], ball.faces[:, ::-1], ball.faces))
    model = mesh(vertices, faces, uv=(vertices[:, :2] * 0.5 + 0.5).astype(np.float32))
    started = time.perf_counter()
    cleaned, stats = clean_model(model, 0.01)
    elapsed = time.perf_counter() - started
    assert stats["vertices_after"] == len(ball.vertices)
    assert stats["flipped_faces"] == int(flip.sum())
    assert outward(cleaned.parts[0], np.zeros(3)).all()
    assert elapsed < 20, f"cleaning 327k faces took {elapsed:.1f} s"


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus ../shared/corpus is absent")
@pytest.mark.parametrize(
    "name", ["3d/dense_scans/stanford_lucy_100k.ply", "3d/dense_scans/stanford_bun_zipper.ply"]
)
def test_real_scan_winding_is_restored_exactly(name: str) -> None:
    scan = trimesh.load(CORPUS / name, process=False, force="mesh")
    assert isinstance(scan, trimesh.Trimesh)
    faces = np.asarray(scan.faces, dtype=np.uint32)
    flip = np.random.default_rng(11).random(len(faces)) < 0.2
    model = mesh(scan.vertices, np.where(flip[:, None], faces[:, ::-1], faces))
    cleaned, stats = clean_model(model, 0.0)
    assert stats["flipped_faces"] == int(flip.sum())
    assert stats["degenerate_faces"] == stats["duplicate_faces"] == stats["merged_vertices"] == 0
    restored = cleaned.parts[0]
    assert restored.faces is not None
    # Same faces, same order, same corner order as the original scan.
    np.testing.assert_array_equal(restored.vertices[restored.faces], scan.vertices[faces])


def test_point_cloud_without_finite_points_is_refused() -> None:
    points = np.full((4, 3), np.nan)
    with pytest.raises(ModelError) as caught:
        clean_model(Model([Part(vertices=points)]), 0.01)
    assert caught.value.code == "empty_model" and "4 were not finite" in caught.value.reason
