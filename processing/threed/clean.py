"""Mesh and point-cloud cleaning: the repairs every scan needs before LODs are built.

Photogrammetry exports and STL-style triangle soups arrive with split vertices,
zero-area and doubled triangles, floating specks of reconstruction noise and
inconsistently wound faces. :func:`clean_model` repairs these without ever
changing what the object looks like:

1. Vertices are merged only when *every* attribute agrees (position, UV,
   colour, normal), so texture seams and hard normal edges stay split.
2. Degenerate faces (a repeated corner, or zero area) and duplicate faces (the
   same three corners in any order) are dropped; the first copy is kept.
3. Small floating components ("debris") are removed: components are found by
   shared *positions*, so a UV seam never cuts an object in two, and the
   largest component is always kept.
4. Vertices no face uses any more are dropped; UVs, colours and normals follow.
5. Winding is made consistent (each shared edge runs in opposite directions in
   its two faces) and closed components are turned to face outwards.

The whole model is cleaned at once (parts are concatenated), so a statue whose
materials are separate parts is one component for debris removal and winding,
and no material is mistaken for debris.

Everything is vectorised NumPy. trimesh's ``merge_vertices`` would merge UV
seams unless told exactly which attributes to compare, its ``fix_winding`` is a
Python breadth-first walk (minutes on a million faces) and needs networkx, and
its component search needs scipy or networkx; neither is installed here.
Instead, connected components come from :func:`_components` (label hooking
with pointer jumping, a handful of passes over the edges) and winding from
components of a "doubled" face graph (see :func:`_winding_flips`).

Normals: if any face of a part was flipped, the part's input normals are
dropped and the writer recomputes them (authored normals could match either
winding, so keeping them would risk dark, back-lit patches). Otherwise they are
kept, re-normalised, and any non-finite or zero-length normal is recomputed
from the faces around its vertex.

Point-cloud parts only lose non-finite points and exact duplicate points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from processing.threed.model import (
    ByteArray,
    Float32Array,
    FloatArray,
    Model,
    ModelError,
    Part,
)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

STAT_KEYS = (
    "vertices_before",
    "faces_before",
    "merged_vertices",
    "degenerate_faces",
    "duplicate_faces",
    "unreferenced_vertices",
    "debris_components",
    "debris_faces",
    "flipped_faces",
    "vertices_after",
    "faces_after",
    "duplicate_points",
    "nonfinite_points",
)

# Positions closer than diagonal / 2**30 (about a nanometre on a metre-sized
# object) are the same position; exact duplicates from triangle soups always are.
POSITION_QUANTUM = 2.0**-30
# UVs closer than 2**-20 (a millionth of the texture) are the same UV.
UV_QUANTUM = 2.0**-20
# Unit normals closer than this per component are the same normal.
NORMAL_QUANTUM = 1e-4
# A face with area below this share of the bounding diagonal squared has none.
AREA_EPSILON = 1e-12
# Packed sort keys stay below this, so int64 arithmetic never overflows.
_WORD_LIMIT = 2**62


@dataclass
class _Merged:
    """One mesh part after vertex merging, with int64 faces for indexing."""

    source: Part
    vertices: FloatArray
    faces: IntArray
    normals: Float32Array | None
    bad_normals: BoolArray | None
    uv: Float32Array | None
    colors: ByteArray | None


def clean_model(model: Model, debris_fraction: float) -> tuple[Model, dict[str, int]]:
    """Return a cleaned copy of ``model`` and counts of what was repaired.

    ``debris_fraction`` is the share of all faces below which a connected
    component counts as floating debris (0 disables debris removal). The
    input model and its arrays are never modified. Parts left without faces
    (or points) are dropped with a warning; if nothing is left at all the
    model is refused with ``ModelError("empty_model", ...)``.
    """
    _check_fraction(debris_fraction)
    stats = dict.fromkeys(STAT_KEYS, 0)
    warnings = list(model.warnings)
    mesh_parts = [part for part in model.parts if not part.is_points]
    cleaned_meshes = iter(_clean_meshes(mesh_parts, debris_fraction, stats, warnings))
    parts: list[Part] = []
    for part in model.parts:
        cleaned = _clean_points(part, stats) if part.is_points else next(cleaned_meshes)
        if len(cleaned.vertices) and (cleaned.is_points or cleaned.triangle_count):
            parts.append(cleaned)
        else:
            kind = "points" if part.is_points else "faces"
            warnings.append(f"part {part.name or '(unnamed)'!r} had no {kind} left after cleaning")
    if model.parts and not parts:
        raise ModelError(
            "empty_model",
            f"nothing usable left after cleaning: of {stats['faces_before']} faces "
            f"{stats['degenerate_faces']} were degenerate and {stats['duplicate_faces']} "
            f"duplicates; of the points {stats['nonfinite_points']} were not finite",
        )
    stats["vertices_after"] = sum(len(part.vertices) for part in parts)
    stats["faces_after"] = sum(part.triangle_count for part in parts)
    return replace(model, parts=parts, warnings=warnings), stats


def _check_fraction(debris_fraction: float) -> None:
    """Refuse a debris share that would remove everything or makes no sense."""
    if not (math.isfinite(debris_fraction) and 0.0 <= debris_fraction < 1.0):
        raise ModelError(
            "invalid_parameter",
            f"debris_fraction must be at least 0 and below 1, got {debris_fraction!r}",
        )


# --------------------------------------------------------------------------- points


def _clean_points(part: Part, stats: dict[str, int]) -> Part:
    """Drop non-finite points and exact duplicates (the first copy is kept)."""
    vertices = np.asarray(part.vertices, dtype=np.float64)
    stats["vertices_before"] += len(vertices)
    finite = np.flatnonzero(_finite_rows(vertices))
    stats["nonfinite_points"] += len(vertices) - len(finite)
    # Adding 0.0 turns -0.0 into 0.0 so both have the same bits.
    bits = np.ascontiguousarray(vertices[finite] + 0.0).view(np.int64)
    first, _ = _unique_rows(bits)
    stats["duplicate_points"] += len(finite) - len(first)
    return _take_points(part, finite[first])


# --------------------------------------------------------------------------- meshes


def _clean_meshes(
    parts: list[Part], debris_fraction: float, stats: dict[str, int], warnings: list[str]
) -> list[Part]:
    """Clean all mesh parts together and return them in the same order."""
    if not parts:
        return []
    for part in parts:
        stats["vertices_before"] += len(part.vertices)
        stats["faces_before"] += part.triangle_count
    origin, diagonal = _finite_bounds([part.vertices for part in parts])
    quantum = diagonal * POSITION_QUANTUM if diagonal > 0 else 1.0
    merged = [_merge_vertices(part, origin, quantum) for part in parts]
    stats["merged_vertices"] += sum(
        len(part.vertices) - len(m.vertices) for part, m in zip(parts, merged, strict=True)
    )

    offsets = np.cumsum([0] + [len(m.vertices) for m in merged])
    positions = np.concatenate([m.vertices for m in merged])
    faces = np.concatenate([m.faces + offset for m, offset in zip(merged, offsets, strict=False)])
    face_part = np.repeat(np.arange(len(merged)), [len(m.faces) for m in merged])
    position_ids = _position_ids(positions, origin, quantum)
    corner_ids = position_ids[faces]

    keep = _drop_bad_faces(faces, corner_ids, positions, diagonal, stats)
    keep = keep[_debris_keep(corner_ids[keep], len(positions), debris_fraction, stats)]
    flips = _winding_flips(corner_ids[keep], positions, faces[keep])
    if flips.conflict_faces:
        warnings.append(
            f"winding left as found on {flips.conflict_faces} faces whose surface cannot be "
            "oriented consistently (non-orientable or self-touching)"
        )
    stats["flipped_faces"] += int(flips.flip.sum())

    kept_faces = faces[keep]
    kept_faces[flips.flip] = kept_faces[flips.flip][:, ::-1]
    kept_part = face_part[keep]
    cleaned = []
    for index, m in enumerate(merged):
        mine = kept_part == index
        part_faces = kept_faces[mine] - offsets[index]
        flipped = bool(flips.flip[mine].any())
        cleaned.append(_finish_part(m, part_faces, flipped, stats))
    return cleaned


def _finite_bounds(vertex_arrays: list[FloatArray]) -> tuple[FloatArray, float]:
    """Lower corner and diagonal of the finite vertices (zeros when there are none)."""
    stacked = np.concatenate(
        [np.asarray(v, dtype=np.float64).reshape(-1, 3) for v in vertex_arrays]
    )
    finite = stacked[_finite_rows(stacked)]
    if not len(finite):
        return np.zeros(3), 0.0
    low, high = finite.min(axis=0), finite.max(axis=0)
    return low, float(np.linalg.norm(high - low))


def _merge_vertices(part: Part, origin: FloatArray, quantum: float) -> _Merged:
    """Merge vertices equal in every attribute; keep first-seen order."""
    vertices = np.asarray(part.vertices, dtype=np.float64)
    faces = _checked_faces(part)
    columns, unusable = _position_columns(vertices, origin, quantum)
    normals, bad_normals = _unit_normals(part.normals)
    uv = None if part.uv is None else np.asarray(part.uv, dtype=np.float32)
    if uv is not None:
        uv_finite = _finite_rows(uv)
        unusable |= ~uv_finite
        columns.append(_rounded(np.where(uv_finite[:, None], uv, 0.0), UV_QUANTUM))
    if part.colors is not None:
        rgba = np.ascontiguousarray(part.colors, dtype=np.uint8).view(np.uint32)
        columns.append(rgba.astype(np.int64))
    if normals is not None:
        columns.append(_rounded(normals, NORMAL_QUANTUM))
    if unusable.any():
        # A vertex with a non-finite position or UV is never merged with anything.
        columns.append(np.where(unusable, np.arange(1, len(vertices) + 1), 0)[:, None])
    first, inverse = _unique_rows(np.hstack(columns))
    return _Merged(
        source=part,
        vertices=vertices[first],
        faces=inverse[faces],
        normals=None if normals is None else normals[first],
        bad_normals=None if bad_normals is None else bad_normals[first],
        uv=None if uv is None else uv[first],
        colors=None if part.colors is None else np.asarray(part.colors, dtype=np.uint8)[first],
    )


def _checked_faces(part: Part) -> IntArray:
    """The part's faces as int64, refusing indices that point past the vertices."""
    assert part.faces is not None
    faces = np.asarray(part.faces).astype(np.int64).reshape(-1, 3)
    if len(faces) and (faces.min() < 0 or faces.max() >= len(part.vertices)):
        raise ModelError(
            "invalid_mesh",
            f"part {part.name or '(unnamed)'!r} has face indices outside its "
            f"{len(part.vertices)} vertices",
        )
    return faces


def _position_columns(
    vertices: FloatArray, origin: FloatArray, quantum: float
) -> tuple[list[IntArray], BoolArray]:
    """Integer grid positions (non-finite rows zeroed) and the non-finite mask."""
    finite = _finite_rows(vertices)
    shifted = np.where(finite[:, None], vertices - origin, 0.0)
    return [_rounded(shifted, quantum)], ~finite


def _finite_rows(values: npt.NDArray[np.floating]) -> BoolArray:
    """True for each row whose numbers are all finite."""
    return np.asarray(np.all(np.isfinite(values), axis=1), dtype=bool)


def _rounded(values: npt.NDArray[np.floating], quantum: float) -> IntArray:
    """Values snapped to a grid of ``quantum`` as int64 keys (clipped, so absurd
    values such as a UV of 1e30 cannot overflow the cast)."""
    scaled = np.rint(np.asarray(values, dtype=np.float64) / quantum)
    return np.clip(scaled, -(2.0**60), 2.0**60).astype(np.int64).reshape(len(values), -1)


def _unit_normals(normals: Float32Array | None) -> tuple[Float32Array | None, BoolArray | None]:
    """Normals scaled to unit length; unusable ones zeroed and flagged for recomputation."""
    if normals is None:
        return None, None
    values = np.asarray(normals, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        length = np.linalg.norm(values, axis=1)
    bad = ~(np.isfinite(length) & (length > 1e-12))
    unit = np.where(bad[:, None], 0.0, values / np.where(bad, 1.0, length)[:, None])
    return unit.astype(np.float32), bad


def _position_ids(positions: FloatArray, origin: FloatArray, quantum: float) -> IntArray:
    """One id per distinct position (UV seams share an id); non-finite ones stay apart."""
    columns, unusable = _position_columns(positions, origin, quantum)
    if unusable.any():
        columns.append(np.where(unusable, np.arange(1, len(positions) + 1), 0)[:, None])
    return _unique_rows(np.hstack(columns))[1]


def _unique_rows(keys: IntArray) -> tuple[IntArray, IntArray]:
    """``(first, inverse)``: index of each distinct row's first occurrence, in order
    of first occurrence, and each row's group number in that order.

    Columns are packed into one int64 word (re-ranking densely whenever the next
    column would overflow it), then a single quicksort finds the groups. This is
    several times faster than ``np.lexsort`` or ``np.unique(axis=0)`` on
    millions of rows, and exact: packing never lets two different rows collide.
    """
    count = len(keys)
    if count == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    word, _ = _packed(keys.reshape(count, -1))
    order = np.argsort(word)
    ordered = word[order]
    starts = np.ones(count, dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    group_sorted = np.cumsum(starts) - 1
    first_per_group = np.minimum.reduceat(order, np.flatnonzero(starts))
    by_first = np.argsort(first_per_group)
    rank = np.empty(len(first_per_group), dtype=np.int64)
    rank[by_first] = np.arange(len(first_per_group))
    inverse = np.empty(count, dtype=np.int64)
    inverse[order] = rank[group_sorted]
    return first_per_group[by_first].astype(np.int64), inverse


def _packed(keys: IntArray) -> tuple[IntArray, int]:
    """One int64 per row, equal exactly when the rows are equal, and its span."""
    word: IntArray | None = None
    span = 1
    for column in keys.T:
        low = int(column.min())
        width = int(column.max()) - low + 1
        shifted = column - low
        if width > _WORD_LIMIT:
            shifted, width = _dense_rank(shifted)
        if word is None:
            word, span = shifted, width
            continue
        if span * width > _WORD_LIMIT:
            word, span = _dense_rank(word)
        word = word * width + shifted
        span *= width
    assert word is not None
    return word, span


def _dense_rank(values: IntArray) -> tuple[IntArray, int]:
    """Values replaced by their rank among the distinct values, and how many there are."""
    order = np.argsort(values)
    ordered = values[order]
    starts = np.ones(len(values), dtype=np.int64)
    starts[0] = 0
    starts[1:] = ordered[1:] != ordered[:-1]
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.cumsum(starts)
    return ranks, int(ranks.max()) + 1


def _drop_bad_faces(
    faces: IntArray,
    corner_ids: IntArray,
    positions: FloatArray,
    diagonal: float,
    stats: dict[str, int],
) -> IntArray:
    """Indices of faces that are neither degenerate nor a repeat of an earlier face."""
    repeated = (
        (corner_ids[:, 0] == corner_ids[:, 1])
        | (corner_ids[:, 1] == corner_ids[:, 2])
        | (corner_ids[:, 2] == corner_ids[:, 0])
    )
    corners = positions[faces]
    with np.errstate(invalid="ignore", over="ignore"):
        doubled_area = np.linalg.norm(
            np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1
        )
        # NaN (a non-finite corner) fails the comparison and counts as degenerate.
        has_area = doubled_area > 2.0 * AREA_EPSILON * diagonal**2
    good = np.flatnonzero(~repeated & has_area)
    stats["degenerate_faces"] += len(faces) - len(good)
    first, _ = _unique_rows(np.sort(corner_ids[good], axis=1))
    stats["duplicate_faces"] += len(good) - len(first)
    return good[np.sort(first)]


def _debris_keep(
    corner_ids: IntArray, position_count: int, debris_fraction: float, stats: dict[str, int]
) -> IntArray:
    """Indices (into ``corner_ids``) of faces outside small floating components."""
    face_count = len(corner_ids)
    if debris_fraction <= 0 or face_count == 0:
        return np.arange(face_count)
    labels = _components(
        position_count,
        np.concatenate([corner_ids[:, 0], corner_ids[:, 1]]),
        np.concatenate([corner_ids[:, 1], corner_ids[:, 2]]),
    )
    face_label = labels[corner_ids[:, 0]]
    sizes = np.bincount(face_label, minlength=position_count)
    small = (sizes > 0) & (sizes < debris_fraction * face_count)
    small[np.argmax(sizes)] = False  # the largest part is the object, however small
    stats["debris_components"] += int(small.sum())
    stats["debris_faces"] += int(sizes[small].sum())
    return np.flatnonzero(~small[face_label])


def _components(node_count: int, u: IntArray, v: IntArray) -> IntArray:
    """Connected components of an undirected graph as labels: each node's label is
    the smallest node id in its component.

    Each pass hooks every root that still has an edge to another tree onto the
    smallest root it touches, then compresses paths by pointer jumping. Labels
    only ever point to smaller ids, so there are no cycles; meshes need about
    ten passes. Edges whose ends already agree are dropped for good.
    """
    labels = np.arange(node_count, dtype=np.int64)
    while len(u):
        label_u, label_v = labels[u], labels[v]
        differ = label_u != label_v
        if not differ.any():
            break
        u, v, label_u, label_v = u[differ], v[differ], label_u[differ], label_v[differ]
        np.minimum.at(labels, np.maximum(label_u, label_v), np.minimum(label_u, label_v))
        while True:
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
    return labels


@dataclass
class _Flips:
    flip: BoolArray
    conflict_faces: int


def _winding_flips(corner_ids: IntArray, positions: FloatArray, faces: IntArray) -> _Flips:
    """Which faces to reverse so winding is consistent and closed bodies face out.

    Faces are nodes of a "doubled" graph: node ``f`` is face f as stored, node
    ``f + F`` is face f reversed. Two faces sharing a manifold edge (exactly two
    faces on it) are consistent when the edge runs in opposite directions; so
    if it runs the same way, ``f`` joins ``g + F`` (and ``f + F`` joins ``g``),
    otherwise ``f`` joins ``g``. In each surface the two states of every face
    then fall into two mirror-image components; picking one of them is a
    consistent winding. We keep the one that flips fewer faces, then reverse
    closed bodies whose signed volume is negative. If a face's two states are in
    one component the surface is non-orientable; those faces are left alone.
    """
    face_count = len(corner_ids)
    if face_count == 0:
        return _Flips(np.zeros(0, dtype=bool), 0)
    edges = corner_ids[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    edge_face = np.repeat(np.arange(face_count), 3)
    low, high = edges.min(axis=1), edges.max(axis=1)
    forward = edges[:, 0] < edges[:, 1]
    key = low * (int(corner_ids.max()) + 1) + high
    order = np.argsort(key)
    ordered = key[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, len(ordered)])
    pairs = starts[sizes == 2]
    edge_a, edge_b = order[pairs], order[pairs + 1]
    face_a, face_b = edge_face[edge_a], edge_face[edge_b]
    same_way = forward[edge_a] == forward[edge_b]
    if same_way.any():
        surface, flip, conflict = _orient_surfaces(face_count, face_a, face_b, same_way)
    else:  # already consistent (the usual case): only the bodies' sides are left to check
        surface = _components(face_count, face_a, face_b)
        flip = np.zeros(face_count, dtype=bool)
        conflict = np.zeros(face_count, dtype=bool)

    open_faces = edge_face[order[np.repeat(sizes != 2, sizes)]]
    flip = flip ^ _inverted_closed_bodies(surface, flip, conflict, open_faces, positions, faces)
    return _Flips(flip, int(conflict.sum()))


def _orient_surfaces(
    face_count: int, face_a: IntArray, face_b: IntArray, same_way: BoolArray
) -> tuple[IntArray, BoolArray, BoolArray]:
    """``(surface, flip, conflict)`` per face from the doubled face graph.

    ``surface`` labels each connected surface, ``flip`` makes every surface
    consistent while reversing as few faces as possible, ``conflict`` marks
    faces of non-orientable surfaces (never flipped).
    """
    target = face_b + np.where(same_way, face_count, 0)
    mirror = face_b + np.where(same_way, 0, face_count)
    labels = _components(
        2 * face_count,
        np.concatenate([face_a, face_a + face_count]),
        np.concatenate([target, mirror]),
    )
    as_stored, reversed_ = labels[:face_count], labels[face_count:]
    conflict = as_stored == reversed_
    surface = np.minimum(as_stored, reversed_)
    flip = (as_stored != surface) & ~conflict
    flip ^= _minority_choice(surface, flip, conflict)
    return surface, flip, conflict


def _minority_choice(surface: IntArray, flip: BoolArray, conflict: BoolArray) -> BoolArray:
    """Per face: True where its surface should take the other winding (fewer flips)."""
    count = max(int(surface.max()) + 1, 1)
    flips = np.bincount(surface, weights=flip, minlength=count)
    totals = np.bincount(surface, weights=~conflict, minlength=count)
    other = flips > totals - flips
    return other[surface] & ~conflict


def _inverted_closed_bodies(
    surface: IntArray,
    flip: BoolArray,
    conflict: BoolArray,
    open_faces: IntArray,
    positions: FloatArray,
    faces: IntArray,
) -> BoolArray:
    """Per face: True where it belongs to a closed surface that faces inwards.

    A surface is closed when none of its edges has one face or more than two.
    Its signed volume (sum of corner triple products over six, measured from
    a point near the surfaces for precision) is negative when it faces inwards.
    """
    count = int(surface.max()) + 1
    closed = np.ones(count, dtype=bool)
    closed[surface[open_faces]] = False
    closed[surface[conflict]] = False
    candidates = np.flatnonzero(closed[surface])
    if not len(candidates):
        return np.zeros(len(surface), dtype=bool)
    mine = faces[candidates]
    oriented = np.where(flip[candidates, None], mine[:, ::-1], mine)
    corners = positions[oriented] - positions[mine[:, 0]].mean(axis=0)
    triple = np.einsum("ij,ij->i", corners[:, 0], np.cross(corners[:, 1], corners[:, 2]))
    volume = np.bincount(surface[candidates], weights=triple, minlength=count)
    inverted = closed & (volume < 0)
    return inverted[surface]


def _finish_part(merged: _Merged, faces: IntArray, flipped: bool, stats: dict[str, int]) -> Part:
    """Drop unreferenced vertices and settle the normals of one cleaned part."""
    used = np.zeros(len(merged.vertices), dtype=bool)
    used[faces.reshape(-1)] = True
    kept = np.flatnonzero(used)
    stats["unreferenced_vertices"] += len(merged.vertices) - len(kept)
    remap = np.full(len(merged.vertices), -1, dtype=np.int64)
    remap[kept] = np.arange(len(kept))
    new_faces = remap[faces].astype(np.uint32)
    vertices = merged.vertices[kept]
    normals = None
    if merged.normals is not None and not flipped:
        assert merged.bad_normals is not None
        normals = _repair_normals(
            merged.normals[kept], merged.bad_normals[kept], vertices, new_faces
        )
    return replace(
        merged.source,
        vertices=vertices,
        faces=new_faces.reshape(-1, 3),
        normals=normals,
        uv=None if merged.uv is None else merged.uv[kept],
        colors=None if merged.colors is None else merged.colors[kept],
    )


def _repair_normals(
    normals: Float32Array, bad: BoolArray, vertices: FloatArray, faces: npt.NDArray[np.uint32]
) -> Float32Array:
    """Recompute the flagged normals as area-weighted sums of the faces around them."""
    if not bad.any():
        return normals
    corners = vertices[faces.astype(np.int64)]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    summed = np.zeros((len(vertices), 3))
    for corner in range(3):
        np.add.at(summed, faces[:, corner].astype(np.int64), face_normals)
    length = np.linalg.norm(summed, axis=1)
    fallback = np.where((length > 0)[:, None], summed / np.maximum(length, 1e-300)[:, None], 0.0)
    fallback[length <= 0] = (0.0, 1.0, 0.0)
    repaired = normals.copy()
    repaired[bad] = fallback[bad].astype(np.float32)
    return repaired


def _take_points(part: Part, index: IntArray) -> Part:
    """A copy of a point part keeping only the points at ``index``."""
    return replace(
        part,
        vertices=np.asarray(part.vertices, dtype=np.float64)[index],
        normals=None if part.normals is None else np.asarray(part.normals)[index],
        uv=None if part.uv is None else np.asarray(part.uv)[index],
        colors=None if part.colors is None else np.asarray(part.colors)[index],
    )
