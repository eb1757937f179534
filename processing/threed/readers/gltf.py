"""Readers for glTF, GLB and raw Draco files."""

from __future__ import annotations

import base64
import importlib
import importlib.util
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import trimesh

from processing.threed.bundle import check_limit, resolve_reference
from processing.threed.model import (
    Model,
    ModelError,
    Part,
)
from processing.threed.readers.common import (
    MaterialPolicy,
    ReadContext,
    colors_rgba,
    gltf_uv,
    library,
    load_with_trimesh,
    one_line,
    probe_image,
)

# glTF extensions a file may *require* that trimesh reads (Draco through DracoPy).
GLTF_REQUIRED_OK = {
    "KHR_draco_mesh_compression",
    "KHR_materials_unlit",
    "KHR_materials_emissive_strength",
    "KHR_materials_pbrSpecularGlossiness",
    "KHR_texture_transform",
}
GLTF_TRIANGLES, GLTF_STRIP, GLTF_FAN, GLTF_POINTS = 4, 5, 6, 0

# --- glTF / GLB ----------------------------------------------------------------------


@dataclass
class GltfFile:
    tree: dict[str, Any]
    bin_offset: int  # where a GLB's BIN chunk starts in the file (-1: none)
    bin_length: int


def read_gltf_json(path: Path, binary: bool) -> GltfFile:
    """The glTF JSON (from a .gltf or a GLB's first chunk) and where the GLB's BIN chunk is."""
    bin_offset, bin_length = -1, 0
    with path.open("rb") as stream:
        if not binary:
            text = stream.read()
        else:
            _magic, version, _ = struct.unpack("<4sII", stream.read(12))
            if version != 2:
                raise ModelError(
                    "unsupported_format",
                    f"GLB version {version} is not supported; export glTF 2.0.",
                )
            length, kind = struct.unpack("<I4s", stream.read(8))
            if kind != b"JSON":
                raise ModelError("malformed", "The GLB file does not start with a JSON chunk.")
            size = path.stat().st_size
            if length > size - 20:  # a lying length: never read past what is there as JSON
                raise ModelError(
                    "malformed",
                    f"The GLB's JSON chunk claims {length} bytes; the file has {size - 20}.",
                )
            text = stream.read(length)
            stream.seek((20 + length + 3) & ~3)
            chunk = stream.read(8)
            if len(chunk) == 8:
                bin_length, kind = struct.unpack("<I4s", chunk)
                bin_offset = stream.tell() if kind == b"BIN\x00" else -1
    try:
        tree = json.loads(trimesh.util.decode_text(text))
    except ValueError as exc:
        raise ModelError("malformed", f"The glTF JSON is malformed: {one_line(exc)}.") from exc
    if not isinstance(tree, dict):
        raise ModelError("malformed", "The glTF JSON is not an object.")
    return GltfFile(tree=tree, bin_offset=bin_offset, bin_length=bin_length)


def _mesh_counts(tree: dict[str, Any], mesh: dict[str, Any]) -> tuple[int, int, int]:
    """(vertices, triangles, points) one instance of a glTF mesh declares."""
    accessors = tree.get("accessors", [])
    vertices = faces = points = 0
    for primitive in mesh.get("primitives", []):
        position = primitive.get("attributes", {}).get("POSITION")
        if position is None:
            continue
        count = int(accessors[position]["count"])
        indices = primitive.get("indices")
        corners = int(accessors[indices]["count"]) if indices is not None else count
        mode = primitive.get("mode", GLTF_TRIANGLES)
        if mode == GLTF_POINTS:
            points += count
        elif mode == GLTF_TRIANGLES:
            vertices, faces = vertices + count, faces + corners // 3
        elif mode in (GLTF_STRIP, GLTF_FAN):
            vertices, faces = vertices + count, faces + max(corners - 2, 0)
    return vertices, faces, points


def gltf_counts(tree: dict[str, Any]) -> tuple[int, int, int]:
    """Declared totals with node instancing (a mesh used by five nodes counts five times)."""
    meshes = [_mesh_counts(tree, mesh) for mesh in tree.get("meshes", [])]
    nodes = tree.get("nodes", [])
    if not nodes:
        return tuple(int(sum(c[i] for c in meshes)) for i in range(3))  # type: ignore[return-value]
    memo: dict[int, tuple[int, int, int]] = {}

    def subtree(index: int, trail: frozenset[int]) -> tuple[int, int, int]:
        if index in trail:
            raise ModelError("malformed", f"The glTF node {index} is its own ancestor.")
        if index not in memo:
            node = nodes[index]
            total = list(meshes[node["mesh"]]) if "mesh" in node else [0, 0, 0]
            for child in node.get("children", []):
                for i, value in enumerate(subtree(child, trail | {index})):
                    total[i] += value
            memo[index] = (total[0], total[1], total[2])
        return memo[index]

    scenes = tree.get("scenes", [])
    if scenes:
        roots = scenes[int(tree.get("scene", 0))].get("nodes", [])
    else:
        children = {c for node in nodes for c in node.get("children", [])}
        roots = [i for i in range(len(nodes)) if i not in children]
    totals = [0, 0, 0]
    for root in roots:
        for i, value in enumerate(subtree(root, frozenset())):
            totals[i] += value
    return totals[0], totals[1], totals[2]


def _check_gltf_extensions(tree: dict[str, Any], label: str) -> None:
    required = set(tree.get("extensionsRequired", []))
    missing = sorted(required - GLTF_REQUIRED_OK)
    if missing:
        raise ModelError(
            "unsupported_feature",
            f"The {label} file requires the extension {', '.join(missing)}, which this reader "
            "does not support; export it without that extension.",
        )
    if "KHR_draco_mesh_compression" in required and importlib.util.find_spec("DracoPy") is None:
        raise ModelError(
            "unsupported_feature",
            f"The {label} file uses Draco compression, and DracoPy is not installed.",
        )


def _data_uri(uri: str, what: str, ctx: ReadContext) -> bytes:
    """A base64 ``data:`` URI's bytes, refused before decoding when above the limit."""
    payload = uri.split(",", 1)[1] if "," in uri else ""
    size = len(payload) * 3 // 4
    check_limit(ctx.limits, "max_data_uri_bytes", size, f"{what} is a {size}-byte data: URI")
    if ";base64" not in uri.split(",", 1)[0]:
        return unquote(payload).encode("latin-1")
    return base64.b64decode(payload)


def _gltf_file(uri: str, path: Path, what: str, ctx: ReadContext) -> Path:
    """A glTF ``uri`` checked against the upload (percent-encoding understood)."""
    raw = resolve_reference(ctx.root, path.parent, uri, path.name)
    decoded = resolve_reference(ctx.root, path.parent, unquote(uri), path.name, written=uri)
    return decoded if decoded.exists() or not raw.exists() else raw


class _GltfBuffers:
    """Byte ranges of a glTF's buffers, read from disk only when an image needs them."""

    def __init__(self, gltf: GltfFile, path: Path, ctx: ReadContext) -> None:
        self.gltf, self.path, self.ctx = gltf, path, ctx
        self.sources: dict[int, Path | bytes] = {}

    def view(self, index: int) -> bytes:
        view = self.gltf.tree["bufferViews"][index]
        buffer = int(view.get("buffer", 0))
        start, length = int(view.get("byteOffset", 0)), int(view["byteLength"])
        source = self.sources.get(buffer)
        if source is None and self.gltf.bin_offset >= 0 and buffer == 0:
            start += self.gltf.bin_offset
            source = self.path
        if isinstance(source, bytes):
            return source[start : start + length]
        if source is None:
            raise ModelError("malformed", f"The glTF bufferView {index} has no buffer.")
        with source.open("rb") as stream:
            stream.seek(start)
            return stream.read(length)


def _gltf_preflight(path: Path, binary: bool, ctx: ReadContext) -> dict[str, Path]:
    """Limits from the JSON and every ``uri`` checked; returns the files trimesh may read."""
    label = "GLB" if binary else "glTF"
    gltf = read_gltf_json(path, binary)
    tree = gltf.tree
    _check_gltf_extensions(tree, label)
    if "KHR_texture_transform" in tree.get("extensionsUsed", []):
        ctx.warn(
            f"The {label} file uses KHR_texture_transform, which is ignored: check the textures."
        )
    try:
        vertices, faces, points = gltf_counts(tree)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise ModelError(
            "malformed", f"The {label} JSON has a broken mesh or node ({one_line(exc)})."
        ) from exc
    check_limit(
        ctx.limits, "max_vertices", vertices, f"The {label} file declares {vertices} vertices"
    )
    check_limit(ctx.limits, "max_faces", faces, f"The {label} file declares {faces} triangles")
    check_limit(ctx.limits, "max_points", points, f"The {label} file declares {points} points")
    approved: dict[str, Path] = {}
    buffers = _GltfBuffers(gltf, path, ctx)
    for index, buffer in enumerate(tree.get("buffers", [])):
        uri = buffer.get("uri")
        if uri is None:
            continue
        if uri.startswith("data:"):
            buffers.sources[index] = _data_uri(uri, f"Buffer {index} of {path.name}", ctx)
            continue
        file = _gltf_file(uri, path, f"buffer '{uri}'", ctx)
        if not file.is_file():
            raise ModelError(
                "missing_file", f"{path.name} needs the buffer '{uri}', which is not in the upload."
            )
        approved[uri] = buffers.sources[index] = file
    images = tree.get("images", [])
    check_limit(
        ctx.limits, "max_textures", len(images), f"The {label} file has {len(images)} images"
    )
    for index, image in enumerate(images):
        uri = image.get("uri")
        label_image = f"'{uri}'" if uri and not uri.startswith("data:") else f"#{index}"
        if uri is not None and not uri.startswith("data:"):
            file = _gltf_file(uri, path, f"image '{uri}'", ctx)
            if not file.is_file():
                ctx.warn(
                    f"The texture '{uri}' named in {path.name} is not in the upload; "
                    "the model is loaded without it."
                )
            elif probe_image(file, label_image, ctx):
                approved[uri] = file
        elif uri is not None:
            probe_image(_data_uri(uri, f"Image {index} of {path.name}", ctx), label_image, ctx)
        elif "bufferView" in image:
            probe_image(buffers.view(int(image["bufferView"])), label_image, ctx)
    return approved


def read_gltf(path: Path, ctx: ReadContext, binary: bool = False) -> Model:
    approved = _gltf_preflight(path, binary, ctx)
    policy = MaterialPolicy(texture_ok=lambda material: True)
    file_type = "glb" if binary else "gltf"
    parts, _ = load_with_trimesh(path, file_type, approved, policy, ctx)
    return Model(parts=parts, source_format=file_type)


def read_glb(path: Path, ctx: ReadContext) -> Model:
    return read_gltf(path, ctx, binary=True)


# --- Draco ---------------------------------------------------------------------------


def read_drc(path: Path, ctx: ReadContext) -> Model:
    """A raw Draco file: DracoPy decodes a mesh or a point cloud (counts checked after)."""
    decoded = library("DracoPy").decode(path.read_bytes())
    vertices = np.asarray(decoded.points, dtype=np.float64).reshape(-1, 3)
    count = len(vertices)
    faces_raw = getattr(decoded, "faces", None)
    faces = None
    if faces_raw is not None and len(faces_raw):
        faces = np.asarray(faces_raw, dtype=np.uint32).reshape(-1, 3)
    normals = decoded.normals
    uv = getattr(decoded, "tex_coord", None)
    part = Part(
        vertices=vertices,
        faces=faces,
        normals=None if normals is None else np.asarray(normals, dtype=np.float32),
        uv=gltf_uv(uv, count) if uv is not None and len(uv) else None,
        colors=colors_rgba(decoded.colors, count, ctx),
        name=path.stem,
    )
    return Model(parts=[part], source_format="drc")
