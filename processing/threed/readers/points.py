"""Readers for point clouds: XYZ, PTS, PCD, LAS/LAZ and E57."""

from __future__ import annotations

import re
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from processing.threed.bundle import check_limit
from processing.threed.model import (
    ByteArray,
    FloatArray,
    Limits,
    Model,
    ModelError,
    Part,
)
from processing.threed.readers.common import (
    ReadContext,
    colors_rgba,
    library,
    scan_text,
)

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
    open3d = library("open3d")
    with open3d.utility.VerbosityContextManager(open3d.utility.VerbosityLevel.Error):
        cloud = open3d.io.read_point_cloud(
            str(path), format="pcd", remove_nan_points=False, remove_infinite_points=False
        )
    vertices = np.asarray(cloud.points, dtype=np.float64)
    if declared and not len(vertices):
        raise ModelError("unreadable", "The PCD file could not be read (Open3D found no points).")
    part = Part(vertices=vertices, name=path.name)
    if cloud.has_colors():
        part.colors = colors_rgba(np.asarray(cloud.colors), len(vertices), ctx)
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
    with library("laspy").open(str(path)) as reader:
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
        part.colors = colors_rgba((rgb >> shift).astype(np.uint8), len(vertices))
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
    libe57 = library("pye57.libe57")
    convert_spherical_to_cartesian = library("pye57.utils").convert_spherical_to_cartesian

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
        part.colors = colors_rgba(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), len(xyz))
    return part


def read_e57(path: Path, ctx: ReadContext) -> Model:
    e57 = library("pye57").E57(str(path))
    try:
        total = sum(int(e57.get_header(i).point_count) for i in range(e57.scan_count))
        check_limit(ctx.limits, "max_points", total, f"The E57 header declares {total} points")
        parts = [_e57_scan(e57, index) for index in range(e57.scan_count)]
    finally:
        e57.close()
    return Model(parts=[part for part in parts if len(part.vertices)], source_format="e57")
