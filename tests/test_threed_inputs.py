"""Reading uploads into Models: every format, every limit, every unsafe reference, ZIP safety.

Inputs are generated here (tiny PLY/STL/OBJ/glTF/point files); the corpus
tests at the end read real third-party files when ../shared/corpus exists.
"""

from __future__ import annotations

import base64
import io
import json
import os
import struct
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
import trimesh
from PIL import Image

from processing.threed.bundle import extract_zip, resolve_reference
from processing.threed.inputs import load_model, sniff_format
from processing.threed.model import Limits, Model, ModelError, ModelOptions
from processing.threed.readers import ApprovedResolver, gltf_counts, pillow_guard, strips_to_faces
from tests.conftest import CORPUS

CORPUS_3D = CORPUS / "3d"
needs_corpus = pytest.mark.skipif(
    not CORPUS_3D.is_dir(), reason="the shared 3D corpus (../shared/corpus/3d) is absent"
)

SQUARE = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=np.float64)
SQUARE_FACES = np.array([[0, 1, 2], [0, 2, 3]])
RGBA = np.array([[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 128], [10, 20, 30, 40]])
ST = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.25]])


T = TypeVar("T")
TM: Any = trimesh  # trimesh's helpers are untyped; keep mypy's strictness for our code


def some(value: T | None) -> T:
    assert value is not None
    return value


def load(source: Path, tmp_path: Path, kind: str | None = None, **limits: int) -> Model:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)  # load_model unpacks each ZIP into a fresh folder inside
    options = ModelOptions(kind=kind, limits=replace(Limits(), **limits))
    return load_model(source, options, scratch)


def refused(source: Path, tmp_path: Path, code: str, **kwargs: Any) -> ModelError:
    with pytest.raises(ModelError) as caught:
        load(source, tmp_path, **kwargs)
    assert caught.value.code == code, caught.value.reason
    assert "\n" not in caught.value.reason
    return caught.value


def png_bytes(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()


TEXTURE = np.array(
    [[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]], [[9, 9, 9]] * 4], dtype=np.uint8
)  # 4 wide, 2 high; the red pixel is top-left


# --- PLY ------------------------------------------------------------------------------


def write_ply(path: Path, encoding: str, strips: list[int] | None = None) -> None:
    """The square with RGBA colours and s/t per vertex; faces or one triangle strip."""
    header = [
        "ply",
        f"format {encoding} 1.0",
        "element vertex 4",
        *(f"property float {n}" for n in "xyz"),
        *(f"property uchar {c}" for c in ("red", "green", "blue", "alpha")),
        "property float s",
        "property float t",
    ]
    if strips is None:
        header += ["element face 2", "property list uchar int vertex_indices"]
    else:
        header += ["element tristrips 1", "property list int int vertex_indices"]
    text = "\n".join([*header, "end_header"]) + "\n"
    if encoding == "ascii":
        rows = [
            " ".join(map(str, [*v, *c, *uv]))
            for v, c, uv in zip(SQUARE.tolist(), RGBA.tolist(), ST.tolist(), strict=True)
        ]
        if strips is None:
            rows += [f"3 {a} {b} {c}" for a, b, c in SQUARE_FACES]
        else:
            rows.append(" ".join(map(str, [len(strips), *strips])))
        path.write_text(text + "\n".join(rows) + "\n")
        return
    end = "<" if encoding == "binary_little_endian" else ">"
    fields = [(n, end + "f4") for n in "xyz"] + [(c, "u1") for c in "rgba"]
    records = np.zeros(4, dtype=np.dtype([*fields, ("s", end + "f4"), ("t", end + "f4")]))
    for i, name in enumerate("xyz"):
        records[name] = SQUARE[:, i]
    for i, name in enumerate("rgba"):
        records[name] = RGBA[:, i]
    records["s"], records["t"] = ST[:, 0], ST[:, 1]
    body = records.tobytes()
    if strips is None:
        for face in SQUARE_FACES:
            body += struct.pack(end + "B3i", 3, *face)
    else:
        body += struct.pack(f"{end}{len(strips) + 1}i", len(strips), *strips)
    path.write_bytes(text.encode() + body)


@pytest.mark.parametrize("encoding", ["ascii", "binary_little_endian", "binary_big_endian"])
def test_ply_encodings_keep_colours_and_flip_uv(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "square.ply"
    write_ply(path, encoding)
    model = load(path, tmp_path)
    assert model.source_format == "ply"
    (part,) = model.parts
    np.testing.assert_array_equal(part.vertices, SQUARE)
    np.testing.assert_array_equal(part.faces, SQUARE_FACES)
    assert part.faces is not None and part.faces.dtype == np.uint32
    np.testing.assert_array_equal(part.colors, RGBA)
    expected_uv = np.column_stack([ST[:, 0], 1 - ST[:, 1]])  # glTF: v down
    np.testing.assert_allclose(some(part.uv), expected_uv)


@pytest.mark.parametrize("encoding", ["ascii", "binary_little_endian", "binary_big_endian"])
def test_ply_triangle_strips_become_faces(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "strip.ply"
    write_ply(path, encoding, strips=[0, 1, 3, 2, -1, 0, 1, 2])
    (part,) = load(path, tmp_path).parts
    np.testing.assert_array_equal(part.faces, [[0, 1, 3], [3, 1, 2], [0, 1, 2]])


def test_strips_alternate_winding_restart_and_skip_degenerates() -> None:
    # (5, 5, 6) is degenerate and dropped, but still flips the parity of (5, 6, 7).
    faces = strips_to_faces([np.array([0, 1, 2, 3, 4, -1, 5, 5, 6, 7])])
    np.testing.assert_array_equal(faces, [[0, 1, 2], [2, 1, 3], [2, 3, 4], [6, 5, 7]])
    # Every triangle of a planar strip faces the same way.
    grid = np.array([[x, y, 0.0] for x in range(3) for y in range(2)])
    faces = strips_to_faces([[0, 1, 2, 3, 4, 5]])
    a, b, c = (grid[faces[:, i]] for i in range(3))
    assert (np.cross(b - a, c - a)[:, 2] < 0).all() or (np.cross(b - a, c - a)[:, 2] > 0).all()


def test_ply_without_faces_is_a_point_cloud_with_normals(tmp_path: Path) -> None:
    path = tmp_path / "points.ply"
    path.write_text(
        "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
        "property float z\nproperty float nx\nproperty float ny\nproperty float nz\n"
        "element face 0\nproperty list uchar int vertex_indices\nend_header\n"
        "0 0 0 0 0 1\n1 0 0 0 0 1\n0 1 0 0 1 0\n"
    )
    model = load(path, tmp_path)
    assert model.is_pointcloud and model.vertex_count == 3
    np.testing.assert_allclose(some(model.parts[0].normals), [[0, 0, 1], [0, 0, 1], [0, 1, 0]])


def test_ply_header_limit_is_checked_before_the_body(tmp_path: Path) -> None:
    path = tmp_path / "liar.ply"
    path.write_text(
        "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\n"
        "property float y\nproperty float z\nelement face 40000000\n"
        "property list uchar int vertex_indices\nend_header\n"
    )
    error = refused(path, tmp_path, "too_many_faces")
    assert error.reason == (
        "The PLY header declares 40000000 faces; the limit is 30000000 (MUSEUM_MODEL_MAX_FACES)."
    )


def test_ply_point_limit_and_broken_bodies(tmp_path: Path) -> None:
    path = tmp_path / "points.ply"
    path.write_text(
        "ply\nformat ascii 1.0\nelement vertex 5\nproperty float x\nproperty float y\n"
        "property float z\nend_header\n" + "0 0 0\n" * 5
    )
    assert (
        "MUSEUM_MODEL_MAX_POINTS" in refused(path, tmp_path, "too_many_points", max_points=4).reason
    )
    truncated = tmp_path / "truncated.ply"
    write_ply(truncated, "binary_little_endian")
    truncated.write_bytes(truncated.read_bytes()[:-20])
    error = refused(truncated, tmp_path, "unreadable")
    assert error.reason.startswith("The PLY file could not be read (trimesh: ")
    bad = tmp_path / "bad.ply"
    bad.write_text("ply\nformat ascii 1.0\nelement vertex many\nend_header\n")
    assert "line 3" in refused(bad, tmp_path, "malformed").reason


# --- STL ------------------------------------------------------------------------------


def box_triangles() -> np.ndarray:
    box = trimesh.creation.box()
    return np.asarray(box.vertices[box.faces], dtype=np.float32)


def test_binary_stl_whose_header_says_solid(tmp_path: Path) -> None:
    triangles = box_triangles()
    body = b"".join(struct.pack("<12fH", *([0.0] * 3), *t.ravel(), 0) for t in triangles)
    path = tmp_path / "trap.stl"
    path.write_bytes(b"solid trap".ljust(80, b" ") + struct.pack("<I", 12) + body)
    assert sniff_format(path) == "stl"
    (part,) = load(path, tmp_path).parts
    assert part.triangle_count == 12 and len(part.vertices) == 8  # corners welded
    assert (
        "MUSEUM_MODEL_MAX_FACES" in refused(path, tmp_path, "too_many_faces", max_faces=11).reason
    )
    path.write_bytes(path.read_bytes()[:-10])  # truncated: the size rule no longer holds
    error = refused(path, tmp_path, "malformed")
    assert "declares 12 triangles (684 bytes) but the file has 674 bytes" in error.reason


def test_ascii_stl_and_truncated_binary(tmp_path: Path) -> None:
    lines = ["solid cube"]
    for t in box_triangles():
        lines += ["facet normal 0 0 0", "outer loop"]
        lines += [f"vertex {x} {y} {z}" for x, y, z in t]
        lines += ["endloop", "endfacet"]
    path = tmp_path / "cube.stl"
    path.write_text("\n".join([*lines, "endsolid cube"]) + "\n")
    assert load(path, tmp_path).triangle_count == 12
    refused(path, tmp_path, "too_many_faces", max_faces=5)
    short = tmp_path / "short.stl"
    short.write_bytes(b"\x01" * 80 + struct.pack("<I", 3) + b"\x00" * 50)
    assert "declares 3 triangles" in refused(short, tmp_path, "malformed").reason


# --- OBJ ------------------------------------------------------------------------------

OBJ = """mtllib {mtllib}
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
vt 0 0
vt 1 0
vt 1 1
vt 0 0.25
usemtl skin
f 1/1 2/2 3/3
f 1/1 3/3 4/4
"""


def obj_folder(folder: Path, map_kd: str = "tex.png", mtllib: str = "scan.mtl") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scan.obj").write_text(OBJ.format(mtllib=mtllib))
    (folder / "scan.mtl").write_text(f"newmtl skin\nKd 0.5 0.25 1\nmap_Kd {map_kd}\n")
    (folder / "tex.png").write_bytes(png_bytes(TEXTURE))
    return folder


def assert_textured_square(model: Model) -> None:
    (part,) = model.parts
    assert model.source_format == "obj" and model.warnings == []
    assert part.texture is not None
    np.testing.assert_array_equal(part.texture.pixels, TEXTURE)  # row 0 at the top
    np.testing.assert_allclose(some(part.uv), np.column_stack([ST[:, 0], 1 - ST[:, 1]]))
    assert part.base_color == (1.0, 1.0, 1.0, 1.0)  # map_Kd replaces Kd


def test_obj_folder_with_mtl_and_texture(tmp_path: Path) -> None:
    assert_textured_square(load(obj_folder(tmp_path / "upload"), tmp_path))


def test_obj_zip_bundle(tmp_path: Path) -> None:
    folder = obj_folder(tmp_path / "upload")
    bundle = tmp_path / "scan.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("scan.obj", "scan.mtl", "tex.png"):
            archive.write(folder / name, f"scan/{name}")
        archive.writestr("__MACOSX/scan/._scan.obj", b"\x00\x05\x16\x07junk")
    assert_textured_square(load(bundle, tmp_path))


def test_obj_missing_texture_loads_with_kd_and_a_warning(tmp_path: Path) -> None:
    folder = obj_folder(tmp_path / "upload", map_kd="absent.png")
    model = load(folder, tmp_path)
    (part,) = model.parts
    assert part.texture is None
    assert part.base_color == pytest.approx((0.5, 0.25, 1.0, 1.0), abs=1 / 255)
    assert any("'absent.png'" in warning for warning in model.warnings)


def test_obj_vertex_limits_and_point_obj(tmp_path: Path) -> None:
    folder = obj_folder(tmp_path / "upload")
    error = refused(folder, tmp_path, "too_many_vertices", max_vertices=3)
    assert (
        error.reason == "The OBJ file has 4 vertices; the limit is 3 (MUSEUM_MODEL_MAX_VERTICES)."
    )
    refused(folder, tmp_path, "too_many_faces", max_faces=1)
    points = tmp_path / "points.obj"
    points.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\n")
    assert load(points, tmp_path).is_pointcloud
    refused(points, tmp_path, "too_many_points", max_points=2)


def test_non_finite_vertices_drop_their_faces(tmp_path: Path) -> None:
    path = tmp_path / "nan.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nv 1 1 nan\nv 0 1 0\nf 1 2 4\nf 2 3 4\n")
    model = load(path, tmp_path)
    (part,) = model.parts
    assert np.isfinite(part.vertices).all() and len(part.vertices) == 3
    np.testing.assert_array_equal(part.vertices[part.faces], SQUARE[[[0, 1, 3]]])
    assert any("non-finite" in warning for warning in model.warnings)
    path.write_text("v 0 0 nan\nv 1 0 inf\nv 1 1 nan\nf 1 2 3\n")
    assert "non-finite" in refused(path, tmp_path, "non_finite").reason


def test_nan_vertex_colours_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "colours.obj"
    path.write_text("v 0 0 0 1 0 0\nv 1 0 0 0 1 0\nv 1 1 0 nan nan nan\nf 1 2 3\n")
    model = load(path, tmp_path)
    assert model.parts[0].colors is None
    assert any("NaN" in warning for warning in model.warnings)
    path.write_text("v 0 0 0 1 0 0\nv 1 0 0 0 1 0\nv 1 1 0 0 0 1\nf 1 2 3\n")
    np.testing.assert_array_equal(some(load(path, tmp_path).parts[0].colors)[:, 0], [255, 0, 0])


def test_nan_float_colours_in_ply_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "colours.ply"
    header = "ply\nformat ascii 1.0\nelement vertex 3\n"
    header += "".join(f"property float {n}\n" for n in ("x", "y", "z", "red", "green", "blue"))
    header += "element face 1\nproperty list uchar int vertex_indices\nend_header\n"
    path.write_text(header + "0 0 0 1 0 0\n1 0 0 nan 1 0\n0 1 0 0 0 1\n3 0 1 2\n")
    model = load(path, tmp_path)
    assert model.parts[0].colors is None and any("NaN" in w for w in model.warnings)
    path.write_text(header + "0 0 0 1 0 0\n1 0 0 0 1 0\n0 1 0 0 0 1\n3 0 1 2\n")
    np.testing.assert_array_equal(some(load(path, tmp_path).parts[0].colors)[:, 2], [0, 0, 255])


# --- glTF / GLB -----------------------------------------------------------------------


def triangle_gltf(folder: Path, buffer_uri: str | None = "tri.bin", **extra: Any) -> Path:
    """A one-triangle glTF used by three nodes (one moved up by 10), buffer in ``buffer_uri``."""
    folder.mkdir(parents=True, exist_ok=True)
    data = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype="<f4").tobytes()
    data += np.array([0, 1, 2], dtype="<u2").tobytes() + b"\x00\x00"
    uri = buffer_uri if buffer_uri is not None else ""
    if buffer_uri is None:
        uri = "data:application/octet-stream;base64," + base64.b64encode(data).decode()
    else:
        (folder / "tri.bin").write_bytes(data)
    tree: dict[str, Any] = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0, 1]}],
        "nodes": [
            {"mesh": 0, "children": [2]},
            {"mesh": 0, "translation": [0, 10, 0]},
            {"mesh": 0},
        ],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1, "material": 0}]}],
        "materials": [{"pbrMetallicRoughness": {"baseColorFactor": [0.2, 0.4, 0.6, 1.0]}}],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"},
            {"bufferView": 1, "componentType": 5123, "count": 3, "type": "SCALAR"},
        ],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": 36},
            {"buffer": 0, "byteOffset": 36, "byteLength": 6},
        ],
        "buffers": [{"uri": uri, "byteLength": 44}],
    }
    tree.update(extra)
    path = folder / "tri.gltf"
    path.write_text(json.dumps(tree))
    return path


def test_gltf_with_bin_instancing_and_transforms(tmp_path: Path) -> None:
    path = triangle_gltf(tmp_path / "upload")
    model = load(path.parent, tmp_path)
    assert model.source_format == "gltf" and len(model.parts) == 3
    lows = sorted(float(part.vertices[:, 1].min()) for part in model.parts)
    assert lows == [0.0, 0.0, 10.0]
    assert all(p.base_color == pytest.approx((0.2, 0.4, 0.6, 1.0), abs=0.01) for p in model.parts)
    error = refused(path, tmp_path, "too_many_faces", max_faces=2)
    assert error.reason.startswith("The glTF file declares 3 triangles")
    assert load(path, tmp_path, max_faces=3).triangle_count == 3


def test_gltf_counts_refuse_cycles() -> None:
    tree = {"nodes": [{"children": [1]}, {"children": [0]}], "scenes": [{"nodes": [0]}]}
    with pytest.raises(ModelError) as caught:
        gltf_counts(tree)
    assert caught.value.code == "malformed"


def glb_of(scene: trimesh.Scene, path: Path, **kwargs: Any) -> Path:
    path.write_bytes(TM.exchange.gltf.export_glb(scene, **kwargs))
    return path


def textured_box() -> Any:
    box = TM.creation.box()
    uv = np.random.default_rng(1).random((len(box.vertices), 2))
    box.visual = TM.visual.TextureVisuals(uv=uv, image=Image.fromarray(TEXTURE))
    return box


def test_glb_parts_textures_and_node_transforms(tmp_path: Path) -> None:
    scene = trimesh.Scene()
    scene.add_geometry(textured_box(), node_name="textured")
    plain = trimesh.creation.icosphere(subdivisions=1)
    plain.visual.vertex_colors = [0, 128, 255, 255]
    moved = TM.transformations.rotation_matrix(np.pi / 2, [0, 0, 1])
    moved[:3, 3] = [5, 0, 0]
    scene.add_geometry(plain, node_name="coloured", transform=moved)
    model = load(glb_of(scene, tmp_path / "scene.glb"), tmp_path)
    assert model.source_format == "glb" and len(model.parts) == 2
    textured = next(p for p in model.parts if p.texture is not None)
    np.testing.assert_array_equal(some(textured.texture).pixels[:, :, :3], TEXTURE)
    np.testing.assert_allclose(
        some(textured.uv)[:, 1], 1 - textured_box().visual.uv[:, 1], atol=1e-6
    )
    coloured = next(p for p in model.parts if p.colors is not None)
    expected = trimesh.transform_points(plain.vertices, moved)
    np.testing.assert_allclose(coloured.vertices, expected, atol=1e-5)
    np.testing.assert_array_equal(some(coloured.colors)[0], [0, 128, 255, 255])
    refused(tmp_path / "scene.glb", tmp_path, "texture_too_large", max_texture_pixels=7)


def test_glb_with_draco_compression(tmp_path: Path) -> None:
    scene = trimesh.Scene(trimesh.creation.icosphere(subdivisions=2))
    path = glb_of(scene, tmp_path / "draco.glb", extension_draco=True)
    assert b"KHR_draco_mesh_compression" in path.read_bytes()[:4096]
    assert load(path, tmp_path).triangle_count == 320


def test_gltf_image_and_data_limits(tmp_path: Path) -> None:
    image = "data:image/png;base64," + base64.b64encode(png_bytes(TEXTURE)).decode()
    path = triangle_gltf(tmp_path / "upload", images=[{"uri": image}, {"uri": image}])
    assert load(path, tmp_path).triangle_count == 3
    refused(path, tmp_path, "too_many_textures", max_textures=1)
    refused(path, tmp_path, "texture_too_large", max_texture_pixels=7)
    inline = triangle_gltf(tmp_path / "inline", buffer_uri=None)
    assert load(inline, tmp_path).triangle_count == 3
    error = refused(inline, tmp_path, "data_uri_too_large", max_data_uri_bytes=40)
    assert "fixed limit" in error.reason


def test_gltf_missing_buffer_and_unsupported_extension(tmp_path: Path) -> None:
    path = triangle_gltf(tmp_path / "upload")
    (path.parent / "tri.bin").unlink()
    assert "'tri.bin'" in refused(path, tmp_path, "missing_file").reason
    meshopt = triangle_gltf(tmp_path / "meshopt", extensionsRequired=["EXT_meshopt_compression"])
    assert "EXT_meshopt_compression" in refused(meshopt, tmp_path, "unsupported_feature").reason
    broken = tmp_path / "broken.gltf"
    broken.write_text('{"asset": ')
    refused(broken, tmp_path, "malformed")
    dangling = triangle_gltf(tmp_path / "dangling")
    tree = json.loads(dangling.read_text())
    tree["meshes"][0]["primitives"][0]["indices"] = 7  # no such accessor
    dangling.write_text(json.dumps(tree))
    assert "broken mesh or node" in refused(dangling, tmp_path, "malformed").reason


def test_raw_draco_file(tmp_path: Path) -> None:
    import DracoPy  # type: ignore[import-not-found,unused-ignore]

    sphere = trimesh.creation.icosphere(subdivisions=1)
    path = tmp_path / "sphere.drc"
    path.write_bytes(DracoPy.encode(sphere.vertices.astype(np.float32), sphere.faces))
    model = load(path, tmp_path)
    assert model.source_format == "drc" and model.triangle_count == 80


# --- point clouds ---------------------------------------------------------------------


def test_xyz_with_header_commas_and_colours(tmp_path: Path) -> None:
    path = tmp_path / "cloud.xyz"
    path.write_text("X,Y,Z,R,G,B\n0,0,0,255,0,0\n1,0,0,0,128,0\n0,1,0,0,0,255\n")
    model = load(path, tmp_path)
    assert model.source_format == "xyz" and model.is_pointcloud
    np.testing.assert_array_equal(
        some(model.parts[0].colors)[:, :3], [[255, 0, 0], [0, 128, 0], [0, 0, 255]]
    )
    refused(path, tmp_path, "too_many_points", max_points=2)
    error = refused(path, tmp_path, "not_a_mesh", kind="mesh")
    assert "3 points" in error.reason
    assert load(path, tmp_path).vertex_count == 3


def test_pts_count_line_intensity_and_rgb(tmp_path: Path) -> None:
    path = tmp_path / "scan.pts"
    path.write_text("3\n0 0 0 -100 10 20 30\n1 0 0 50 40 50 60\n0 1 nan 0 1 2 3\n")
    model = load(path, tmp_path)
    assert model.source_format == "pts" and model.vertex_count == 2  # the NaN point dropped
    np.testing.assert_array_equal(some(model.parts[0].colors)[:, :3], [[10, 20, 30], [40, 50, 60]])
    path.write_text("2\n0 0 0 1 1 2 3\n1 0 0 1 4 5 6\n1\n5 5 5 1 7 8 9\n")  # two scans
    assert load(path, tmp_path).vertex_count == 3
    path.write_text("5000\n0 0 0\n")
    assert (
        "PTS header declares 5000"
        in refused(path, tmp_path, "too_many_points", max_points=10).reason
    )


@pytest.mark.parametrize("binary", [False, True])
def test_pcd_through_open3d(tmp_path: Path, binary: bool) -> None:
    import open3d

    cloud = open3d.geometry.PointCloud()
    cloud.points = open3d.utility.Vector3dVector(SQUARE)
    cloud.colors = open3d.utility.Vector3dVector(RGBA[:, :3] / 255.0)
    path = tmp_path / "cloud.pcd"
    assert open3d.io.write_point_cloud(path, cloud, write_ascii=not binary)
    model = load(path, tmp_path)
    assert model.source_format == "pcd"
    np.testing.assert_allclose(model.parts[0].vertices, SQUARE)
    np.testing.assert_array_equal(some(model.parts[0].colors)[:, :3], RGBA[:, :3])
    refused(path, tmp_path, "too_many_points", max_points=3)


@pytest.mark.parametrize("suffix", ["las", "laz"])
def test_las_and_laz_colours_from_16_bit(tmp_path: Path, suffix: str) -> None:
    import laspy  # type: ignore[import-untyped,unused-ignore]

    las = laspy.create(point_format=2, file_version="1.2")
    las.header.scales = [0.001] * 3
    las.x, las.y, las.z = SQUARE[:, 0], SQUARE[:, 1], SQUARE[:, 2] + 100
    las.red = np.array([65535, 0, 256, 32768], dtype=np.uint16)
    las.green = las.blue = np.zeros(4, dtype=np.uint16)
    path = tmp_path / f"cloud.{suffix}"
    las.write(str(path))
    model = load(path, tmp_path)
    assert model.source_format == suffix
    np.testing.assert_allclose(model.parts[0].vertices[:, 2], 100)
    np.testing.assert_array_equal(some(model.parts[0].colors)[:, 0], [255, 0, 1, 128])
    error = refused(path, tmp_path, "too_many_points", max_points=3)
    assert f"{suffix.upper()} header declares 4 points" in error.reason
    broken = tmp_path / f"broken.{suffix}"
    broken.write_bytes(b"LASF" + b"\x01" * 300)  # 16843009 variable-length records
    assert "does not match the file" in refused(broken, tmp_path, "malformed").reason
    broken.write_bytes(path.read_bytes()[:-30])  # truncated points
    if suffix == "las":  # the header's count no longer fits the file
        assert "4 points of 26 bytes" in refused(broken, tmp_path, "malformed").reason
    else:  # compressed: only the decoder can tell
        assert "(laspy: " in refused(broken, tmp_path, "unreadable").reason


def test_e57_with_colours_and_pose(tmp_path: Path) -> None:
    import pye57  # type: ignore[import-untyped,unused-ignore]

    path = tmp_path / "scan.e57"
    e57 = pye57.E57(str(path), mode="w")
    data = {f"cartesian{a}": SQUARE[:, i].copy() for i, a in enumerate("XYZ")}
    data |= {
        f"color{c}": RGBA[:, i].astype(np.uint8) for i, c in enumerate(("Red", "Green", "Blue"))
    }
    e57.write_scan_raw(
        data, translation=np.array([0.0, 0.0, 5.0]), rotation=np.array([1.0, 0, 0, 0])
    )
    e57.close()
    model = load(path, tmp_path)
    assert model.source_format == "e57"
    np.testing.assert_allclose(model.parts[0].vertices, SQUARE + np.array([0, 0, 5]))
    np.testing.assert_array_equal(some(model.parts[0].colors)[:, :3], RGBA[:, :3])
    refused(path, tmp_path, "too_many_points", max_points=3)
    broken = tmp_path / "broken.e57"
    broken.write_bytes(b"ASTM-E57" + b"\x00" * 2000)
    assert "pye57" in refused(broken, tmp_path, "unreadable").reason


def test_kind_pointcloud_drops_faces(tmp_path: Path) -> None:
    path = tmp_path / "square.ply"
    write_ply(path, "ascii")
    model = load(path, tmp_path, kind="pointcloud")
    assert model.is_pointcloud and model.vertex_count == 4
    np.testing.assert_array_equal(model.parts[0].colors, RGBA)


# --- limits, textures, input size -----------------------------------------------------


def test_texture_pixels_read_from_the_header(tmp_path: Path) -> None:
    folder = obj_folder(tmp_path / "upload")
    error = refused(folder, tmp_path, "texture_too_large", max_texture_pixels=7)
    assert error.reason == (
        "The texture 'tex.png' is 4×2 = 8 pixels; the limit is 7 (MUSEUM_MODEL_MAX_TEXTURE_PIXELS)."
    )


def test_pillow_guard_turns_a_bomb_into_a_model_error(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    Image.new("L", (100, 100)).save(big)
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ModelError) as caught, pillow_guard(Limits(max_texture_pixels=1000)):
        Image.open(big)
    assert caught.value.code == "texture_too_large"
    assert before == Image.MAX_IMAGE_PIXELS


def test_input_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "square.ply"
    write_ply(path, "ascii")
    assert (
        "MUSEUM_MAX_UPLOAD_SIZE"
        in refused(path, tmp_path, "input_too_large", max_input_bytes=100).reason
    )


# --- unsafe references ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("map_kd", "why"),
    [
        ("/etc/passwd", "absolute path"),
        ("../outside.png", "'..'"),
        ("http://example.com/tex.png", "URL"),
        ("file:///etc/passwd", "URL"),
        ("C:\\textures\\tex.png", "drive"),
        ("textures/../../outside.png", "'..'"),
    ],
)
def test_unsafe_texture_references(tmp_path: Path, map_kd: str, why: str) -> None:
    (tmp_path / "outside.png").write_bytes(png_bytes(TEXTURE))
    folder = obj_folder(tmp_path / "upload", map_kd=map_kd)
    error = refused(folder, tmp_path, "unsafe_reference")
    assert map_kd in error.reason and why in error.reason


@pytest.mark.parametrize("mtllib", ["/tmp/evil.mtl", "../evil.mtl", "https://example.com/x.mtl"])
def test_unsafe_material_libraries(tmp_path: Path, mtllib: str) -> None:
    error = refused(obj_folder(tmp_path / "upload", mtllib=mtllib), tmp_path, "unsafe_reference")
    assert mtllib in error.reason


def test_symlink_out_of_the_upload_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes(TEXTURE))
    folder = obj_folder(tmp_path / "upload", map_kd="link.png")
    os.symlink(secret, folder / "link.png")
    assert "outside the upload" in refused(folder, tmp_path, "unsafe_reference").reason
    os.symlink(folder / "tex.png", folder / "inside.png")  # a link that stays inside is fine
    (folder / "scan.mtl").write_text("newmtl skin\nmap_Kd inside.png\n")
    assert load(folder, tmp_path).parts[0].texture is not None


@pytest.mark.parametrize("uri", ["file:///etc/passwd", "%2e%2e/secret.bin", "/etc/passwd"])
def test_unsafe_gltf_uris(tmp_path: Path, uri: str) -> None:
    path = triangle_gltf(tmp_path / "upload", buffer_uri="tri.bin")
    tree = json.loads(path.read_text())
    tree["buffers"][0]["uri"] = uri
    path.write_text(json.dumps(tree))
    assert uri in refused(path, tmp_path, "unsafe_reference").reason


def test_ply_texture_file_comment_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "upload" / "textured.ply"
    path.parent.mkdir()
    write_ply(path, "ascii")
    path.write_text(path.read_text().replace("ply\n", "ply\ncomment TextureFile ../x.png\n", 1))
    assert "../x.png" in refused(path, tmp_path, "unsafe_reference").reason


def test_resolver_serves_only_approved_names(tmp_path: Path) -> None:
    (tmp_path / "tex.png").write_bytes(b"ok")
    resolver = ApprovedResolver({"tex.png": tmp_path / "tex.png"})
    assert resolver.get("tex.png") == b"ok"
    for name in ("other.png", "../tex.png", str(tmp_path / "tex.png")):
        with pytest.raises(FileNotFoundError):
            resolver.get(name)
    assert (
        resolve_reference(tmp_path, tmp_path / "sub", "../tex.png", "a.mtl") == tmp_path / "tex.png"
    )


# --- ZIP bundles and folders ----------------------------------------------------------


def zip_with(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return path


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.mark.parametrize(
    ("name", "why"),
    [("../evil.obj", "'..'"), ("/tmp/evil.obj", "absolute"), ("C:/evil.obj", "absolute")],
)
def test_zip_slip_is_refused_before_writing(tmp_path: Path, name: str, why: str) -> None:
    bundle = zip_with(tmp_path / "b.zip", [("ok.obj", b"v 0 0 0\n"), (name, b"v 0 0 0\n")])
    error = refused(bundle, tmp_path, "unsafe_archive")
    assert name in error.reason and why in error.reason
    assert files_under(tmp_path / "scratch") == []


def test_zip_symlink_duplicate_and_encrypted_entries(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("tex.png")
    link.external_attr = (0o120777 << 16) | 0
    bundle = zip_with(tmp_path / "link.zip", [("a.obj", b"v 0 0 0\n"), (link, b"/etc/passwd")])
    assert "symbolic link" in refused(bundle, tmp_path, "unsafe_archive").reason
    with pytest.warns(UserWarning, match="Duplicate name"):
        twice = zip_with(tmp_path / "twice.zip", [("a.obj", b"v 0 0 0\n"), ("a.obj", b"x")])
    assert "more than once" in refused(twice, tmp_path, "unsafe_archive").reason
    encrypted = zip_with(tmp_path / "locked.zip", [("a.obj", b"v 0 0 0\n")])
    raw = bytearray(encrypted.read_bytes())
    central = raw.rindex(b"PK\x01\x02")
    raw[central + 8] |= 0x1  # the "encrypted" flag in the central directory
    encrypted.write_bytes(bytes(raw))
    refused(encrypted, tmp_path, "encrypted_archive")


def test_zip_limits_entries_and_declared_size(tmp_path: Path) -> None:
    many = zip_with(tmp_path / "many.zip", [(f"f{i}.txt", b"x") for i in range(6)])
    error = refused(many, tmp_path, "too_many_archive_entries", max_archive_entries=5)
    assert "6 entries" in error.reason and "MUSEUM_MODEL_MAX_ARCHIVE_ENTRIES" in error.reason
    big = zip_with(tmp_path / "big.zip", [("a.xyz", b"0 0 0\n" * 2000)])
    refused(big, tmp_path, "archive_too_large", max_archive_bytes=1000)
    assert files_under(tmp_path / "scratch") == []


def test_zip_bomb_with_lying_header_stops_at_the_limit(tmp_path: Path) -> None:
    bundle = zip_with(tmp_path / "bomb.zip", [("a.xyz", b"0 0 0\n" * 200_000)])
    raw = bytearray(bundle.read_bytes())
    central = raw.rindex(b"PK\x01\x02")
    raw[central + 24 : central + 28] = struct.pack("<I", 100)  # declared size: 100 bytes
    bundle.write_bytes(bytes(raw))
    with zipfile.ZipFile(bundle) as archive:
        assert archive.infolist()[0].file_size == 100
    with pytest.raises(ModelError) as caught:
        extract_zip(bundle, tmp_path / "out", Limits(max_archive_bytes=50_000))
    assert caught.value.code in ("archive_too_large", "unreadable")
    assert sum(p.stat().st_size for p in files_under(tmp_path / "out")) <= 50_000


def test_main_file_rules(tmp_path: Path) -> None:
    two = zip_with(tmp_path / "two.zip", [("a.obj", b"v 0 0 0\n"), ("sub/b.ply", b"ply\n")])
    error = refused(two, tmp_path, "ambiguous_bundle")
    assert "a.obj" in error.reason and "sub/b.ply" in error.reason
    none = zip_with(tmp_path / "none.zip", [("readme.txt", b"hi")])
    assert "readme.txt" in refused(none, tmp_path, "no_model_file").reason
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.stl").write_text("solid a\nendsolid a\n")
    (folder / "b.stl").write_text("solid b\nendsolid b\n")
    refused(folder, tmp_path, "ambiguous_bundle")
    nested = zip_with(tmp_path / "nested.zip", [("inner.dae", b"<COLLADA/>")])
    assert refused(nested, tmp_path, "unsupported_format").reason.startswith("COLLADA (.dae)")


# --- sniffing -------------------------------------------------------------------------


def test_content_decides_over_the_name(tmp_path: Path) -> None:
    disguised = tmp_path / "model.obj"
    write_ply(disguised, "binary_little_endian")
    assert sniff_format(disguised) == "ply"
    assert load(disguised, tmp_path).source_format == "ply"
    unknown = tmp_path / "mystery.bin"
    unknown.write_bytes(b"\x00\x01\x02" * 50)
    assert "not a recognised 3D format" in refused(unknown, tmp_path, "unsupported_format").reason
    damaged = tmp_path / "damaged.obj"
    damaged.write_bytes(b"v 0 0 0\n\x00\x01\x02")
    error = refused(damaged, tmp_path, "malformed")
    assert error.reason.startswith("The file 'damaged.obj' has the .obj extension, but its content")
    empty = tmp_path / "empty.ply"
    empty.write_bytes(b"")
    assert refused(empty, tmp_path, "empty_model").reason == "The file 'empty.ply' is empty."
    dae = tmp_path / "cube.dae"
    dae.write_text('<?xml version="1.0"?><COLLADA></COLLADA>')
    error = refused(dae, tmp_path, "unsupported_format")
    assert error.reason == "COLLADA (.dae) is not supported; export OBJ, PLY, STL or glTF."


# --- the shared corpus ----------------------------------------------------------------

EDGE = CORPUS_3D / "edge_cases"
EDGE_FILES = sorted(p.name for p in EDGE.iterdir()) if EDGE.is_dir() else ["<corpus absent>"]
MUST_LOAD = {
    "jacked.obj", "negative_indices.obj", "polygonfaces.obj", "multibody.stl", "soup.stl",
    "busted.STL", "points_emptyface.ply", "nancolor.obj", "noimg.obj", "fuze.obj",
    "notenoughindices.obj", "obj_with_no_face_in_chunk.obj",
}  # fmt: skip
EMPTY = {"empty.obj", "empty.ply", "empty.stl", "ply_empty_header.ply", "stl_empty_bin.stl"}


@pytest.mark.corpus
@needs_corpus
@pytest.mark.parametrize("name", EDGE_FILES)
def test_edge_case_corpus(tmp_path: Path, name: str) -> None:
    source = EDGE / name
    try:
        model = load(source, tmp_path)
    except ModelError as error:
        assert name not in MUST_LOAD, error.reason
        assert error.reason.endswith(".") and len(error.reason) > 20
        if name in EMPTY:
            fmt = source.suffix.upper().lstrip(".")
            assert (error.code, error.reason) == (
                "empty_model",
                f"The {fmt} file has no faces or points.",
            )
        if name.endswith(".mtl"):
            assert "material library" in error.reason
        if name.endswith(".dae"):
            assert error.reason == "COLLADA (.dae) is not supported; export OBJ, PLY, STL or glTF."
        return
    assert name not in EMPTY
    assert model.vertex_count > 0 and np.isfinite(model.bounds()).all()
    for part in model.parts:
        assert part.colors is None or part.colors.dtype == np.uint8
        assert part.faces is None or int(part.faces.max()) < len(part.vertices)
    if name == "nancolor.obj":
        assert all(part.colors is None for part in model.parts) and model.warnings
    if name == "noimg.obj":
        assert model.warnings and all(part.texture is None for part in model.parts)
    if name == "points_emptyface.ply":
        assert model.is_pointcloud and model.vertex_count == 1024


CORPUS_MODELS = [
    "dense_scans/stanford_bun_zipper.ply",
    "dense_scans/stanford_lucy_100k.ply",
    "heritage/gargoyle_3dhop.ply",
    "heritage/laurana_3dhop.ply",
    "pointcloud_colour/open3d_frag_115_colored.ply",
    "gltf/Duck.glb",
    "gltf/CesiumMilkTruck.glb",
    "gltf/AlphaBlendModeTest.glb",
    "gltf/no_indices_3storybuilding.glb",
    "gltf/BoxTextured.glb",
    "gltf/bunny_gltf.drc",
]


@pytest.mark.corpus
@needs_corpus
@pytest.mark.parametrize("name", CORPUS_MODELS)
def test_corpus_models_load(tmp_path: Path, name: str) -> None:
    model = load(CORPUS_3D / name, tmp_path)
    assert model.triangle_count > 0 and np.isfinite(model.bounds()).all()
    if name.startswith("heritage"):
        assert model.parts[0].colors is not None and model.parts[0].normals is not None
    if name.endswith(("Duck.glb", "BoxTextured.glb", "CesiumMilkTruck.glb")):
        assert any(part.texture is not None and part.uv is not None for part in model.parts)
    if name.endswith("CesiumMilkTruck.glb"):
        assert len(model.parts) == 5  # the wheels mesh is placed twice


@pytest.mark.corpus
@needs_corpus
def test_corpus_empty_glb_is_refused(tmp_path: Path) -> None:
    refused(CORPUS_3D / "gltf" / "empty_nodes.glb", tmp_path, "empty_model")


@pytest.mark.corpus
@needs_corpus
def test_corpus_photogrammetry_folder_keeps_its_texture(tmp_path: Path) -> None:
    model = load(CORPUS_3D / "photogrammetry_obj_esp32rig", tmp_path)
    (part,) = model.parts
    assert model.source_format == "obj" and part.triangle_count == 53364
    assert part.texture is not None and part.texture.pixels.shape == (4096, 4096, 3)
    assert part.uv is not None and part.uv.shape == (len(part.vertices), 2)
    assert float(part.uv.min()) >= 0.0 and float(part.uv.max()) <= 1.0
