"""Read an upload (a file, a folder or a ZIP bundle) into a :class:`Model`.

:func:`load_model` is the only entry point. It finds the model file, tells
its format from its bytes (names only decide between text formats), checks
counts against the limits from headers before anything heavy is parsed,
hands over to the format's reader (:mod:`processing.threed.readers`), and
cleans what comes back: non-finite coordinates dropped, empty results
refused, ``options.kind`` applied. Every failure is a :class:`ModelError`
whose reason names the problem; no library exception escapes.
"""

from __future__ import annotations

import re
import struct
import tempfile
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt

from processing.threed.bundle import (
    UNSUPPORTED_SUFFIXES,
    check_folder,
    check_limit,
    extract_zip,
    find_main_file,
    unsupported,
)
from processing.threed.model import Limits, Model, ModelError, ModelOptions, Part
from processing.threed.readers import LIBRARIES, READERS, ReadContext, binary_stl_count, one_line

HEAD_BYTES = 4096
LABELS = {
    "obj": "OBJ",
    "ply": "PLY",
    "stl": "STL",
    "gltf": "glTF",
    "glb": "GLB",
    "drc": "Draco",
    "xyz": "XYZ",
    "pts": "PTS",
    "pcd": "PCD",
    "las": "LAS",
    "laz": "LAZ",
    "e57": "E57",
}
SUFFIX_LABELS = {
    ".obj": "OBJ",
    ".ply": "PLY",
    ".stl": "STL",
    ".gltf": "glTF",
    ".glb": "GLB",
    ".drc": "Draco",
    ".xyz": "XYZ",
    ".pts": "PTS",
    ".pcd": "PCD",
    ".las": "LAS",
    ".laz": "LAZ",
    ".e57": "E57",
}
XYZ_SUFFIXES = (".xyz", ".txt", ".asc", ".csv", ".xyzrgb", ".xyzn")
KNOWN = "OBJ, PLY, STL, glTF/GLB, XYZ, PTS, PCD, LAS/LAZ or E57"


def _text(head: bytes) -> str | None:
    """The start of the file as text, or None when it looks binary."""
    if b"\x00" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a character cut by the read
            return head[: exc.start].decode("utf-8")
        return head.decode("latin-1") if not re.search(rb"[\x00-\x08\x0e-\x1f]", head) else None


def _binary_stl_mismatch(path: Path, head: bytes) -> ModelError:
    size = path.stat().st_size
    if size < 84:
        return ModelError("malformed", f"The STL file is {size} bytes, too short for a header.")
    (count,) = struct.unpack("<I", head[80:84])
    return ModelError(
        "malformed",
        f"The binary STL header declares {count} triangles ({84 + 50 * count} bytes) "
        f"but the file has {size} bytes.",
    )


def sniff_format(path: Path) -> str:
    """The format key of a file from its content (magic bytes), then its name for text.

    Returns one of ``zip`` and the keys of ``READERS``; raises ``unsupported_format``.
    """
    with path.open("rb") as stream:
        head = stream.read(HEAD_BYTES)
    suffix = path.suffix.lower()
    if not head:
        raise ModelError("empty_model", f"The file '{path.name}' is empty.")
    magic = {
        b"PK\x03\x04": "zip",
        b"PK\x05\x06": "zip",
        b"glTF": "glb",
        b"LASF": "las",
        b"ASTM-E57": "e57",
        b"DRACO": "drc",
    }
    for prefix, kind in magic.items():
        if head.startswith(prefix):
            return kind
    if re.match(rb"ply\r?\n", head):
        return "ply"
    if re.match(rb"(#[^\n]*\n)*VERSION", head) and (head.startswith(b"# .PCD") or suffix == ".pcd"):
        return "pcd"  # binary PCD bodies follow a text header
    # Binary STL first: its 80-byte header may well start with "solid".
    if binary_stl_count(path) is not None:
        return "stl"
    text = _text(head)
    if text is None:
        if suffix == ".stl":
            raise _binary_stl_mismatch(path, head)
        raise _unknown(path)
    start = text.lstrip("\ufeff \t\r\n")
    if "<COLLADA" in text:
        raise unsupported("model.dae")
    if start.lower().startswith("solid") and suffix in (".stl", ""):
        return "stl"
    by_suffix = {".obj": "obj", ".gltf": "gltf", ".pts": "pts", ".stl": "stl", ".pcd": "pcd"}
    if suffix in by_suffix:
        return by_suffix[suffix]
    if suffix in XYZ_SUFFIXES:
        return "xyz"
    if start.startswith("{") and '"asset"' in text:
        return "gltf"
    raise _unknown(path)


def _unknown(path: Path) -> ModelError:
    """The refusal for content we cannot place: damaged if its name promises a format."""
    suffix = path.suffix.lower()
    if suffix in UNSUPPORTED_SUFFIXES:
        return unsupported(path.name)
    if suffix == ".mtl":
        return ModelError(
            "unsupported_format",
            f"'{path.name}' is an OBJ material library, not a model; upload it with its OBJ.",
        )
    if suffix in SUFFIX_LABELS:
        return ModelError(
            "malformed",
            f"The file '{path.name}' has the {suffix} extension, but its content is not "
            f"{SUFFIX_LABELS[suffix]} (damaged or mislabelled).",
        )
    return ModelError(
        "unsupported_format", f"The file '{path.name}' is not a recognised 3D format ({KNOWN})."
    )


def _locate(source: Path, limits: Limits, scratch: Path) -> tuple[Path, Path]:
    """(root of the upload, main model file); a ZIP is unpacked into ``scratch``."""
    if not source.exists():
        raise ModelError("not_found", f"The upload '{source.name}' does not exist.")
    if source.is_dir():
        check_folder(source, limits)
        return source, find_main_file(source)
    size = source.stat().st_size
    check_limit(limits, "max_input_bytes", size, f"The file '{source.name}' is {size} bytes")
    if sniff_format(source) != "zip":
        # A lone file's folder is its upload: siblings (an MTL) may be referenced.
        return source.parent, source
    if source.suffix.lower() in UNSUPPORTED_SUFFIXES:
        raise unsupported(source.name)
    root = Path(tempfile.mkdtemp(prefix="bundle-", dir=scratch))
    extract_zip(source, root, limits)
    return root, find_main_file(root)


def _read(kind: str, path: Path, ctx: ReadContext) -> Model:
    """Run a reader; any library failure becomes an ``unreadable`` ModelError."""
    label = LABELS[kind]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            model = READERS[kind](path, ctx)
    except ModelError:
        raise
    except MemoryError as exc:
        raise ModelError("too_large", f"The {label} file does not fit in memory.") from exc
    except Exception as exc:
        raise ModelError(
            "unreadable",
            f"The {label} file could not be read ({LIBRARIES[kind]}: {one_line(exc)}).",
        ) from exc
    for item in caught:
        ctx.warn(f"While reading the {label} file: {one_line(item.message)}")
    return model


def _compact(part: Part, keep: npt.NDArray[np.bool_]) -> Part:
    """The part restricted to the vertices in ``keep``, faces renumbered."""
    part.vertices = np.ascontiguousarray(part.vertices[keep])
    for name in ("normals", "uv", "colors"):
        values = getattr(part, name)
        if values is not None:
            setattr(part, name, np.ascontiguousarray(values[keep]))
    if part.faces is not None:
        renumber = np.cumsum(keep) - 1
        part.faces = renumber[part.faces.astype(np.int64)].astype(np.uint32)
    return part


def _note(model: Model, warning: str) -> None:
    if warning not in model.warnings:
        model.warnings.append(warning)


def _sanitize(model: Model, label: str) -> int:
    """Drop non-finite coordinates (and faces using them); returns how many vertices went."""
    dropped = 0
    for part in model.parts:
        finite: npt.NDArray[np.bool_] = np.asarray(np.isfinite(part.vertices).all(axis=1))
        if part.normals is not None and not np.isfinite(part.normals).all():
            part.normals = None
            _note(model, f"The {label} file has non-finite normals; they were dropped.")
        if part.uv is not None and not np.isfinite(part.uv).all():
            part.uv, part.texture = None, None
            _note(model, f"The {label} file has non-finite UVs; the texture was dropped.")
        if finite.all():
            continue
        dropped += int((~finite).sum())
        if part.faces is not None:
            usable = finite[part.faces.astype(np.int64)].all(axis=1)
            part.faces = part.faces[usable]
        _compact(part, finite)
    if dropped:
        model.warnings.append(
            f"The {label} file has {dropped} vertices with non-finite coordinates (NaN or "
            "infinity); they and the faces using them were dropped."
        )
    return dropped


def _apply_kind(model: Model, options: ModelOptions, label: str) -> None:
    """``kind`` forces how the data is used: faces ignored, or points refused as a mesh."""
    if options.kind == "pointcloud":
        if any(not part.is_points for part in model.parts):
            model.warnings.append("The faces were ignored: the model is read as a point cloud.")
        model.parts = [
            Part(vertices=p.vertices, normals=p.normals, colors=p.colors, name=p.name)
            for p in model.parts
        ]
    elif options.kind == "mesh" and model.parts:
        if model.is_pointcloud and not options.reconstruct:
            raise ModelError(
                "not_a_mesh",
                f"The {label} file has no faces (it is a point cloud of {model.vertex_count} "
                "points); choose the point cloud kind or enable reconstruction.",
            )
        if not model.is_pointcloud and any(part.is_points for part in model.parts):
            model.parts = [part for part in model.parts if not part.is_points]
            model.warnings.append("Loose points were ignored: the model is read as a mesh.")


def _check_result(model: Model, limits: Limits, label: str) -> None:
    """Limits on what was really loaded (faces can grow: quads, strips, instancing)."""
    faces = model.triangle_count
    check_limit(limits, "max_faces", faces, f"The {label} file has {faces} triangles")
    mesh_vertices = sum(len(p.vertices) for p in model.parts if not p.is_points)
    subject = f"The {label} file has {mesh_vertices} vertices"
    check_limit(limits, "max_vertices", mesh_vertices, subject)
    points = sum(len(p.vertices) for p in model.parts if p.is_points)
    check_limit(limits, "max_points", points, f"The {label} file has {points} points")


def load_model(source: Path, options: ModelOptions, scratch: Path) -> Model:
    """Read ``source`` (a model file, a folder, or a ZIP bundle) into a Model.

    ``scratch`` is an empty private directory a ZIP is extracted into. A lone
    file's own folder is treated as its upload, so an OBJ next to its MTL
    finds it: give each upload its own folder. Raises :class:`ModelError`.
    """
    source = Path(source)
    limits = options.limits
    try:
        root, main = _locate(source, limits, scratch)
        kind = sniff_format(main)
    except OSError as exc:
        raise ModelError("unreadable", f"The upload could not be read: {one_line(exc)}.") from exc
    if kind == "zip":
        raise ModelError(
            "unsupported_format",
            f"'{main.name}' is a ZIP inside the bundle; put the model files in one ZIP.",
        )
    ctx = ReadContext(root=root, limits=limits)
    model = _read(kind, main, ctx)
    label = LABELS.get(model.source_format, LABELS[kind])
    model.warnings = ctx.warnings + model.warnings
    had_geometry = any(len(part.vertices) for part in model.parts)
    dropped = _sanitize(model, label)
    model.parts = [
        part
        for part in model.parts
        if len(part.vertices) and (part.faces is None or len(part.faces))
    ]
    if not model.parts:
        if had_geometry and dropped:
            raise ModelError(
                "non_finite",
                f"Every face or point of the {label} file has a non-finite coordinate "
                "(NaN or infinity).",
            )
        raise ModelError("empty_model", f"The {label} file has no faces or points.")
    _apply_kind(model, options, label)
    _check_result(model, limits, label)
    return model
