"""Levels of detail: simplify by triangle budget, order for the GPU, resize textures.

meshoptimizer's quadric simplifier does the work (about 1 s for 1.3M → 131k
triangles here, against 18–27 s for open3d or pymeshlab). It only ever removes
vertices, so UVs, colours and normals of the survivors are carried over unchanged,
and it keeps UV seams and open borders in place. Point clouds are thinned on a
voxel grid (one averaged point per occupied voxel).
"""

from __future__ import annotations

import ctypes
import io
import math
from dataclasses import dataclass, replace

import meshoptimizer
import numpy as np

from processing.threed.glb import Image, Primitive
from processing.threed.model import IndexArray, LodSpec, Model, Part, Texture


def _declare_simplify_with_attributes() -> None:
    """Give ``meshopt_simplifyWithAttributes`` its C signature.

    The PyPI bindings (0.2.30a0) call it without ``argtypes``: ctypes then passes
    the float error bound wrongly and the size_t counts as 32-bit ints, which
    crashes. The signature is the one in meshoptimizer.h (0.21 and later).
    """
    from meshoptimizer._loader import lib

    function = lib.meshopt_simplifyWithAttributes
    if function.argtypes:
        return
    uint_p = ctypes.POINTER(ctypes.c_uint)
    float_p = ctypes.POINTER(ctypes.c_float)
    size = ctypes.c_size_t
    function.argtypes = [
        uint_p, uint_p, size, float_p, size, size, float_p, size, float_p, size,
        ctypes.POINTER(ctypes.c_ubyte), size, ctypes.c_float, ctypes.c_uint, float_p,
    ]  # fmt: skip
    function.restype = size


_declare_simplify_with_attributes()

# Attempts in turn: (options, error bound relative to the extent). Open borders
# (holes in a scan, the cut at its base) stay in place first when asked: it keeps the
# worst-case (Hausdorff) error several times lower on scans; when that cannot reach
# the budget, borders may move, then the error bound loosens until the budget is met.
LOCKED_ATTEMPT = (meshoptimizer.SIMPLIFY_LOCK_BORDER, 1e-2)
ATTEMPTS = (
    (0, 1e-2),
    (0, 5e-2),
    (0, 1.0),
)
NO_VERTEX = np.uint32(0xFFFFFFFF)
BUDGET_SLACK = 1.02
COLOR_WEIGHT = 0.5


@dataclass
class Lod:
    spec: LodSpec
    parts: list[Part]
    simplifier_error: float  # meshoptimizer's own bound, relative to the extent

    @property
    def triangles(self) -> int:
        return sum(part.triangle_count for part in self.parts)

    @property
    def points(self) -> int:
        return sum(len(part.vertices) for part in self.parts if part.is_points)


def targets(model: Model, specs: tuple[LodSpec, ...]) -> list[int]:
    """The triangle (or point) count each LOD aims for.

    A LOD never has more than the one above it. The ``web`` level also stays at
    most a tenth of a source that is over its budget, so a phone always gets a
    real reduction of a dense scan.
    """
    total = model.vertex_count if model.is_pointcloud else model.triangle_count
    result: list[int] = []
    ceiling = total
    for spec in specs:
        target = min(spec.triangles, ceiling)
        if spec.name == "web" and total > spec.triangles:
            target = min(target, max(1, total // 10))
        result.append(max(1, target))
        ceiling = target
    return result


def build_lod(
    model: Model, spec: LodSpec, target: int, strip_order: bool, lock_borders: bool = True
) -> Lod:
    """One level of detail of ``model`` with about ``target`` triangles (or points).

    ``model`` may itself be the level above: each level built from the previous one
    takes a fraction of the time, and its error is still measured against the source.
    """
    if model.is_pointcloud:
        parts = thin_points(model.parts, target)
        return Lod(spec, parts, 0.0)
    total = max(1, model.triangle_count)
    parts = []
    worst = 0.0
    for part in model.parts:
        if part.faces is None:
            continue
        share = max(1, round(target * part.triangle_count / total))
        simplified, error = simplify(part, share, lock_borders)
        parts.append(optimize(simplified, strip_order))
        worst = max(worst, error)
    return Lod(spec, parts, worst)


def simplify(part: Part, target_triangles: int, lock_borders: bool = True) -> tuple[Part, float]:
    """``part`` reduced to at most about ``target_triangles``; returns the simplifier's error."""
    assert part.faces is not None
    if part.triangle_count <= target_triangles:
        return part, 0.0
    # Vertices renumbered in order of first use: the simplifier then walks memory
    # in order (about 15 % faster on a 1.6M-triangle scan), as gltfpack does.
    indices, back = _fetch_order(np.ascontiguousarray(part.faces, dtype=np.uint32).ravel(), part)
    positions = np.ascontiguousarray(part.vertices[back], dtype=np.float32)
    attributes = None
    if part.colors is not None:
        attributes = np.ascontiguousarray(part.colors[back, :3], dtype=np.float32) / 255.0
    target_indices = target_triangles * 3
    result = indices
    error = np.zeros(1, dtype=np.float32)
    attempts = ((LOCKED_ATTEMPT,) if lock_borders else ()) + ATTEMPTS
    for flags, bound in attempts:
        destination = np.zeros(len(indices), dtype=np.uint32)
        if attributes is None:
            size = meshoptimizer.simplify(
                destination,
                indices,
                positions,
                target_index_count=target_indices,
                target_error=bound,
                options=flags,
                result_error=error,
            )
        else:
            size = meshoptimizer.simplify_with_attributes(
                destination,
                indices,
                positions,
                attributes,
                np.full(3, COLOR_WEIGHT, dtype=np.float32),
                target_index_count=target_indices,
                target_error=bound,
                options=flags,
                result_error=error,
            )
        result = destination[:size]
        if size <= target_indices * BUDGET_SLACK:
            break
    return _with_faces(part, back[result].astype(np.uint32).reshape(-1, 3)), float(error[0])


def _fetch_order(indices: np.ndarray, part: Part) -> tuple[np.ndarray, np.ndarray]:
    """``indices`` renumbered by first use, and each new number's old vertex.

    Unused vertices get no number, so the renumbered part holds only used ones.
    """
    vertex_count = len(part.vertices)
    remap = np.zeros(vertex_count, dtype=np.uint32)
    unique = meshoptimizer.optimize_vertex_fetch_remap(remap, indices, len(indices), vertex_count)
    back = np.zeros(unique, dtype=np.int64)
    used = remap != NO_VERTEX
    back[remap[used]] = np.nonzero(used)[0]
    return remap[indices], back


def optimize(part: Part, strip_order: bool) -> Part:
    """Reorder triangles for the vertex cache and vertices for fetch; drop unused vertices.

    The strip-friendly order compresses better with meshopt; the plain order renders
    marginally faster uncompressed (gltfpack makes the same choice).
    """
    assert part.faces is not None
    indices = np.ascontiguousarray(part.faces, dtype=np.uint32).ravel()
    vertex_count = len(part.vertices)
    ordered = np.zeros_like(indices)
    if strip_order:
        meshoptimizer.optimize_vertex_cache_strip(ordered, indices, len(indices), vertex_count)
    else:
        meshoptimizer.optimize_vertex_cache(ordered, indices, len(indices), vertex_count)
    new_indices, order = _fetch_order(ordered, part)
    return _take(part, order, new_indices.reshape(-1, 3))


def _with_faces(part: Part, faces: IndexArray) -> Part:
    return replace(part, faces=faces)


def _take(part: Part, order: np.ndarray, faces: IndexArray | None) -> Part:
    """The vertices at ``order`` (with their attributes) and new faces."""

    def pick(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else values[order]

    return replace(
        part,
        vertices=part.vertices[order],
        faces=faces,
        normals=pick(part.normals),
        uv=pick(part.uv),
        colors=pick(part.colors),
    )


# Point clouds


def thin_points(parts: list[Part], target: int) -> list[Part]:
    """Every part thinned on one voxel grid so that the total is at most ``target``."""
    total = sum(len(part.vertices) for part in parts)
    if total <= target:
        return parts
    stacked = np.concatenate([part.vertices for part in parts])
    low = stacked.min(axis=0)
    span = stacked.max(axis=0) - low
    diagonal = float(np.linalg.norm(span)) or 1.0
    # Scans are surfaces: the occupied-voxel count grows with (size / voxel)^2.
    voxel = diagonal / math.sqrt(target)
    lower, upper = 0.0, None
    best = None
    for _ in range(12):
        count = _voxel_count(stacked, low, voxel)
        if count <= target:
            best = voxel
            upper = voxel
            if count >= target * 0.9:
                break
        else:
            lower = voxel
        voxel = (lower + upper) / 2 if upper is not None else voxel * 2
    voxel = best if best is not None else voxel
    return [_voxel_part(part, low, voxel) for part in parts]


def _voxel_keys(points: np.ndarray, low: np.ndarray, voxel: float) -> np.ndarray:
    cells = np.floor((points - low) / voxel).astype(np.int64)
    cells -= cells.min(axis=0)
    dims = cells.max(axis=0) + 1
    keys: np.ndarray = (cells[:, 0] * dims[1] + cells[:, 1]) * dims[2] + cells[:, 2]
    return keys


def _voxel_count(points: np.ndarray, low: np.ndarray, voxel: float) -> int:
    return len(np.unique(_voxel_keys(points, low, voxel)))


def _voxel_part(part: Part, low: np.ndarray, voxel: float) -> Part:
    keys = _voxel_keys(part.vertices, low, voxel)
    unique, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    del unique

    def mean(values: np.ndarray) -> np.ndarray:
        sums = np.stack(
            [np.bincount(inverse, weights=values[:, axis]) for axis in range(values.shape[1])],
            axis=1,
        )
        result: np.ndarray = sums / counts[:, None]
        return result

    colors = None
    if part.colors is not None:
        colors = np.clip(np.rint(mean(part.colors.astype(np.float64))), 0, 255).astype(np.uint8)
    normals = None
    if part.normals is not None:
        summed = mean(part.normals.astype(np.float64))
        length = np.linalg.norm(summed, axis=1, keepdims=True)
        length[length == 0] = 1.0
        normals = (summed / length).astype(np.float32)
    return Part(
        vertices=mean(part.vertices),
        faces=None,
        normals=normals,
        colors=colors,
        base_color=part.base_color,
        name=part.name,
    )


# Textures


def texture_image(texture: Texture, longest_side: int, fmt: str, quality: int) -> Image:
    """The texture scaled down to ``longest_side`` (never up), as JPEG, PNG or WebP.

    JPEG for opaque textures (every loader reads it); textures with real
    transparency become WebP when asked, else PNG. Deterministic bytes.
    """
    from PIL import Image as PILImage  # only textured models pay for Pillow's import

    image = PILImage.fromarray(texture.pixels)
    height, width = texture.pixels.shape[:2]
    scale = min(1.0, longest_side / max(width, height)) if longest_side else 1.0
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = image.resize(size, PILImage.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if fmt == "webp":
        image.save(buffer, format="WEBP", quality=quality, method=4, exact=texture.has_alpha)
        return Image(buffer.getvalue(), "image/webp")
    if texture.has_alpha:
        image.save(buffer, format="PNG", optimize=True)
        return Image(buffer.getvalue(), "image/png")
    image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
    return Image(buffer.getvalue(), "image/jpeg")


def primitives(
    lod: Lod,
    fmt: str = "jpeg",
    quality: int = 85,
    cache: dict[tuple[int, int], Image] | None = None,
) -> list[Primitive]:
    """The LOD's parts ready for :func:`processing.threed.glb.write_glb`."""
    result = []
    for part in lod.parts:
        image = None
        if part.texture is not None and part.uv is not None:
            key = (id(part.texture), lod.spec.texture_size)
            if cache is not None and key in cache:
                image = cache[key]
            else:
                image = texture_image(part.texture, lod.spec.texture_size, fmt, quality)
                if cache is not None:
                    cache[key] = image
        result.append(
            Primitive(
                positions=part.vertices,
                indices=None if part.faces is None else part.faces.astype(np.uint32).ravel(),
                normals=part.normals,
                uv=part.uv if image is not None else None,
                colors=part.colors,
                image=image,
                base_color=part.base_color,
                blend=part.texture is not None and part.texture.has_alpha,
            )
        )
    return result
