"""Readers for OBJ (with MTL and textures), STL and PLY meshes."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import trimesh

from processing.threed.bundle import check_limit, resolve_reference
from processing.threed.model import (
    IndexArray,
    Limits,
    Model,
    ModelError,
    Part,
)
from processing.threed.readers.common import (
    MaterialPolicy,
    ReadContext,
    TextScan,
    line_chunks,
    load_with_trimesh,
    probe_image,
    scan_text,
)

PLY_HEADER_MAX = 1024 * 1024
PLY_TYPES = {
    "char", "uchar", "short", "ushort", "int", "uint", "float", "double",
    "int8", "uint8", "int16", "uint16", "int32", "uint32", "float32", "float64",
}  # fmt: skip

# --- OBJ -----------------------------------------------------------------------------


def _texture_reference(text: str) -> str:
    """The file name in a ``map_*`` value; options (``-s 1 1 1 file``) come first."""
    text = text.strip()
    return text.split()[-1] if text.startswith("-") and text.split() else text


def _mtl_textures(
    mtl: Path, obj: Path, ctx: ReadContext
) -> tuple[set[str], set[str], dict[str, Path]]:
    """Check an MTL's references: (material names, names with a usable texture, approved)."""
    text = trimesh.util.decode_text(mtl.read_bytes())
    names: set[str] = set()
    textured: set[str] = set()
    approved: dict[str, Path] = {}
    current = ""
    for line in str.splitlines(text.strip()):
        split = line.strip().split()
        if len(split) <= 1:
            continue
        key = split[0].lower()
        if key == "newmtl":
            current = " ".join(split[1:])
            names.add(current)
            continue
        if not (key.startswith("map_") or key in ("bump", "disp", "decal", "refl", "norm")):
            continue
        written = line.strip()[len(split[0]) :].strip()
        reference = _texture_reference(written)
        path = resolve_reference(ctx.root, mtl.parent, reference, mtl.name)
        if not path.is_file():
            beside_obj = resolve_reference(ctx.root, obj.parent, reference, mtl.name)
            path = beside_obj if beside_obj.is_file() else path
        if key != "map_kd":
            continue  # checked for safety; only the base colour map is used
        # trimesh asks for the rest of the line after "map_Kd", exactly as written.
        trimesh_name = line[line.lower().index("map_kd") + 6 :].strip()
        if not path.is_file():
            ctx.warn(
                f"The texture '{reference}' named in {mtl.name} is not in the upload; "
                "the model is loaded without it."
            )
        elif probe_image(path, f"'{reference}'", ctx):
            approved[trimesh_name] = path
            textured.add(current)
    return names, textured, approved


def _obj_preflight(
    path: Path, ctx: ReadContext
) -> tuple[TextScan, MaterialPolicy, dict[str, Path]]:
    """Counts against the limits and every material reference checked, before trimesh runs."""
    scan = scan_text(path)
    limits = ctx.limits
    if scan.face_lines:
        check_limit(
            limits,
            "max_vertices",
            scan.vertex_lines,
            f"The OBJ file has {scan.vertex_lines} vertices",
        )
        check_limit(
            limits, "max_faces", scan.face_lines, f"The OBJ file has {scan.face_lines} faces"
        )
    else:
        check_limit(
            limits, "max_points", scan.vertex_lines, f"The OBJ file has {scan.vertex_lines} points"
        )
    approved: dict[str, Path] = {}
    defined: set[str] = set()
    textured: set[str] = set()
    for raw in scan.mtllibs:
        written = trimesh.util.decode_text(raw).strip()
        candidates = [written, *written.split()]
        paths = [resolve_reference(ctx.root, path.parent, c, path.name) for c in candidates]
        existing = [(c, p) for c, p in zip(candidates, paths, strict=True) if p.is_file()]
        if not existing:
            ctx.warn(
                f"The material library '{written}' named in {path.name} is not in the upload; "
                "the model is loaded without its materials."
            )
            continue
        mtl = existing[0][1]
        approved[written] = mtl  # trimesh asks for the whole rest of the line
        names, with_texture, images = _mtl_textures(mtl, path, ctx)
        defined |= names
        textured |= with_texture
        approved.update(images)
    for name in sorted(scan.usemtl):
        text = trimesh.util.decode_text(name)
        if text not in defined:
            ctx.warn(
                f"The OBJ file uses material '{text}', which no material library in the upload "
                "defines; that part is loaded without it."
            )
    policy = MaterialPolicy(
        texture_ok=lambda material: getattr(material, "name", None) in textured,
        known=lambda material: getattr(material, "name", None) in defined,
    )
    return scan, policy, approved


def _obj_colour_is_non_finite(path: Path) -> bool:
    """Whether any ``v`` line carries a NaN/inf colour (trimesh silently turns those black)."""
    for chunk in line_chunks(path):
        for line in chunk.splitlines():
            if line[:2] in (b"v ", b"v\t"):
                values = line.split()[4:7]
                try:
                    if values and not np.isfinite([float(v) for v in values]).all():
                        return True
                except ValueError:
                    return True
    return False


def read_obj(path: Path, ctx: ReadContext) -> Model:
    scan, policy, approved = _obj_preflight(path, ctx)
    parts, _ = load_with_trimesh(path, "obj", approved, policy, ctx, group_material=True)
    coloured = any(part.colors is not None for part in parts)
    if scan.non_finite and coloured and _obj_colour_is_non_finite(path):
        for part in parts:
            part.colors = None
        ctx.warn(
            f"{path.name}: some vertex colours are not numbers (NaN); "
            "the vertex colours were dropped."
        )
    return Model(parts=parts, source_format="obj")


# --- STL -----------------------------------------------------------------------------


def binary_stl_count(path: Path) -> int | None:
    """Triangle count of a binary STL whose size matches 84 + 50·n, else None."""
    size = path.stat().st_size
    if size < 84:
        return None
    with path.open("rb") as stream:
        stream.seek(80)
        (count,) = struct.unpack("<I", stream.read(4))
    return int(count) if size == 84 + 50 * count else None


def _merged(part: Part) -> Part:
    """STL stores three corners per triangle; weld identical corners back together."""
    if part.faces is None or not len(part.vertices):
        return part
    unique, inverse = np.unique(part.vertices, axis=0, return_inverse=True)
    faces = inverse.reshape(-1)[part.faces.astype(np.int64)].astype(np.uint32)
    return Part(vertices=unique, faces=faces, name=part.name)


def read_stl(path: Path, ctx: ReadContext) -> Model:
    count = binary_stl_count(path)
    if count is None:
        count = scan_text(path).facets
        subject = f"The ASCII STL file has {count} facets"
    else:
        subject = f"The binary STL header declares {count} triangles"
    check_limit(ctx.limits, "max_faces", count, subject)
    policy = MaterialPolicy(texture_ok=lambda material: False)
    parts, _ = load_with_trimesh(path, "stl", {}, policy, ctx)
    return Model(parts=[_merged(part) for part in parts], source_format="stl")


# --- PLY -----------------------------------------------------------------------------


@dataclass
class PlyHeader:
    encoding: str
    elements: dict[str, int]
    texture: str | None


def read_ply_header(path: Path) -> PlyHeader:
    """Parse the PLY header ourselves: element counts are checked before any data is read."""
    with path.open("rb") as stream:
        head = stream.read(PLY_HEADER_MAX)
    end = re.search(rb"^end_header[ \t]*\r?$", head, re.M)
    if end is None:
        raise ModelError("malformed", "The PLY header has no 'end_header' line.")
    lines = head[: end.start()].decode("latin-1").splitlines()
    encoding = ""
    elements: dict[str, int] = {}
    texture = None
    current = None
    for number, raw in enumerate(lines[1:], start=2):
        words = raw.split()
        if not words:
            continue
        keyword = words[0]
        if keyword == "format" and len(words) >= 2:
            encoding = words[1]
        elif keyword == "element":
            if len(words) != 3 or not words[2].isdigit():
                raise ModelError("malformed", f"PLY header line {number} is malformed: '{raw}'.")
            current = words[1]
            elements[current] = int(words[2])
        elif keyword == "property":
            types = words[2:4] if len(words) > 1 and words[1] == "list" else words[1:2]
            if current is None or not types or any(t not in PLY_TYPES for t in types):
                raise ModelError("malformed", f"PLY header line {number} is malformed: '{raw}'.")
        if "texturefile" in raw.lower():
            texture = raw[raw.lower().index("texturefile") + 11 :].strip()
    if encoding not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise ModelError("malformed", f"The PLY header has an unknown format '{encoding}'.")
    return PlyHeader(encoding=encoding, elements=elements, texture=texture)


def _check_ply_counts(header: PlyHeader, limits: Limits) -> None:
    vertices = header.elements.get("vertex", 0)
    faces = header.elements.get("face", 0)
    strips = header.elements.get("tristrips", 0)
    if faces or strips:
        subject = f"The PLY header declares {vertices} vertices"
        check_limit(limits, "max_vertices", vertices, subject)
        check_limit(limits, "max_faces", faces, f"The PLY header declares {faces} faces")
    else:
        subject = f"The PLY header declares {vertices} points"
        check_limit(limits, "max_points", vertices, subject)


def strips_to_faces(strips: Iterable[npt.ArrayLike]) -> IndexArray:
    """Triangle strips (``-1`` restarts a strip) as triangles, winding alternating per strip."""
    pieces: list[npt.NDArray[np.int64]] = []
    for strip in strips:
        pieces.extend((np.asarray(strip, dtype=np.int64).ravel(), np.array([-1])))
    flat = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    if len(flat) < 3:
        return np.zeros((0, 3), dtype=np.uint32)
    position = np.arange(len(flat))
    restarts = np.maximum.accumulate(np.where(flat < 0, position, -1))
    in_strip = position - restarts - 1  # 0 for the first index of each strip
    triangles = np.column_stack([flat[:-2], flat[1:-1], flat[2:]])
    odd = (in_strip[:-2] % 2) == 1
    triangles[odd] = triangles[odd][:, [1, 0, 2]]
    valid = (triangles >= 0).all(axis=1)
    a, b, c = triangles.T
    valid &= (a != b) & (b != c) & (a != c)
    faces: IndexArray = triangles[valid].astype(np.uint32)
    return faces


def _ply_strips(raw: Any) -> list[npt.NDArray[np.int64]]:
    """The index lists of trimesh's raw ``tristrips`` element, however it stored them."""
    data = raw["tristrips"]["data"]
    if isinstance(data, dict):
        data = next(iter(data.values()))
    elif isinstance(data, np.ndarray) and data.dtype.names:
        data = data[data.dtype.names[0]]
        if data.dtype.names:
            data = data["f1"]
    return [np.asarray(row, dtype=np.int64).ravel() for row in data]


def read_ply(path: Path, ctx: ReadContext) -> Model:
    header = read_ply_header(path)
    _check_ply_counts(header, ctx.limits)
    approved: dict[str, Path] = {}
    if header.texture:
        image = resolve_reference(ctx.root, path.parent, header.texture, path.name)
        if not image.is_file():
            ctx.warn(
                f"The texture '{header.texture}' named in {path.name} is not in the upload; "
                "the model is loaded without it."
            )
        elif probe_image(image, f"'{header.texture}'", ctx):
            approved[header.texture] = image
    policy = MaterialPolicy(texture_ok=lambda material: bool(approved))
    parts, scene = load_with_trimesh(path, "ply", approved, policy, ctx)
    if header.elements.get("tristrips") and not header.elements.get("face"):
        parts = _ply_strip_parts(scene, parts, ctx)
    return Model(parts=parts, source_format="ply")


def _ply_strip_parts(scene: Any, parts: list[Part], ctx: ReadContext) -> list[Part]:
    """trimesh reads a tristrips PLY as bare points; turn the strips into faces."""
    geometry = next(iter(scene.geometry.values()), None)
    raw = (geometry.metadata or {}).get("_ply_raw") if geometry is not None else None
    if raw is None or "tristrips" not in raw or len(parts) != 1:
        raise ModelError("unreadable", "The PLY triangle strips could not be read.")
    faces = strips_to_faces(_ply_strips(raw))
    part = parts[0]
    if len(faces) and int(faces.max()) >= len(part.vertices):
        raise ModelError(
            "malformed", "The PLY triangle strips refer to vertices that do not exist."
        )
    part.faces = faces
    return [part]
