"""The GLB checkers other 3D tests rely on: they must pass good files and catch bad ones.

If these tools said "0 errors" to everything, every pipeline test built on them would be
hollow, so each test here pairs a file that must pass with one that must fail.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import trimesh

from tests.gltf_tools import decode_glb, gltf_tools_available, load_with_three, validate_glb

SKIP_REASON = gltf_tools_available()
pytestmark = pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")

GLTFPACK = shutil.which("gltfpack")
needs_gltfpack = pytest.mark.skipif(
    GLTFPACK is None, reason="gltfpack is not installed (apt-get install gltfpack)"
)

FloatArray = npt.NDArray[np.float64]

GLB_MAGIC = 0x46546C67
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
# gltfpack's default 14-bit positions on a sphere of radius 1: one step is 2 / (2**14 - 1).
QUANTIZATION_TOLERANCE = 2.5e-4
ICOSPHERE_SUBDIVISIONS = 4  # 5120 triangles, 2562 vertices


def split_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The JSON document and binary chunk of a GLB (for editing test files)."""
    json_length = struct.unpack_from("<I", data, 12)[0]
    document = json.loads(data[20 : 20 + json_length])
    rest = data[20 + json_length :]
    binary = rest[8 : 8 + struct.unpack_from("<I", rest, 0)[0]] if rest else b""
    return document, binary


def join_glb(document: dict[str, Any], binary: bytes) -> bytes:
    """A well-formed GLB from a document and an optional binary chunk."""
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    chunks = struct.pack("<II", len(text), CHUNK_JSON) + text
    if binary:
        padded = binary + b"\0" * (-len(binary) % 4)
        chunks += struct.pack("<II", len(padded), CHUNK_BIN) + padded
    return struct.pack("<III", GLB_MAGIC, 2, 12 + len(chunks)) + chunks


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def box_glb(tmp_path: Path) -> Path:
    return write(tmp_path / "box.glb", trimesh.creation.box().export(file_type="glb"))


def test_trimesh_box_is_valid_and_both_readers_see_it(box_glb: Path) -> None:
    [report] = validate_glb([box_glb])
    assert (report["numErrors"], report["numWarnings"], report["messages"]) == (0, 0, [])
    [mesh] = decode_glb(box_glb)["meshes"]
    assert (mesh["positions_count"], mesh["index_count"]) == (8, 36)
    assert mesh["bbox_min"] == [-0.5] * 3 and mesh["bbox_max"] == [0.5] * 3
    [seen] = load_with_three(box_glb)["meshes"]
    assert (seen["positions_count"], seen["index_count"]) == (8, 36)
    assert seen["bbox_min"] == mesh["bbox_min"] and seen["bbox_max"] == mesh["bbox_max"]


def test_damaged_glbs_are_reported_with_the_right_code(box_glb: Path, tmp_path: Path) -> None:
    data = box_glb.read_bytes()
    document, binary = split_glb(data)
    bad_reference = json.loads(json.dumps(document))
    bad_reference["meshes"][0]["primitives"][0]["attributes"]["POSITION"] = 99
    # The first index (uint32 at the start of the index view) points past the 8 vertices.
    index_offset = document["bufferViews"][document["accessors"][0]["bufferView"]]["byteOffset"]
    bad_index = bytearray(binary)
    struct.pack_into("<I", bad_index, index_offset, 200)
    cases = {
        "GLB_UNEXPECTED_END_OF_CHUNK_DATA": data[:-40],
        "GLB_INVALID_MAGIC": b"gLTF" + data[4:],
        "GLB_LENGTH_MISMATCH": data[:8] + struct.pack("<I", len(data) + 100) + data[12:],
        "UNRESOLVED_REFERENCE": join_glb(bad_reference, binary),
        "ACCESSOR_INDEX_OOB": join_glb(document, bytes(bad_index)),
        "NOT_GLTF": b"not a model at all",
    }
    paths = [write(tmp_path / f"{code}.glb", body) for code, body in cases.items()]
    reports = validate_glb([box_glb, *paths])
    assert reports[0]["numErrors"] == 0  # the undamaged original, in the same run
    for code, report in zip(cases, reports[1:], strict=True):
        assert report["numErrors"] > 0, code
        assert code in {m["code"] for m in report["messages"]}, report["messages"]


def test_a_missing_file_is_a_tool_error_not_an_invalid_model(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="ENOENT"):
        validate_glb([tmp_path / "absent.glb"])


def test_uris_leaving_the_folder_are_refused_and_never_read(box_glb: Path, tmp_path: Path) -> None:
    """The secret holds exactly the buffer the asset needs, so reading it would validate clean."""
    document, binary = split_glb(box_glb.read_bytes())
    (tmp_path / "secret.bin").write_bytes(binary)
    asset = tmp_path / "asset"
    asset.mkdir()
    (asset / "box.bin").write_bytes(binary)
    (asset / "link.bin").symlink_to(tmp_path / "secret.bin")

    def external(name: str, uri: str) -> Path:
        document["buffers"][0]["uri"] = uri
        return write(asset / name, join_glb(document, b""))

    sibling = external("sibling.glb", "box.bin")
    escape = external("escape.glb", "../secret.bin")
    encoded = external("encoded.glb", "%2E%2E/secret.bin")
    linked = external("linked.glb", "link.bin")
    reports = validate_glb([sibling, escape, encoded, linked])

    assert reports[0]["numErrors"] == 0
    assert reports[0]["externalResources"]["read"] == ["box.bin"]
    for report in reports[1:]:
        assert report["numErrors"] > 0
        assert report["externalResources"]["read"] == []
        assert len(report["externalResources"]["refused"]) == 1
        assert "IO_ERROR" in {m["code"] for m in report["messages"]}
    assert decode_glb(sibling)["meshes"][0]["positions_count"] == 8
    with pytest.raises(RuntimeError, match="outside the asset's folder"):
        decode_glb(escape)


def trs_matrix(translation: list[float], rotation: list[float], scale: list[float]) -> FloatArray:
    """T * R * S for a unit quaternion (x, y, z, w), the glTF node convention."""
    x, y, z, w = rotation
    r = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    matrix = np.eye(4)
    matrix[:3, :3] = r * np.array(scale)
    matrix[:3, 3] = translation
    return matrix


def unit_quaternion(axis: list[float], angle: float) -> list[float]:
    unit = np.array(axis) / np.linalg.norm(axis)
    return [*(unit * np.sin(angle / 2)).tolist(), float(np.cos(angle / 2))]


PARENT = {
    "translation": [10.0, -4.0, 2.0],
    "rotation": unit_quaternion([1, 2, 3], 0.9),
    "scale": [1.0, 2.0, 3.0],
}
CHILD = {
    "translation": [0.0, 0.0, 5.0],
    "rotation": unit_quaternion([0, 0, 1], 1.1),
    "scale": [1.0, 1.0, 1.0],
}


def hierarchy_glbs(box_glb: Path) -> tuple[bytes, bytes, dict[str, FloatArray]]:
    """The box under a rotated, non-uniformly scaled parent and a child, as node matrices and as
    translation/rotation/scale, with each node's expected world-space corners."""
    document, binary = split_glb(box_glb.read_bytes())
    parent = trs_matrix(**PARENT)
    child = parent @ trs_matrix(**CHILD)
    variants = []
    for style in ("matrix", "trs"):
        nodes = []
        for name, params in (("parent", PARENT), ("child", CHILD)):
            node: dict[str, Any] = {"name": name, "mesh": 0}
            if style == "trs":
                node.update(params)
            else:
                node["matrix"] = trs_matrix(**params).T.flatten().tolist()  # column-major
            nodes.append(node)
        nodes[0]["children"] = [1]
        variants.append(join_glb({**document, "nodes": nodes, "scenes": [{"nodes": [0]}]}, binary))
    corners = np.array(trimesh.creation.box().vertices, dtype=np.float64)
    homogeneous = np.c_[corners, np.ones(len(corners))]
    world = {"parent": (homogeneous @ parent.T)[:, :3], "child": (homogeneous @ child.T)[:, :3]}
    return variants[0], variants[1], world


def test_node_transforms_matrix_and_trs_give_world_positions(box_glb: Path, tmp_path: Path) -> None:
    matrix_glb, trs_glb, world = hierarchy_glbs(box_glb)
    with_matrix = write(tmp_path / "matrix.glb", matrix_glb)
    with_trs = write(tmp_path / "trs.glb", trs_glb)
    assert [r["numErrors"] for r in validate_glb([with_matrix, with_trs])] == [0, 0]
    for path in (with_matrix, with_trs):
        decoded = decode_glb(path)["meshes"]
        seen = load_with_three(path)["meshes"]
        assert [m["node"] for m in decoded] == [0, 1]
        assert sorted(m["name"] for m in seen) == ["child", "parent"]
        for name, mesh in zip(("parent", "child"), decoded, strict=True):
            np.testing.assert_allclose(mesh["bbox_min"], world[name].min(axis=0), atol=1e-9)
            np.testing.assert_allclose(mesh["bbox_max"], world[name].max(axis=0), atol=1e-9)
        for mesh in seen:
            np.testing.assert_allclose(mesh["bbox_min"], world[mesh["name"]].min(axis=0), atol=1e-6)
            np.testing.assert_allclose(mesh["bbox_max"], world[mesh["name"]].max(axis=0), atol=1e-6)
    # Both files describe the same placement, so the decoded geometry is identical.
    hashes = [
        [m["sha256_triangles"] for m in decode_glb(p)["meshes"]] for p in (with_matrix, with_trs)
    ]
    assert hashes[0] == hashes[1] and hashes[0][0] != hashes[0][1]


def gltfpack(source: Path, output: Path, *flags: str) -> Path:
    assert GLTFPACK is not None
    subprocess.run([GLTFPACK, "-i", str(source), "-o", str(output), *flags], check=True)
    return output


@pytest.fixture
def icosphere_glb(tmp_path: Path) -> Path:
    sphere = trimesh.creation.icosphere(subdivisions=ICOSPHERE_SUBDIVISIONS)
    return write(tmp_path / "icosphere.glb", sphere.export(file_type="glb"))


@needs_gltfpack
@pytest.mark.parametrize("quantization", [[], ["-vpn"]], ids=["integer", "normalized"])
def test_meshopt_glb_decodes_to_its_uncompressed_twin(
    icosphere_glb: Path, tmp_path: Path, quantization: list[str]
) -> None:
    """The validator cannot look inside EXT_meshopt_compression, so the decode is the check."""
    compressed = gltfpack(icosphere_glb, tmp_path / "compressed.glb", "-cc", *quantization)
    plain = gltfpack(icosphere_glb, tmp_path / "plain.glb", *quantization)
    assert compressed.stat().st_size < plain.stat().st_size / 2

    packed, twin = validate_glb([compressed, plain])
    assert (packed["numErrors"], twin["numErrors"]) == (0, 0)
    assert "EXT_meshopt_compression" in packed["extensionsUsed"]
    assert packed["unsupportedExtensions"] == ["EXT_meshopt_compression"]
    assert "EXT_meshopt_compression" not in twin["extensionsUsed"]

    [source] = decode_glb(icosphere_glb)["meshes"]
    [decoded] = decode_glb(compressed)["meshes"]
    [reference] = decode_glb(plain)["meshes"]
    assert (decoded["positions_count"], decoded["index_count"]) == (2562, 15360)
    for key in ("positions_count", "index_count", "bbox_min", "bbox_max"):
        assert decoded[key] == reference[key], key
        assert decoded[key] == pytest.approx(source[key], abs=QUANTIZATION_TOLERANCE), key
    assert decoded["sha256_positions"] == reference["sha256_positions"]
    assert decoded["sha256_triangles"] == reference["sha256_triangles"]

    [seen] = load_with_three(compressed)["meshes"]
    assert (seen["positions_count"], seen["index_count"]) == (2562, 15360)
    np.testing.assert_allclose(seen["bbox_min"], decoded["bbox_min"], atol=1e-6)
    np.testing.assert_allclose(seen["bbox_max"], decoded["bbox_max"], atol=1e-6)


@needs_gltfpack
def test_geometry_hashes_notice_one_moved_vertex(icosphere_glb: Path, tmp_path: Path) -> None:
    plain = gltfpack(icosphere_glb, tmp_path / "plain.glb")
    document, binary = split_glb(plain.read_bytes())
    position = document["accessors"][
        document["meshes"][0]["primitives"][0]["attributes"]["POSITION"]
    ]
    offset = document["bufferViews"][position["bufferView"]].get("byteOffset", 0)
    moved = bytearray(binary)
    x = struct.unpack_from("<H", moved, offset)[0]
    struct.pack_into("<H", moved, offset, x + 1 if x < 8000 else x - 1)
    nudged = write(tmp_path / "nudged.glb", join_glb(document, bytes(moved)))

    [original] = decode_glb(plain)["meshes"]
    [changed] = decode_glb(nudged)["meshes"]
    assert changed["positions_count"] == original["positions_count"]
    assert changed["sha256_positions"] != original["sha256_positions"]
    assert changed["sha256_triangles"] != original["sha256_triangles"]
