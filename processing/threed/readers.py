"""One reader per input format; each checks its header against the limits before loading.

Meshes (OBJ, PLY, STL, glTF/GLB) go through trimesh, but trimesh only ever
sees files we approved: every reference (``mtllib``, ``map_Kd``, glTF
``uri``, PLY ``TextureFile``) is checked against the upload first and handed
over by an :class:`ApprovedResolver` that knows nothing else. Point clouds
come from numpy (XYZ/PTS), Open3D (PCD), laspy (LAS/LAZ) and pye57 (E57); raw
Draco files from DracoPy. Every reader returns a :class:`Model` whose UVs
already follow the glTF convention (``v_gltf = 1 - v_obj``).
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import io
import json
import re
import struct
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import numpy.typing as npt
import trimesh
from PIL import Image

from processing.threed.bundle import check_limit, resolve_reference
from processing.threed.model import (
    ByteArray,
    Float32Array,
    FloatArray,
    IndexArray,
    Limits,
    Model,
    ModelError,
    Part,
    Texture,
)

SCAN_CHUNK = 16 * 1024 * 1024
PLY_HEADER_MAX = 1024 * 1024
PLY_TYPES = {
    "char", "uchar", "short", "ushort", "int", "uint", "float", "double",
    "int8", "uint8", "int16", "uint16", "int32", "uint32", "float32", "float64",
}  # fmt: skip
# glTF extensions a file may *require* that trimesh reads (Draco through DracoPy).
GLTF_REQUIRED_OK = {
    "KHR_draco_mesh_compression",
    "KHR_materials_unlit",
    "KHR_materials_emissive_strength",
    "KHR_materials_pbrSpecularGlossiness",
    "KHR_texture_transform",
}
GLTF_TRIANGLES, GLTF_STRIP, GLTF_FAN, GLTF_POINTS = 4, 5, 6, 0


@dataclass
class ReadContext:
    """What every reader needs: where the upload is, its limits, and a place for warnings."""

    root: Path
    limits: Limits
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


def _library(name: str) -> Any:
    """Import a reader's library when first needed (Open3D alone takes a second to load)."""
    return importlib.import_module(name)


def one_line(value: object, limit: int = 300) -> str:
    """A library message squeezed onto one line for a ModelError reason."""
    text = " ".join(str(value).split()) or type(value).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- textures -----------------------------------------------------------------------


@contextmanager
def _pixel_cap(cap: int | None) -> Iterator[None]:
    """Set Pillow's decompression-bomb threshold for the duration (process-wide)."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = cap
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


@contextmanager
def pillow_guard(limits: Limits) -> Iterator[None]:
    """Make Pillow refuse any image above the texture limit while a model loads.

    Our own header checks come first; this is the backstop for an image that
    slips through (Pillow raises on open, before decoding anything).
    """
    try:
        with _pixel_cap(max(1, limits.max_texture_pixels)), warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ModelError(
            "texture_too_large",
            f"A texture is too large to decode ({one_line(exc)}); the limit is "
            f"{limits.max_texture_pixels} pixels (MUSEUM_MODEL_MAX_TEXTURE_PIXELS).",
        ) from exc


def probe_image(source: Path | bytes, label: str, ctx: ReadContext) -> bool:
    """Check a texture's size from its header alone; False (with a warning) if unreadable."""
    try:
        with _pixel_cap(None):
            stream = io.BytesIO(source) if isinstance(source, bytes) else source
            with Image.open(stream) as image:
                width, height = image.size
    except (OSError, ValueError, SyntaxError) as exc:  # UnidentifiedImageError is an OSError
        ctx.warn(
            f"The texture {label} could not be read ({one_line(exc)}); "
            "the model is loaded without it."
        )
        return False
    check_limit(
        ctx.limits,
        "max_texture_pixels",
        width * height,
        f"The texture {label} is {width}×{height} = {width * height} pixels",
    )
    return True


def image_pixels(image: Image.Image) -> ByteArray:
    """RGB or RGBA uint8 pixels, row 0 at the top (no EXIF rotation: UVs map raw pixels)."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float64)
        scale = 257.0 if values.max(initial=0) > 255 else 1.0
        gray = np.clip(values / scale, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    converted = image.convert("RGBA" if alpha else "RGB")
    return np.array(converted, dtype=np.uint8)


class TextureCache:
    """Decodes each distinct image once, so parts sharing an image share one Texture."""

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.by_id: dict[int, tuple[Any, Texture]] = {}

    def get(self, image: Any, name: str) -> Texture:
        key = id(image)
        if key not in self.by_id:
            width, height = image.size
            check_limit(
                self.ctx.limits,
                "max_texture_pixels",
                width * height,
                f"The texture {name} is {width}×{height} = {width * height} pixels",
            )
            with pillow_guard(self.ctx.limits):
                pixels = image_pixels(image)
            # Keep the image alive so its id cannot be reused by another one.
            self.by_id[key] = (image, Texture(pixels=pixels, name=name))
            check_limit(
                self.ctx.limits,
                "max_textures",
                len(self.by_id),
                f"The model uses more than {len(self.by_id) - 1} textures",
            )
        return self.by_id[key][1]


# --- trimesh bridge ------------------------------------------------------------------


class ApprovedResolver(trimesh.resolvers.Resolver):
    """Gives trimesh the bytes of files we checked, by the exact names the model wrote.

    Any other name is "not found": trimesh never opens a path on its own.
    """

    def __init__(self, approved: dict[str, Path]) -> None:
        self.approved = approved

    def get(self, name: str) -> bytes:
        path = self.approved.get(name, self.approved.get(name.strip()))
        if path is None:
            raise FileNotFoundError(name)
        return path.read_bytes()

    def keys(self) -> Iterator[str]:
        return iter(list(self.approved))

    def write(self, name: str, data: Any) -> None:
        raise PermissionError(f"{name}: the upload is read-only")

    def namespaced(self, namespace: str) -> ApprovedResolver:
        return ApprovedResolver({})


def _colors_rgba(values: Any, count: int, ctx: ReadContext | None = None) -> ByteArray | None:
    """Per-vertex colours as (n, 4) uint8 from whatever a reader produced (or None).

    Float colours are 0–1 (or already 0–255); NaN colours are dropped with a warning.
    """
    if values is None:
        return None
    array = np.asarray(values)
    if array.ndim != 2 or len(array) != count or array.shape[1] not in (3, 4) or count == 0:
        return None
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            if ctx is not None:
                ctx.warn("Some vertex colours are not numbers (NaN); the colours were dropped.")
            return None
        scale = 255.0 if array.max(initial=0) <= 1.0 else 1.0
        array = np.clip(np.rint(array * scale), 0, 255)
    elif array.dtype.itemsize > 1 and array.max(initial=0) > 255:
        array = array // 257
    rgba = np.full((count, 4), 255, dtype=np.uint8)
    rgba[:, : array.shape[1]] = array.astype(np.uint8)
    return rgba


def _gltf_uv(uv: Any, count: int) -> Float32Array | None:
    """trimesh keeps UVs with v up (OBJ); the Model wants glTF's v down."""
    if uv is None:
        return None
    array = np.asarray(uv, dtype=np.float64)
    if array.shape != (count, 2):
        return None
    flipped = np.column_stack([array[:, 0], 1.0 - array[:, 1]])
    return np.ascontiguousarray(flipped, dtype=np.float32)


def _loaded_normals(geometry: Any) -> Float32Array | None:
    """Normals the file carried (trimesh caches them); never computed ones."""
    cache = getattr(geometry, "_cache", None)
    if cache is None or "vertex_normals" not in cache:
        return None
    normals = np.asarray(geometry.vertex_normals, dtype=np.float32)
    return normals if normals.shape == (len(geometry.vertices), 3) else None


@dataclass
class MaterialPolicy:
    """How a format's materials become a texture and a base colour."""

    texture_ok: Callable[[Any], bool]  # may this material's image be used?
    # Did the file define this (non-PBR) material's colour? trimesh invents a grey
    # one for UVs without a material, which must not tint the model.
    known: Callable[[Any], bool] = lambda material: False


def _material_look(
    material: Any, policy: MaterialPolicy, textures: TextureCache
) -> tuple[Texture | None, tuple[float, float, float, float]]:
    """A material's texture (if approved) and base colour."""
    if material is None:
        return None, (1.0, 1.0, 1.0, 1.0)
    if isinstance(material, trimesh.visual.material.PBRMaterial):
        image = material.baseColorTexture
        factor = material.baseColorFactor
        base = (1.0, 1.0, 1.0, 1.0)
        if factor is not None:
            values = np.asarray(factor, dtype=np.float64) / 255.0
            base = (float(values[0]), float(values[1]), float(values[2]), float(values[3]))
    else:
        image = getattr(material, "image", None)
        diffuse = np.asarray(getattr(material, "diffuse", [255, 255, 255, 255]), dtype=float)
        base = (1.0, 1.0, 1.0, 1.0)
        if policy.known(material) and diffuse.shape == (4,):
            red, green, blue, alpha = (float(v) for v in diffuse / 255.0)
            base = (red, green, blue, alpha)
    texture = None
    if image is not None and policy.texture_ok(material):
        name = getattr(material, "name", None) or "texture"
        texture = textures.get(image, str(name))
        # A texture replaces the diffuse colour (what Blender and MeshLab show for
        # OBJ); glTF's factor multiplies it, so PBR factors are kept.
        if not isinstance(material, trimesh.visual.material.PBRMaterial):
            base = (1.0, 1.0, 1.0, base[3])
    return texture, base


def _part_from_geometry(
    geometry: Any, name: str, policy: MaterialPolicy, textures: TextureCache, ctx: ReadContext
) -> Part | None:
    """One trimesh geometry (in its own frame) as a Part; None for lines and curves."""
    vertices = np.ascontiguousarray(np.asarray(geometry.vertices, dtype=np.float64))
    count = len(vertices)
    if isinstance(geometry, trimesh.PointCloud):
        colors = _colors_rgba(geometry.colors if len(geometry.colors) else None, count, ctx)
        return _ply_extras(geometry, Part(vertices=vertices, colors=colors, name=name), ctx)
    if not isinstance(geometry, trimesh.Trimesh):
        ctx.warn(f"The {type(geometry).__name__} element '{name}' (lines or curves) was ignored.")
        return None
    faces = np.asarray(geometry.faces, dtype=np.int64).reshape(-1, 3)
    inside = ((faces >= 0) & (faces < count)).all(axis=1)
    if not inside.all():
        ctx.warn(f"{int((~inside).sum())} faces refer to vertices that do not exist; dropped.")
        faces = faces[inside]
    part = Part(
        vertices=vertices,
        faces=np.ascontiguousarray(faces, dtype=np.uint32),
        normals=_loaded_normals(geometry),
        name=name,
    )
    visual = geometry.visual
    if isinstance(visual, trimesh.visual.texture.TextureVisuals):
        part.uv = _gltf_uv(visual.uv, count)
        part.texture, part.base_color = _material_look(visual.material, policy, textures)
        part.colors = _colors_rgba(visual.vertex_attributes.get("color"), count, ctx)
        if part.uv is None:
            part.texture = None
    elif isinstance(visual, trimesh.visual.color.ColorVisuals) and visual.kind in (
        "vertex",
        "face",
    ):
        part.colors = _colors_rgba(visual.vertex_colors, count, ctx)
    return _ply_extras(geometry, part, ctx)


def _ply_raw_columns(geometry: Any, names: tuple[str, ...], vertices: FloatArray) -> Any:
    """Vertex columns from trimesh's raw PLY elements (kept in metadata), or None.

    trimesh drops a PLY point cloud's normals, and a textured PLY's vertex
    colours; the raw element data it keeps still has them.
    """
    raw: Any = (geometry.metadata or {}).get("_ply_raw")
    try:
        data = raw["vertex"]["data"]
        columns = np.column_stack(
            [data[name] for name in names if name in raw["vertex"]["properties"]]
        )
        xyz = np.column_stack([data[axis] for axis in "xyz"]).astype(np.float64)
    except (TypeError, KeyError, ValueError, IndexError):
        return None
    # Only while trimesh kept the file's vertex order (it re-indexes for per-face UVs).
    same = xyz.shape == vertices.shape and np.array_equal(xyz, vertices)
    return columns if same and columns.shape[1] >= 3 else None


def _ply_extras(geometry: Any, part: Part, ctx: ReadContext) -> Part:
    """Fill what trimesh left out from a PLY's raw vertex data (normals, colours)."""
    count = len(part.vertices)
    if part.normals is None:
        normals = _ply_raw_columns(geometry, ("nx", "ny", "nz"), part.vertices)
        part.normals = None if normals is None else normals.astype(np.float32)
    colors = _ply_raw_columns(geometry, ("red", "green", "blue", "alpha"), part.vertices)
    if colors is not None and colors.dtype.kind == "f" and not np.isfinite(colors).all():
        part.colors = None  # trimesh already turned the NaNs into black
        ctx.warn("Some vertex colours are not numbers (NaN); the colours were dropped.")
    elif part.colors is None:
        part.colors = _colors_rgba(colors, count, ctx)
    return part


def _load_with_trimesh(
    path: Path,
    file_type: str,
    approved: dict[str, Path],
    policy: MaterialPolicy,
    ctx: ReadContext,
    **kwargs: Any,
) -> tuple[list[Part], Any]:
    """Load through trimesh with only approved files reachable; parts with transforms applied."""
    textures = TextureCache(ctx)
    with pillow_guard(ctx.limits), path.open("rb") as stream:
        scene = trimesh.load_scene(
            stream,
            file_type=file_type,
            resolver=ApprovedResolver(approved),
            process=False,
            **kwargs,
        )
        converted: dict[str, Part | None] = {}
        parts = []
        for node in scene.graph.nodes_geometry:
            matrix, geometry_name = scene.graph[node]
            name = str(geometry_name)
            if name not in converted:
                geometry = scene.geometry[name]
                converted[name] = _part_from_geometry(geometry, name, policy, textures, ctx)
            part = converted[name]
            if part is not None:
                parts.append(_placed(part, np.asarray(matrix, dtype=np.float64)))
    return parts, scene


def _placed(part: Part, matrix: FloatArray) -> Part:
    """A copy of ``part`` moved by a node's 4x4 transform (normals and winding follow).

    Done here rather than with ``Scene.dump``, whose copies forget the normals
    the file carried.
    """
    if np.array_equal(matrix, np.eye(4)):
        return replace(part)
    linear = matrix[:3, :3]
    vertices = part.vertices @ linear.T + matrix[:3, 3]
    normals = part.normals
    if normals is not None:
        turned = normals.astype(np.float64) @ np.linalg.inv(linear)
        length = np.linalg.norm(turned, axis=1, keepdims=True)
        normals = (turned / np.where(length > 0, length, 1.0)).astype(np.float32)
    faces = part.faces
    if faces is not None and np.linalg.det(linear) < 0:
        faces = np.ascontiguousarray(faces[:, ::-1])
    return replace(part, vertices=vertices, normals=normals, faces=faces)


# --- line scanning (OBJ, ASCII STL, XYZ/PTS) ----------------------------------------


@dataclass
class TextScan:
    """What a streaming pass over a text model saw, without parsing numbers."""

    lines: int = 0
    vertex_lines: int = 0
    face_lines: int = 0
    facets: int = 0
    non_finite: bool = False
    mtllibs: list[bytes] = field(default_factory=list)
    usemtl: set[bytes] = field(default_factory=set)


def _line_chunks(path: Path) -> Iterator[bytes]:
    """The file in large chunks that always end at a line end."""
    with path.open("rb") as stream:
        while chunk := stream.read(SCAN_CHUNK):
            if not chunk.endswith(b"\n"):
                chunk += stream.readline()
            yield chunk


def scan_text(path: Path) -> TextScan:
    """Count lines by kind at C speed (``bytes.count``) so limits are checked before parsing."""
    scan = TextScan()
    for chunk in _line_chunks(path):
        block = b"\n" + chunk
        scan.lines += chunk.count(b"\n") + (0 if chunk.endswith(b"\n") else 1)
        scan.vertex_lines += block.count(b"\nv ") + block.count(b"\nv\t")
        scan.face_lines += block.count(b"\nf ") + block.count(b"\nf\t")
        lower = block.lower()
        scan.facets += lower.count(b"endfacet")
        scan.non_finite = scan.non_finite or b"nan" in lower or b"inf" in lower
        if b"mtllib" in block:
            found = re.findall(rb"^[ \t]*mtllib[ \t]+([^\r\n]*)", chunk, re.M)
            scan.mtllibs.extend(found)
        if b"usemtl" in block:
            found = re.findall(rb"^[ \t]*usemtl[ \t]+([^\r\n]*)", chunk, re.M)
            scan.usemtl.update(name.strip() for name in found)
    return scan


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
    for chunk in _line_chunks(path):
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
    parts, _ = _load_with_trimesh(path, "obj", approved, policy, ctx, group_material=True)
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
    parts, _ = _load_with_trimesh(path, "stl", {}, policy, ctx)
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
    parts, scene = _load_with_trimesh(path, "ply", approved, policy, ctx)
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
    parts, _ = _load_with_trimesh(path, file_type, approved, policy, ctx)
    return Model(parts=parts, source_format=file_type)


def read_glb(path: Path, ctx: ReadContext) -> Model:
    return read_gltf(path, ctx, binary=True)


# --- Draco ---------------------------------------------------------------------------


def read_drc(path: Path, ctx: ReadContext) -> Model:
    """A raw Draco file: DracoPy decodes a mesh or a point cloud (counts checked after)."""
    decoded = _library("DracoPy").decode(path.read_bytes())
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
        uv=_gltf_uv(uv, count) if uv is not None and len(uv) else None,
        colors=_colors_rgba(decoded.colors, count, ctx),
        name=path.stem,
    )
    return Model(parts=[part], source_format="drc")


# --- point clouds: XYZ / PTS ---------------------------------------------------------


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _table_layout(path: Path, pts: bool) -> tuple[str | None, int]:
    """(delimiter, header lines to skip) from the first data lines of a text point file."""
    skip = 0
    with path.open("rb") as stream:
        for raw in stream:
            line = raw.decode("utf-8", "replace").strip()
            if not line or line.startswith(("#", "//")):
                skip += 1
                continue
            delimiter = "," if "," in line else (";" if ";" in line else None)
            tokens = [t for t in re.split(r"[,;\s]+", line) if t]
            if (pts and len(tokens) == 1) or not all(_is_number(t) for t in tokens):
                skip += 1  # the PTS point count, or a column-name header
                continue
            return delimiter, skip
    return None, skip


def _scaled_colours(rgb: FloatArray) -> ByteArray:
    """Text colours as 0–255: floats in 0–1, bytes, or 16-bit values."""
    fractional = rgb.max(initial=0) <= 1.0 and bool((rgb % 1).any())
    if fractional:
        rgb = rgb * 255.0
    elif rgb.max(initial=0) > 255:
        rgb = rgb / 257.0
    rgba = np.full((len(rgb), 4), 255, dtype=np.uint8)
    rgba[:, :3] = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return rgba


def _table_part(table: FloatArray, name: str, ctx: ReadContext) -> Part:
    """Columns: xyz | xyz i | xyz rgb (or normals) | xyz i rgb; anything else keeps xyz."""
    columns = table.shape[1]
    part = Part(vertices=np.ascontiguousarray(table[:, :3]), name=name)
    if columns == 6 and (table[:, 3:6] < 0).any():
        part.normals = table[:, 3:6].astype(np.float32)
    elif columns == 6:
        part.colors = _scaled_colours(table[:, 3:6])
    elif columns == 7:
        part.colors = _scaled_colours(table[:, 4:7])
    elif columns not in (3, 4):
        ctx.warn(f"{name}: {columns} columns per point; only x, y, z were used.")
    return part


def _read_table(path: Path, ctx: ReadContext, pts: bool) -> Model:
    label = "PTS" if pts else "XYZ"
    scan = scan_text(path)
    check_limit(ctx.limits, "max_points", scan.lines, f"The {label} file has {scan.lines} lines")
    delimiter, skip = _table_layout(path, pts)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # numpy: "input contained no data"
        try:
            table = np.loadtxt(
                path, comments=("#", "//"), delimiter=delimiter, skiprows=skip, ndmin=2
            )
        except ValueError:
            if not pts:
                raise
            table = _read_multi_scan_pts(path, delimiter)
        except UserWarning:
            table = np.zeros((0, 3))
    if table.shape[1] < 3 and len(table):
        raise ModelError(
            "malformed", f"The {label} file has {table.shape[1]} columns; x, y and z are needed."
        )
    parts = [_table_part(table, path.name, ctx)] if len(table) else []
    return Model(parts=parts, source_format=label.lower())


def _read_multi_scan_pts(path: Path, delimiter: str | None) -> FloatArray:
    """A PTS file with several scans, each starting with its own point count line."""
    with path.open(encoding="utf-8", errors="replace") as stream:
        rows = (line for line in stream if len(line.split()) > 1)
        return np.loadtxt(rows, delimiter=delimiter, ndmin=2)


def read_xyz(path: Path, ctx: ReadContext) -> Model:
    return _read_table(path, ctx, pts=False)


def read_pts(path: Path, ctx: ReadContext) -> Model:
    with path.open("rb") as stream:
        first = stream.readline().split()
    if len(first) == 1 and first[0].isdigit():
        check_limit(
            ctx.limits,
            "max_points",
            int(first[0]),
            f"The PTS header declares {int(first[0])} points",
        )
    return _read_table(path, ctx, pts=True)


# --- point clouds: PCD, LAS/LAZ, E57 -------------------------------------------------


def read_pcd_header(path: Path) -> dict[str, list[str]]:
    """The PCD header fields up to DATA (checked before Open3D reads anything)."""
    header: dict[str, list[str]] = {}
    with path.open("rb") as stream:
        for _ in range(64):
            words = stream.readline().decode("latin-1").split()
            if not words or words[0].startswith("#"):
                continue
            header[words[0].upper()] = words[1:]
            if words[0].upper() == "DATA":
                break
    if "DATA" not in header or "FIELDS" not in header:
        raise ModelError("malformed", "The PCD header has no FIELDS or DATA line.")
    if not {"x", "y", "z"} <= set(header["FIELDS"]):
        raise ModelError("malformed", "The PCD file has no x, y, z fields.")
    return header


def read_pcd(path: Path, ctx: ReadContext) -> Model:
    header = read_pcd_header(path)
    try:
        declared = int((header.get("POINTS") or ["0"])[0])
        if "POINTS" not in header:
            declared = int(header["WIDTH"][0]) * int(header["HEIGHT"][0])
    except (KeyError, IndexError, ValueError) as exc:
        raise ModelError("malformed", "The PCD header has no valid POINTS count.") from exc
    check_limit(ctx.limits, "max_points", declared, f"The PCD header declares {declared} points")
    open3d = _library("open3d")
    with open3d.utility.VerbosityContextManager(open3d.utility.VerbosityLevel.Error):
        cloud = open3d.io.read_point_cloud(
            str(path), format="pcd", remove_nan_points=False, remove_infinite_points=False
        )
    vertices = np.asarray(cloud.points, dtype=np.float64)
    if declared and not len(vertices):
        raise ModelError("unreadable", "The PCD file could not be read (Open3D found no points).")
    part = Part(vertices=vertices, name=path.name)
    if cloud.has_colors():
        part.colors = _colors_rgba(np.asarray(cloud.colors), len(vertices), ctx)
    if cloud.has_normals():
        part.normals = np.asarray(cloud.normals, dtype=np.float32)
    return Model(parts=[part] if len(vertices) else [], source_format="pcd")


def read_las_header(path: Path, limits: Limits) -> str:
    """Check the LAS public header ourselves; returns ``las`` or ``laz``.

    laspy trusts the header's record counts: garbage there keeps it busy for
    a minute, so the counts are checked against the file size (and the point
    count against the limit) first.
    """
    size = path.stat().st_size
    with path.open("rb") as stream:
        head = stream.read(375)
    if len(head) < 227:
        raise ModelError("malformed", f"The LAS header is truncated ({len(head)} bytes).")
    major, minor = head[24], head[25]
    header_size, offset, records = struct.unpack_from("<HII", head, 94)
    point_format, record_length, count = struct.unpack_from("<BHI", head, 104)
    if major != 1 or minor > 4:
        raise ModelError("malformed", f"The LAS header says version {major}.{minor}; not 1.0–1.4.")
    if minor >= 4 and len(head) >= 255:
        count = max(count, struct.unpack_from("<Q", head, 247)[0])
    label = "laz" if point_format & 0xC0 else "las"
    subject = f"The {label.upper()} header declares {count} points"
    check_limit(limits, "max_points", count, subject)
    fits = 227 <= header_size <= offset <= size and records * 54 <= offset - header_size
    if fits and label == "las":
        fits = count * record_length <= size - offset
    if not fits:
        raise ModelError(
            "malformed",
            f"The {label.upper()} header does not match the file: {count} points of "
            f"{record_length} bytes and {records} records from byte {offset} of {size}.",
        )
    return label


def read_las(path: Path, ctx: ReadContext) -> Model:
    """LAS or LAZ (lazrs backend); RGB is 16-bit by the spec, 8-bit in many files."""
    label = read_las_header(path, ctx.limits)
    with _library("laspy").open(str(path)) as reader:
        data = reader.read()
    vertices = np.column_stack(
        [
            np.asarray(data.x, np.float64),
            np.asarray(data.y, np.float64),
            np.asarray(data.z, np.float64),
        ]
    )
    part = Part(vertices=vertices, name=path.name)
    if {"red", "green", "blue"} <= set(data.point_format.dimension_names):
        rgb = np.column_stack([np.asarray(data[c], np.uint16) for c in ("red", "green", "blue")])
        shift = 8 if rgb.max(initial=0) > 255 else 0  # 16-bit as the spec says, or 8-bit
        part.colors = _colors_rgba((rgb >> shift).astype(np.uint8), len(vertices))
    return Model(parts=[part] if len(vertices) else [], source_format=label)


def _e57_limits(header: Any) -> tuple[float, float]:
    """The colour range a scan declares (colorLimits), 0–255 when absent."""
    node = header.node
    if not node.isDefined("colorLimits"):
        return 0.0, 255.0
    limits = node["colorLimits"]
    return float(limits["colorRedMinimum"].value()), float(limits["colorRedMaximum"].value())


def _e57_scan(e57: Any, index: int) -> Part:
    """One E57 scan in world coordinates, with colours scaled from colorLimits to 0–255."""
    libe57 = _library("pye57.libe57")
    convert_spherical_to_cartesian = _library("pye57.utils").convert_spherical_to_cartesian

    header = e57.get_header(index)
    fields = set(header.point_fields)
    cartesian = ["cartesianX", "cartesianY", "cartesianZ"]
    spherical = ["sphericalRange", "sphericalAzimuth", "sphericalElevation"]
    coords, invalid = (cartesian, "cartesianInvalidState")
    if not set(cartesian) <= fields:
        if not set(spherical) <= fields:
            raise ModelError("malformed", f"E57 scan {index} has no point coordinates.")
        coords, invalid = (spherical, "sphericalInvalidState")
    colours = ["colorRed", "colorGreen", "colorBlue"]
    wanted = [(name, "d") for name in coords]
    wanted += [(invalid, "b")] if invalid in fields else []
    wanted += [(name, "H") for name in colours] if set(colours) <= fields else []
    count = header.point_count
    data: dict[str, npt.NDArray[Any]] = {}
    buffers = libe57.VectorSourceDestBuffer()
    for name, dtype in wanted:
        data[name] = np.empty(count, dtype)
        buffers.append(libe57.SourceDestBuffer(e57.image_file, name, data[name], count, True, True))
    reader = header.points.reader(buffers)
    try:
        reader.read()
    finally:
        reader.close()
    valid = data[invalid] == 0 if invalid in data else np.ones(count, dtype=bool)
    xyz = np.column_stack([data[name][valid] for name in coords]).astype(np.float64)
    if coords is spherical:
        xyz = convert_spherical_to_cartesian(xyz)
    if header.has_pose():
        xyz = e57.to_global(xyz, header.rotation, header.translation)
    part = Part(vertices=np.ascontiguousarray(xyz, dtype=np.float64), name=f"scan {index}")
    if set(colours) <= data.keys():
        low, high = _e57_limits(header)
        rgb = np.column_stack([data[name][valid] for name in colours]).astype(np.float64)
        scaled = (rgb - low) * (255.0 / max(high - low, 1.0))
        part.colors = _colors_rgba(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), len(xyz))
    return part


def read_e57(path: Path, ctx: ReadContext) -> Model:
    e57 = _library("pye57").E57(str(path))
    try:
        total = sum(int(e57.get_header(i).point_count) for i in range(e57.scan_count))
        check_limit(ctx.limits, "max_points", total, f"The E57 header declares {total} points")
        parts = [_e57_scan(e57, index) for index in range(e57.scan_count)]
    finally:
        e57.close()
    return Model(parts=[part for part in parts if len(part.vertices)], source_format="e57")


READERS: dict[str, Callable[[Path, ReadContext], Model]] = {
    "obj": read_obj,
    "ply": read_ply,
    "stl": read_stl,
    "gltf": read_gltf,
    "glb": read_glb,
    "drc": read_drc,
    "xyz": read_xyz,
    "pts": read_pts,
    "pcd": read_pcd,
    "las": read_las,
    "e57": read_e57,
}
LIBRARIES = {
    "obj": "trimesh",
    "ply": "trimesh",
    "stl": "trimesh",
    "gltf": "trimesh",
    "glb": "trimesh",
    "drc": "DracoPy",
    "xyz": "numpy",
    "pts": "numpy",
    "pcd": "Open3D",
    "las": "laspy",
    "e57": "pye57",
}
