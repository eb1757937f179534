"""Write web-ready GLB files: quantized attributes, optional EXT_meshopt_compression.

The layout follows what glTF loaders expect from gltfpack-style files, so three.js,
Babylon.js and model-viewer open them with their stock decoders:

* positions are quantized to ``position_bits`` unsigned integers on one grid for
  the whole model (KHR_mesh_quantization); the node's scale and translation turn
  them back into metres, so nothing is lost but sub-grid precision;
* normals are 8-bit signed normalized (octahedral-filtered when compressed);
* texture coordinates are ``uv_bits`` unsigned normalized, put back in place by a
  KHR_texture_transform on the material;
* colours are 8-bit unsigned normalized RGBA; indices are 16-bit when they fit.

Each attribute gets its own buffer view (one stream per attribute compresses best).
With compression, every vertex and index stream is encoded with meshoptimizer and the
uncompressed layout becomes a "fallback" buffer with no bytes, as the extension allows.
Output is deterministic: the same input gives byte-identical files.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

import meshoptimizer
import numpy as np
import numpy.typing as npt

from processing.threed.model import ByteArray, Float32Array, FloatArray, IndexArray

GLB_MAGIC = 0x46546C67
JSON_CHUNK = 0x4E4F534A
BIN_CHUNK = 0x004E4942
BYTE, UNSIGNED_BYTE, UNSIGNED_SHORT, UNSIGNED_INT = 5120, 5121, 5123, 5125
TRIANGLES, POINTS = 4, 0
GENERATOR = "daklak-museum"


@dataclass
class Image:
    data: bytes
    mime_type: str  # image/jpeg, image/png, image/webp


@dataclass
class Primitive:
    """One material's geometry in final coordinates (metres, Y-up)."""

    positions: FloatArray  # (n, 3)
    indices: IndexArray | None  # (m * 3,) or None for points
    normals: Float32Array | None = None
    uv: Float32Array | None = None
    colors: ByteArray | None = None  # (n, 4)
    image: Image | None = None
    base_color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    double_sided: bool = True
    blend: bool = False


@dataclass(frozen=True)
class Quantization:
    position_bits: int = 14
    uv_bits: int = 12
    normal_bits: int = 8


@dataclass
class _Writer:
    compress: bool
    json: dict[str, Any] = field(default_factory=dict)
    plain: bytearray = field(default_factory=bytearray)  # uncompressed streams (or fallback)
    packed: bytearray = field(default_factory=bytearray)  # compressed streams, then images

    def view(
        self,
        data: bytes,
        *,
        stride: int | None,
        count: int,
        mode: str | None,
        filter_name: str | None = None,
    ) -> int:
        """Add a buffer view for a vertex or index stream and return its index."""
        views: list[dict[str, Any]] = self.json.setdefault("bufferViews", [])
        _pad(self.plain)
        entry = _view_entry(len(self.plain), len(data))
        if stride is not None:
            entry["byteStride"] = stride
        self.plain.extend(data)
        if self.compress and mode is not None:
            entry["buffer"] = 1
            encoded = _encode(data, stride or 0, count, mode)
            _pad(self.packed)
            extension = _view_entry(len(self.packed), len(encoded))
            extension |= {
                "byteStride": stride if stride is not None else _index_size(data, count),
                "mode": mode,
                "count": count,
            }
            if filter_name:
                extension["filter"] = filter_name
            entry["extensions"] = {"EXT_meshopt_compression": extension}
            self.packed.extend(encoded)
        views.append(entry)
        return len(views) - 1

    def image_view(self, data: bytes) -> int:
        """Images are never meshopt-encoded: they live in the real buffer."""
        views: list[dict[str, Any]] = self.json.setdefault("bufferViews", [])
        store = self.packed if self.compress else self.plain
        _pad(store)
        views.append(_view_entry(len(store), len(data)))
        store.extend(data)
        return len(views) - 1

    def accessor(self, view: int, component: int, count: int, kind: str, **extra: Any) -> int:
        accessors: list[dict[str, Any]] = self.json.setdefault("accessors", [])
        accessors.append(
            {"bufferView": view, "componentType": component, "count": count, "type": kind, **extra}
        )
        return len(accessors) - 1


def _view_entry(offset: int, length: int) -> dict[str, Any]:
    """A buffer view's location; a zero offset is the default and left out.

    Views carry no ``target`` hint: it is optional, loaders infer it from use, and
    leaving it out keeps the JSON as short as gltfpack's.
    """
    entry: dict[str, Any] = {"buffer": 0}
    if offset:
        entry["byteOffset"] = offset
    entry["byteLength"] = length
    return entry


def _short(value: float) -> float:
    """``value`` as the shortest decimal that reads back as the same float32.

    Loaders hold these (node translation and scale, texture transforms) as float32
    or apply them to 14-bit integers, so more digits would only lengthen the JSON.
    """
    return float(str(np.float32(value)))


def _pad(buffer: bytearray) -> None:
    buffer.extend(b"\x00" * (-len(buffer) % 4))


def _index_size(data: bytes, count: int) -> int:
    return len(data) // count if count else 4


def _encode(data: bytes, stride: int, count: int, mode: str) -> bytes:
    if mode == "TRIANGLES":
        index_type = np.uint16 if len(data) == 2 * count else np.uint32
        indices = np.frombuffer(data, dtype=index_type).astype(np.uint32)
        meshoptimizer.encode_index_version(1)
        return bytes(meshoptimizer.encode_index_buffer(indices, count, _vertex_bound(indices)))
    meshoptimizer.encode_vertex_version(0)  # the version EXT_meshopt_compression defines
    vertices = np.frombuffer(data, dtype=np.uint8).reshape(count, stride)
    return bytes(meshoptimizer.encode_vertex_buffer(vertices, count, stride))


def _vertex_bound(indices: IndexArray) -> int:
    return int(indices.max()) + 1 if len(indices) else 0


# Quantization (same rounding as meshoptimizer's quantizeUnorm / quantizeSnorm)


def quantize_unorm(values: npt.NDArray[np.floating[Any]], bits: int) -> npt.NDArray[np.int64]:
    scale = (1 << bits) - 1
    clamped = np.clip(values, 0.0, 1.0)
    result: npt.NDArray[np.int64] = (clamped * scale + 0.5).astype(np.int64)
    return result


def quantize_snorm(values: npt.NDArray[np.floating[Any]], bits: int) -> npt.NDArray[np.int64]:
    scale = (1 << (bits - 1)) - 1
    clamped = np.clip(values, -1.0, 1.0)
    rounding = np.where(clamped >= 0, 0.5, -0.5)
    result: npt.NDArray[np.int64] = (clamped * scale + rounding).astype(np.int64)
    return result


def encode_octahedral(normals: Float32Array, bits: int) -> npt.NDArray[np.int8]:
    """Normals as meshopt's OCTAHEDRAL filter stores them: (u, v, one, 0) signed bytes."""
    n = normals.astype(np.float64)
    length = np.abs(n).sum(axis=1)
    scale = np.divide(1.0, length, out=np.zeros_like(length), where=length != 0)
    nx, ny, nz = n[:, 0] * scale, n[:, 1] * scale, n[:, 2]
    sign_x = np.where(nx >= 0, 1.0, -1.0)
    sign_y = np.where(ny >= 0, 1.0, -1.0)
    u = np.where(nz >= 0, nx, (1 - np.abs(ny)) * sign_x)
    v = np.where(nz >= 0, ny, (1 - np.abs(nx)) * sign_y)
    out = np.zeros((len(n), 4), dtype=np.int8)
    out[:, 0] = quantize_snorm(u, bits)
    out[:, 1] = quantize_snorm(v, bits)
    out[:, 2] = quantize_snorm(np.ones(1), bits)[0]
    return out


def vertex_normals(positions: FloatArray, indices: IndexArray) -> Float32Array:
    """Area-weighted vertex normals (unit length; zero-area neighbourhoods point up)."""
    triangles = positions[indices.reshape(-1, 3)]
    face = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    flat = indices.astype(np.int64)
    count = len(positions)
    summed = np.stack(
        [
            np.bincount(flat, weights=np.repeat(face[:, axis], 3), minlength=count)
            for axis in range(3)
        ],
        axis=1,
    )
    length = np.linalg.norm(summed, axis=1)
    normals = np.zeros_like(summed)
    normals[:, 1] = 1.0
    ok = length > 0
    normals[ok] = summed[ok] / length[ok, None]
    return normals.astype(np.float32)


# The document


def write_glb(
    primitives: list[Primitive],
    *,
    quantization: Quantization = Quantization(),
    compress: bool = True,
    extras: dict[str, Any] | None = None,
) -> bytes:
    """The GLB file holding ``primitives`` as one mesh under one dequantizing node."""
    if not primitives:
        raise ValueError("a GLB needs at least one primitive")
    writer = _Writer(compress=compress)
    doc = writer.json
    doc["asset"] = {"version": "2.0", "generator": GENERATOR}
    if extras:
        doc["asset"]["extras"] = extras
    low = np.min([p.positions.min(axis=0) for p in primitives], axis=0)
    high = np.max([p.positions.max(axis=0) for p in primitives], axis=0)
    extent = float((high - low).max())
    grid_scale = extent if extent > 0 else 1.0
    used = {"KHR_mesh_quantization"}
    mesh_primitives = []
    for primitive in primitives:
        mesh_primitives.append(_primitive(writer, primitive, low, grid_scale, quantization, used))
    doc["meshes"] = [{"primitives": mesh_primitives}]
    step = grid_scale / ((1 << quantization.position_bits) - 1)
    doc["nodes"] = [
        {"mesh": 0, "translation": [_short(v) for v in low], "scale": [_short(step)] * 3}
    ]
    doc["scenes"] = [{"nodes": [0]}]
    doc["scene"] = 0
    if compress:
        used.add("EXT_meshopt_compression")
    ordered = sorted(used)
    doc["extensionsUsed"] = ordered
    doc["extensionsRequired"] = [
        name for name in ordered if name in {"KHR_mesh_quantization", "EXT_meshopt_compression"}
    ]
    if "EXT_texture_webp" in used:
        doc["extensionsRequired"].append("EXT_texture_webp")
    if compress:
        _pad(writer.plain)
        doc["buffers"] = [
            {"byteLength": len(writer.packed)},
            {
                "byteLength": len(writer.plain),
                "extensions": {"EXT_meshopt_compression": {"fallback": True}},
            },
        ]
        binary = bytes(writer.packed)
    else:
        doc["buffers"] = [{"byteLength": len(writer.plain)}]
        binary = bytes(writer.plain)
    _order_keys(doc)
    return _container(doc, binary)


def _order_keys(doc: dict[str, Any]) -> None:
    """Put the top-level keys in a conventional order (readers don't care; humans do)."""
    order = [
        "asset", "extensionsUsed", "extensionsRequired", "scene", "scenes", "nodes", "meshes",
        "materials", "textures", "samplers", "images", "accessors", "bufferViews", "buffers",
    ]  # fmt: skip
    items = {key: doc.pop(key) for key in order if key in doc}
    doc.update(items)


def _container(doc: dict[str, Any], binary: bytes) -> bytes:
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    text += b" " * (-len(text) % 4)
    body = binary + b"\x00" * (-len(binary) % 4)
    total = 12 + 8 + len(text) + (8 + len(body) if body else 0)
    out = bytearray(struct.pack("<III", GLB_MAGIC, 2, total))
    out += struct.pack("<II", len(text), JSON_CHUNK) + text
    if body:
        out += struct.pack("<II", len(body), BIN_CHUNK) + body
    return bytes(out)


def _primitive(
    writer: _Writer,
    primitive: Primitive,
    low: FloatArray,
    grid_scale: float,
    quantization: Quantization,
    used: set[str],
) -> dict[str, Any]:
    count = len(primitive.positions)
    attributes: dict[str, int] = {}
    # Positions: unsigned integers on the model's grid, padded to 8 bytes per vertex.
    grid = quantize_unorm((primitive.positions - low) / grid_scale, quantization.position_bits)
    padded = np.zeros((count, 4), dtype=np.uint16)
    padded[:, :3] = grid
    view = writer.view(padded.tobytes(), stride=8, count=count, mode="ATTRIBUTES")
    attributes["POSITION"] = writer.accessor(
        view,
        UNSIGNED_SHORT,
        count,
        "VEC3",
        min=[int(v) for v in grid.min(axis=0)],
        max=[int(v) for v in grid.max(axis=0)],
    )
    normals = primitive.normals
    if normals is None and primitive.indices is not None:
        normals = vertex_normals(primitive.positions, primitive.indices)
    if normals is not None:
        attributes["NORMAL"] = _normals(writer, normals, quantization.normal_bits)
    uv_transform = None
    if primitive.uv is not None and primitive.image is not None:
        attributes["TEXCOORD_0"], uv_transform = _texcoords(writer, primitive.uv, quantization)
    if primitive.colors is not None:
        colors = np.ascontiguousarray(primitive.colors, dtype=np.uint8)
        view = writer.view(colors.tobytes(), stride=4, count=count, mode="ATTRIBUTES")
        attributes["COLOR_0"] = writer.accessor(view, UNSIGNED_BYTE, count, "VEC4", normalized=True)
    entry: dict[str, Any] = {"attributes": attributes}
    if primitive.indices is not None:
        entry["indices"] = _indices(writer, primitive.indices, count)
    else:
        entry["mode"] = POINTS
    entry["material"] = _material(writer, primitive, uv_transform, used)
    return entry


def _normals(writer: _Writer, normals: Float32Array, bits: int) -> int:
    count = len(normals)
    if writer.compress:
        data = encode_octahedral(normals, bits)
        filter_name: str | None = "OCTAHEDRAL"
    else:
        data = np.zeros((count, 4), dtype=np.int8)
        data[:, :3] = quantize_snorm(normals, bits)
        filter_name = None
    view = writer.view(
        data.tobytes(),
        stride=4,
        count=count,
        mode="ATTRIBUTES",
        filter_name=filter_name,
    )
    return writer.accessor(view, BYTE, count, "VEC3", normalized=True)


def _texcoords(
    writer: _Writer, uv: Float32Array, quantization: Quantization
) -> tuple[int, dict[str, Any]]:
    count = len(uv)
    bits = quantization.uv_bits
    offset = uv.min(axis=0).astype(np.float64)
    span = uv.max(axis=0).astype(np.float64) - offset
    span[span == 0] = 1.0
    grid = quantize_unorm((uv - offset) / span, bits).astype(np.uint16)
    view = writer.view(
        np.ascontiguousarray(grid).tobytes(),
        stride=4,
        count=count,
        mode="ATTRIBUTES",
    )
    accessor = writer.accessor(view, UNSIGNED_SHORT, count, "VEC2", normalized=True)
    stretch = 65535.0 / ((1 << bits) - 1)
    transform = {
        "offset": [_short(offset[0]), _short(offset[1])],
        "scale": [_short(span[0] * stretch), _short(span[1] * stretch)],
    }
    return accessor, transform


def _indices(writer: _Writer, indices: IndexArray, vertex_count: int) -> int:
    small = vertex_count <= 65535
    data = indices.astype(np.uint16 if small else np.uint32)
    view = writer.view(
        data.tobytes(),
        stride=None,
        count=len(indices),
        mode="TRIANGLES",
    )
    return writer.accessor(view, UNSIGNED_SHORT if small else UNSIGNED_INT, len(indices), "SCALAR")


def _material(
    writer: _Writer,
    primitive: Primitive,
    uv_transform: dict[str, Any] | None,
    used: set[str],
) -> int:
    doc = writer.json
    # Scans are matte and not metal: metallic 0, roughness left at its default of 1.
    pbr: dict[str, Any] = {"metallicFactor": 0}
    color = [float(c) for c in primitive.base_color]
    if color != [1.0, 1.0, 1.0, 1.0]:
        pbr["baseColorFactor"] = color
    if primitive.image is not None and uv_transform is not None:
        texture_index = _texture(writer, primitive.image, used)
        used.add("KHR_texture_transform")
        pbr["baseColorTexture"] = {
            "index": texture_index,
            "extensions": {"KHR_texture_transform": uv_transform},
        }
    material: dict[str, Any] = {"pbrMetallicRoughness": pbr}
    if primitive.double_sided:
        material["doubleSided"] = True
    if primitive.blend:
        material["alphaMode"] = "BLEND"
    materials: list[dict[str, Any]] = doc.setdefault("materials", [])
    materials.append(material)
    return len(materials) - 1


def _texture(writer: _Writer, image: Image, used: set[str]) -> int:
    doc = writer.json
    view = writer.image_view(image.data)
    images: list[dict[str, Any]] = doc.setdefault("images", [])
    images.append({"bufferView": view, "mimeType": image.mime_type})
    samplers: list[dict[str, Any]] = doc.setdefault("samplers", [])
    if not samplers:
        samplers.append({"magFilter": 9729, "minFilter": 9987})
    textures: list[dict[str, Any]] = doc.setdefault("textures", [])
    if image.mime_type == "image/webp":
        used.add("EXT_texture_webp")
        textures.append(
            {"sampler": 0, "extensions": {"EXT_texture_webp": {"source": len(images) - 1}}}
        )
    else:
        textures.append({"sampler": 0, "source": len(images) - 1})
    return len(textures) - 1
