"""What every reader shares: the read context, texture guards, the trimesh bridge, line scans."""

from __future__ import annotations

import importlib
import importlib.util
import io
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from PIL import Image

from processing.threed.bundle import check_limit
from processing.threed.model import (
    ByteArray,
    Float32Array,
    FloatArray,
    Limits,
    ModelError,
    Part,
    Texture,
)

SCAN_CHUNK = 16 * 1024 * 1024
# The image formats a texture may be, decoded by Pillow's own code. Anything else (EPS,
# which Pillow hands to Ghostscript's ``gs``; PSD, PDF, …) is not a texture: it is dropped.
TEXTURE_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "TGA", "GIF")


@dataclass
class ReadContext:
    """What every reader needs: where the upload is, its limits, and a place for warnings."""

    root: Path
    limits: Limits
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


def library(name: str) -> Any:
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
def _texture_formats_only() -> Iterator[None]:
    """Let ``Image.open`` without ``formats`` (as trimesh calls it) try only
    :data:`TEXTURE_FORMATS` (process-wide, for the duration)."""
    Image.init()  # every plugin registered now, so none is added to the list meanwhile
    registered = list(Image.ID)
    Image.ID[:] = [name for name in registered if name in TEXTURE_FORMATS]
    try:
        yield
    finally:
        Image.ID[:] = registered


@contextmanager
def pillow_guard(limits: Limits) -> Iterator[None]:
    """Make Pillow refuse any image above the texture limit, or not in
    :data:`TEXTURE_FORMATS`, while a model loads.

    Our own header checks come first; this is the backstop for an image that
    slips through (Pillow raises on open, before decoding anything), such as one
    embedded in a GLB, which trimesh decodes itself.
    """
    try:
        with (
            _pixel_cap(max(1, limits.max_texture_pixels)),
            _texture_formats_only(),
            warnings.catch_warnings(),
        ):
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
            with Image.open(stream, formats=TEXTURE_FORMATS) as image:
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


def colors_rgba(values: Any, count: int, ctx: ReadContext | None = None) -> ByteArray | None:
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


def gltf_uv(uv: Any, count: int) -> Float32Array | None:
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
        colors = colors_rgba(geometry.colors if len(geometry.colors) else None, count, ctx)
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
        part.uv = gltf_uv(visual.uv, count)
        part.texture, part.base_color = _material_look(visual.material, policy, textures)
        part.colors = colors_rgba(visual.vertex_attributes.get("color"), count, ctx)
        if part.uv is None:
            part.texture = None
    elif isinstance(visual, trimesh.visual.color.ColorVisuals) and visual.kind in (
        "vertex",
        "face",
    ):
        part.colors = colors_rgba(visual.vertex_colors, count, ctx)
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
        part.colors = colors_rgba(colors, count, ctx)
    return part


def load_with_trimesh(
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


def line_chunks(path: Path) -> Iterator[bytes]:
    """The file in large chunks that always end at a line end."""
    with path.open("rb") as stream:
        while chunk := stream.read(SCAN_CHUNK):
            if not chunk.endswith(b"\n"):
                chunk += stream.readline()
            yield chunk


def scan_text(path: Path) -> TextScan:
    """Count lines by kind at C speed (``bytes.count``) so limits are checked before parsing."""
    scan = TextScan()
    for chunk in line_chunks(path):
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
