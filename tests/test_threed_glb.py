"""The GLB writer and the LOD builder: quantization, compression, budgets, attributes."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh
from PIL import Image as PILImage

from processing.threed import glb, lod
from processing.threed.model import LodSpec, Model, Part, Texture
from tests.gltf_tools import decode_glb, gltf_tools_available, validate_glb

TOOLS_MISSING = gltf_tools_available()
needs_tools = pytest.mark.skipif(TOOLS_MISSING is not None, reason=str(TOOLS_MISSING))


def glb_json(data: bytes) -> dict[str, Any]:
    length = struct.unpack("<I", data[12:16])[0]
    parsed: dict[str, Any] = json.loads(data[20 : 20 + length])
    return parsed


def sphere_part(subdivisions: int = 5, **extra: Any) -> Part:
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=0.2)
    return Part(
        vertices=np.asarray(mesh.vertices, dtype=np.float64) + np.array([0, 0.2, 0]),
        faces=np.asarray(mesh.faces, dtype=np.uint32),
        **extra,
    )


def textured_quad() -> Part:
    pixels = np.zeros((64, 64, 3), np.uint8)
    pixels[:, :32] = (200, 30, 30)
    pixels[:, 32:] = (30, 30, 200)
    return Part(
        vertices=np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float64),
        faces=np.array([[0, 1, 2], [0, 2, 3]], np.uint32),
        uv=np.array([[0, 1], [1, 1], [1, 0], [0, 0]], np.float32),
        texture=Texture(pixels),
    )


def write(part: Part, compress: bool, path: Path) -> Path:
    level = lod.Lod(LodSpec("high", 10**6, 4096), [part], 0.0)
    path.write_bytes(glb.write_glb(lod.primitives(level), compress=compress))
    return path


def test_quantized_positions_come_back_within_half_a_grid_step(tmp_path: Path) -> None:
    part = sphere_part(3)
    data = glb.write_glb(lod.primitives(lod.Lod(LodSpec("h", 1, 0), [part], 0.0)), compress=False)
    doc = glb_json(data)
    node = doc["nodes"][0]
    accessor = doc["accessors"][doc["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]
    assert accessor["componentType"] == glb.UNSIGNED_SHORT
    assert accessor["max"][1] == (1 << 14) - 1  # the longest axis spans the whole grid
    assert "KHR_mesh_quantization" in doc["extensionsRequired"]
    view = doc["bufferViews"][accessor["bufferView"]]
    binary = data[20 + struct.unpack("<I", data[12:16])[0] + 8 :]
    raw = np.frombuffer(
        binary, np.uint16, count=accessor["count"] * 4, offset=view.get("byteOffset", 0)
    )
    decoded = raw.reshape(-1, 4)[:, :3] * np.array(node["scale"]) + np.array(node["translation"])
    step = node["scale"][0]
    # Same vertex order as the input: nothing is reordered without compression or LODs.
    # Half a step of quantization, plus the float32 rounding of the node's scale and
    # translation (a thousandth of a step at most over the 14-bit grid).
    assert np.abs(decoded - part.vertices).max() <= step * 0.501
    assert np.abs(decoded - part.vertices).max() > step * 0.4  # really quantized


def test_quantization_rounds_like_meshoptimizer() -> None:
    assert glb.quantize_unorm(np.array([0.0, 0.5, 1.0, 1.5]), 14).tolist() == [
        0,
        8192,
        16383,
        16383,
    ]
    assert glb.quantize_snorm(np.array([-1.0, -0.5, 0.0, 1.0]), 8).tolist() == [-127, -64, 0, 127]


def test_octahedral_normals_decode_back_to_the_normals() -> None:
    import meshoptimizer

    rng = np.random.default_rng(1)
    normals = rng.normal(size=(500, 3)).astype(np.float32)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    encoded = glb.encode_octahedral(normals, 8)
    decoded = meshoptimizer.decode_filter_oct(encoded, len(encoded), 4)
    back = decoded[:, :3].astype(np.float64) / 127.0
    back /= np.linalg.norm(back, axis=1, keepdims=True)
    assert np.degrees(np.arccos(np.clip((back * normals).sum(axis=1), -1, 1))).max() < 2.0


def test_small_meshes_use_16_bit_indices_and_big_ones_32(tmp_path: Path) -> None:
    small = glb_json(write(sphere_part(3), False, tmp_path / "s.glb").read_bytes())
    index_accessor = small["accessors"][small["meshes"][0]["primitives"][0]["indices"]]
    assert index_accessor["componentType"] == glb.UNSIGNED_SHORT
    grid = trimesh.creation.box().subdivide_to_size(0.004)
    big = Part(vertices=np.asarray(grid.vertices), faces=np.asarray(grid.faces, np.uint32))
    assert len(big.vertices) > 65535
    doc = glb_json(write(big, False, tmp_path / "b.glb").read_bytes())
    assert doc["accessors"][doc["meshes"][0]["primitives"][0]["indices"]]["componentType"] == (
        glb.UNSIGNED_INT
    )


@needs_tools
def test_compressed_glb_is_valid_smaller_and_decodes_to_the_same_geometry(tmp_path: Path) -> None:
    part = lod.optimize(sphere_part(5), strip_order=True)
    plain = write(part, False, tmp_path / "plain.glb")
    packed = write(part, True, tmp_path / "packed.glb")
    assert packed.stat().st_size < plain.stat().st_size / 2
    reports = validate_glb([plain, packed])
    assert [r["numErrors"] for r in reports] == [0, 0], reports
    assert "EXT_meshopt_compression" in reports[1]["extensionsUsed"]
    a, b = decode_glb(plain)["meshes"][0], decode_glb(packed)["meshes"][0]
    assert a["positions_count"] == b["positions_count"] == len(part.vertices)
    assert a["index_count"] == b["index_count"] == part.triangle_count * 3
    assert a["sha256_positions"] == b["sha256_positions"]
    assert a["sha256_triangles"] == b["sha256_triangles"]


@needs_tools
def test_textured_glb_is_valid_and_keeps_its_texture_transform(tmp_path: Path) -> None:
    path = write(textured_quad(), True, tmp_path / "quad.glb")
    (report,) = validate_glb([path])
    assert report["numErrors"] == 0, report
    doc = glb_json(path.read_bytes())
    texture_info = doc["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"]
    transform = texture_info["extensions"]["KHR_texture_transform"]
    # UVs span 0..1: offset 0, and 12-bit values stored as 16-bit normalized need 65535/4095.
    assert transform["offset"] == [0.0, 0.0]
    assert transform["scale"][0] == pytest.approx(65535 / 4095)
    assert doc["images"][0]["mimeType"] == "image/jpeg"


def test_identical_input_gives_identical_bytes(tmp_path: Path) -> None:
    first = write(textured_quad(), True, tmp_path / "a.glb").read_bytes()
    second = write(textured_quad(), True, tmp_path / "b.glb").read_bytes()
    assert first == second


# Levels of detail


def test_simplify_meets_the_budget_and_keeps_surviving_attributes() -> None:
    part = sphere_part(6)  # 81,920 triangles
    rng = np.random.default_rng(0)
    colors = rng.integers(0, 256, size=(len(part.vertices), 4), dtype=np.uint8)
    part.colors = colors
    level = lod.build_lod(Model([part]), LodSpec("web", 8000, 0), 8000, strip_order=True)
    (simplified,) = level.parts
    assert 7000 <= simplified.triangle_count <= 8000
    assert simplified.colors is not None
    # Every surviving vertex is an original vertex with its own colour.
    lookup = {tuple(np.round(v, 9)): i for i, v in enumerate(part.vertices)}
    for vertex, color in zip(simplified.vertices[:200], simplified.colors[:200], strict=True):
        assert (colors[lookup[tuple(np.round(vertex, 9))]] == color).all()
    assert int(simplified.faces.max()) == len(simplified.vertices) - 1  # type: ignore[union-attr]


def open_bowl() -> tuple[Part, np.ndarray]:
    """A sphere with its lower half cut away, and the positions of its open border."""
    mesh = trimesh.creation.icosphere(subdivisions=5, radius=0.2)
    keep = mesh.vertices[mesh.faces].min(axis=1)[:, 1] > -0.05
    bowl = trimesh.Trimesh(mesh.vertices, mesh.faces[keep], process=True)
    edges = np.sort(bowl.edges, axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    border = bowl.vertices[np.unique(unique[counts == 1])]
    part = Part(np.asarray(bowl.vertices, np.float64), np.asarray(bowl.faces, np.uint32))
    return part, border


def kept(border: np.ndarray, part: Part) -> int:
    """How many border positions are still vertices of ``part``."""
    present = {tuple(np.round(v, 9)) for v in part.vertices}
    return sum(tuple(np.round(v, 9)) in present for v in border)


def test_locked_borders_stay_in_place_and_free_ones_may_move() -> None:
    part, border = open_bowl()
    assert len(border) > 50
    target = part.triangle_count // 8
    locked = lod.build_lod(Model([part]), LodSpec("web", target, 0), target, False)
    free = lod.build_lod(
        Model([part]), LodSpec("web", target, 0), target, False, lock_borders=False
    )
    assert locked.triangles <= target * lod.BUDGET_SLACK
    assert free.triangles <= target * lod.BUDGET_SLACK
    assert kept(border, locked.parts[0]) == len(border)
    assert kept(border, free.parts[0]) < len(border)


def test_locked_borders_give_way_when_the_budget_needs_it() -> None:
    part, border = open_bowl()
    target = 40  # fewer triangles than the border has edges
    level = lod.build_lod(Model([part]), LodSpec("preview", target, 0), target, False)
    assert level.triangles <= target * lod.BUDGET_SLACK
    assert kept(border, level.parts[0]) < len(border)


def test_lod_targets_follow_budgets_and_the_tenfold_rule() -> None:
    specs = (LodSpec("high", 1_000_000, 0), LodSpec("web", 150_000, 0), LodSpec("thumb", 20_000, 0))

    def model_with(triangles: int) -> Model:
        faces = np.zeros((triangles, 3), np.uint32)
        return Model([Part(vertices=np.zeros((3, 3)), faces=faces)])

    assert lod.targets(model_with(50_000), specs) == [50_000, 50_000, 20_000]
    assert lod.targets(model_with(400_000), specs) == [400_000, 40_000, 20_000]
    assert lod.targets(model_with(3_000_000), specs) == [1_000_000, 150_000, 20_000]
    assert lod.targets(model_with(180_000), specs) == [180_000, 18_000, 18_000]


def test_point_clouds_thin_to_the_budget_with_averaged_colours() -> None:
    rng = np.random.default_rng(3)
    points = rng.random((200_000, 3))
    points[:, 2] *= 0.01  # a thin slab, like a scanned surface
    colors = np.zeros((len(points), 4), np.uint8)
    colors[:, 0] = np.where(points[:, 0] < 0.5, 255, 0)
    colors[:, 3] = 255
    cloud = Model([Part(vertices=points, colors=colors)])
    level = lod.build_lod(cloud, LodSpec("web", 20_000, 0), 20_000, strip_order=False)
    (thin,) = level.parts
    assert 10_000 <= len(thin.vertices) <= 20_000
    assert thin.colors is not None
    left = thin.vertices[:, 0] < 0.45
    assert (thin.colors[left, 0] == 255).all()
    assert (thin.colors[thin.vertices[:, 0] > 0.55, 0] == 0).all()


def test_texture_sets_shrink_but_never_grow() -> None:
    texture = Texture(np.full((1000, 2000, 3), 128, np.uint8))
    small = lod.texture_image(texture, 512, "jpeg", 85)
    assert PILImage.open(io.BytesIO(small.data)).size == (512, 256)
    same = lod.texture_image(texture, 4096, "jpeg", 85)
    assert PILImage.open(io.BytesIO(same.data)).size == (2000, 1000)
    webp = lod.texture_image(texture, 1024, "webp", 85)
    assert webp.mime_type == "image/webp"
