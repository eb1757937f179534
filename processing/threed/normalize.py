"""Put a model into glTF's frame: metres, Y up, standing on the ground, centred.

glTF viewers assume metres and +Y up. Scans come in millimetres or
centimetres and, from CAD and most photogrammetry tools, with +Z up. After
:func:`normalize` every object stands on ``y = 0`` centred over the origin, so
the web viewer can frame any object the same way and show its true size.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

import numpy as np

from processing.threed.model import (
    UNITS_TO_METRES,
    UP_AXES,
    Float32Array,
    FloatArray,
    Model,
    ModelError,
    Part,
)

Z_UP_TO_Y_UP = "z-up→y-up"

_Coordinates = TypeVar("_Coordinates", FloatArray, Float32Array)


def normalize(model: Model, units: str, up: str) -> tuple[Model, dict[str, Any]]:
    """Return a copy of ``model`` in metres, Y up, centred in x and z, resting on y = 0.

    ``units`` is the unit of the source coordinates (``mm``, ``cm``, ``m``),
    ``up`` its up axis (``y`` or ``z``). Z-up is turned to Y-up by the proper
    rotation (x, y, z) → (x, z, -y), so handedness and winding are kept;
    normals turn with it. The info dict records what was done and the size of
    the object: ``scale``, ``translation`` (metres, applied after scaling and
    rotation), ``rotation``, ``dimensions_mm`` (width x, height y, depth z,
    to 0.1 mm) and ``bounding_box_m``. Vertices and normals are new arrays;
    UVs, colours and textures are shared with the input (they do not change).
    Non-finite vertices are ignored when measuring the bounds.
    """
    scale = _scale(units)
    rotate = _rotates(up)
    turned = [_scaled_and_rotated(part, scale, rotate) for part in model.parts]
    low, high = _finite_bounds([part.vertices for part in turned])
    translation = np.array([-(low[0] + high[0]) / 2, -low[1], -(low[2] + high[2]) / 2])
    parts = [replace(part, vertices=part.vertices + translation) for part in turned]
    low, high = low + translation, high + translation
    extent_mm = (high - low) * 1000.0
    info: dict[str, Any] = {
        "scale": scale,
        "translation": [float(value) for value in translation],
        "rotation": Z_UP_TO_Y_UP if rotate else "none",
        "dimensions_mm": {
            "width": round(float(extent_mm[0]), 1),
            "height": round(float(extent_mm[1]), 1),
            "depth": round(float(extent_mm[2]), 1),
        },
        "bounding_box_m": [[float(v) for v in low], [float(v) for v in high]],
    }
    return replace(model, parts=parts, warnings=list(model.warnings)), info


def bounding_diagonal(model: Model) -> float:
    """Length of the bounding box diagonal of the finite vertices (0 for no vertices).

    The yardstick for relative tolerances (merge distance, simplification
    error) so they mean the same on a coin and on a house.
    """
    try:
        low, high = _finite_bounds([part.vertices for part in model.parts])
    except ModelError:
        return 0.0
    return float(np.linalg.norm(high - low))


def _scale(units: str) -> float:
    if units not in UNITS_TO_METRES:
        raise ModelError(
            "invalid_parameter",
            f"unknown units {units!r}; expected one of {', '.join(UNITS_TO_METRES)}",
        )
    return UNITS_TO_METRES[units]


def _rotates(up: str) -> bool:
    if up not in UP_AXES:
        raise ModelError(
            "invalid_parameter", f"unknown up axis {up!r}; expected one of {', '.join(UP_AXES)}"
        )
    return up == "z"


def _scaled_and_rotated(part: Part, scale: float, rotate: bool) -> Part:
    """The part in metres and, when ``rotate``, turned from Z-up to Y-up."""
    vertices = np.asarray(part.vertices, dtype=np.float64) * scale
    normals = None if part.normals is None else np.array(part.normals, dtype=np.float32)
    if rotate:
        vertices = _z_up_to_y_up(vertices)
        if normals is not None:
            normals = _z_up_to_y_up(normals)
    return replace(part, vertices=vertices, normals=normals)


def _z_up_to_y_up(values: _Coordinates) -> _Coordinates:
    """(x, y, z) → (x, z, -y): a quarter turn about +x, so +z becomes +y."""
    return np.stack([values[:, 0], values[:, 2], -values[:, 1]], axis=1)


def _finite_bounds(vertex_arrays: list[FloatArray]) -> tuple[FloatArray, FloatArray]:
    """Lowest and highest corner over the finite vertices of all parts."""
    if not vertex_arrays:
        raise ModelError("empty_model", "the model has no vertices to place")
    stacked = np.concatenate([values.reshape(-1, 3) for values in vertex_arrays])
    finite = stacked[np.all(np.isfinite(stacked), axis=1)]
    if not len(finite):
        raise ModelError("empty_model", "the model has no finite vertex to place")
    return finite.min(axis=0), finite.max(axis=0)
