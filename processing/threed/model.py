"""The in-memory model every 3D step reads and writes, and the options that steer them.

A scan becomes a :class:`Model`: one or more :class:`Part` s (a part is one
material: one texture or one colour), or a point cloud (parts whose ``faces``
is ``None``). Readers produce it, cleaning and normalization transform it,
the LOD builder and the GLB writer consume it. Arrays are NumPy; nothing here
touches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from processing.report import PipelineError

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
IndexArray = npt.NDArray[np.uint32]
ByteArray = npt.NDArray[np.uint8]

UNITS_TO_METRES = {"mm": 0.001, "cm": 0.01, "m": 1.0}
UP_AXES = ("y", "z")
KINDS = ("mesh", "pointcloud")


class ModelError(PipelineError):
    """An input the 3D pipeline refuses or cannot read.

    ``reason`` is one English sentence naming the problem (it goes into
    ``report.json`` and on the command line); ``code`` is a stable key such
    as ``too_many_faces`` or ``unsafe_reference`` for programs and tests.
    """


@dataclass
class Texture:
    """An image used as a base-colour map: RGB or RGBA pixels, row 0 at the top."""

    pixels: ByteArray  # (height, width, 3 or 4) uint8
    name: str = "texture"

    @property
    def has_alpha(self) -> bool:
        return bool(self.pixels.shape[2] == 4 and (self.pixels[:, :, 3] < 255).any())


@dataclass
class Part:
    """One material's geometry.

    ``faces`` is ``None`` for a point cloud. ``uv`` follows the glTF
    convention (origin top-left, v down) once a reader has produced it.
    ``colors`` are per-vertex RGBA uint8. ``normals`` are unit vectors or
    ``None`` (the writer computes them for meshes).
    """

    vertices: FloatArray  # (n, 3) float64
    faces: IndexArray | None = None  # (m, 3) uint32
    normals: Float32Array | None = None  # (n, 3)
    uv: Float32Array | None = None  # (n, 2)
    colors: ByteArray | None = None  # (n, 4)
    texture: Texture | None = None
    base_color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    name: str = ""

    @property
    def is_points(self) -> bool:
        return self.faces is None

    @property
    def triangle_count(self) -> int:
        return 0 if self.faces is None else len(self.faces)


@dataclass
class Model:
    parts: list[Part]
    source_format: str = ""  # obj, ply, stl, gltf, glb, xyz, pts, pcd, las, laz, e57
    warnings: list[str] = field(default_factory=list)

    @property
    def is_pointcloud(self) -> bool:
        return all(part.is_points for part in self.parts)

    @property
    def vertex_count(self) -> int:
        return sum(len(part.vertices) for part in self.parts)

    @property
    def triangle_count(self) -> int:
        return sum(part.triangle_count for part in self.parts)

    def bounds(self) -> FloatArray:
        """``[[min x, y, z], [max x, y, z]]`` over every part."""
        stacked = np.concatenate([part.vertices for part in self.parts])
        return np.array([stacked.min(axis=0), stacked.max(axis=0)])


@dataclass(frozen=True)
class Limits:
    """What the pipeline accepts before it does heavy work (checked from headers)."""

    max_vertices: int = 30_000_000
    max_faces: int = 30_000_000
    max_points: int = 100_000_000
    max_texture_pixels: int = 16384 * 16384
    max_textures: int = 64
    max_archive_entries: int = 2000
    max_archive_bytes: int = 8 * 1024**3
    max_data_uri_bytes: int = 64 * 1024**2
    max_input_bytes: int = 8 * 1024**3


@dataclass(frozen=True)
class LodSpec:
    name: str  # high, web, thumb
    triangles: int  # triangle budget (points budget for point clouds)
    texture_size: int  # longest texture side in px


DEFAULT_LODS = (
    LodSpec("high", 1_000_000, 4096),
    LodSpec("web", 150_000, 2048),
    LodSpec("thumb", 20_000, 1024),
    LodSpec("preview", 5_000, 512),
)
DEFAULT_POINT_LODS = (
    LodSpec("high", 5_000_000, 0),
    LodSpec("web", 1_000_000, 0),
    LodSpec("thumb", 150_000, 0),
    LodSpec("preview", 30_000, 0),
)


@dataclass(frozen=True)
class ModelOptions:
    kind: str | None = None  # mesh | pointcloud | None (decide from the data)
    units: str = "m"  # unit of the source coordinates
    up: str = "y"  # the source's up axis
    limits: Limits = Limits()
    lods: tuple[LodSpec, ...] = DEFAULT_LODS
    point_lods: tuple[LodSpec, ...] = DEFAULT_POINT_LODS
    debris_fraction: float = 0.01  # components below this share of all faces are removed
    lock_borders: bool = True  # open borders stay in place while simplifying (when possible)
    texture_format: str = "jpeg"  # jpeg | webp
    texture_quality: int = 85
    position_bits: int = 14
    uv_bits: int = 12
    normal_bits: int = 8
    compress: bool = True  # EXT_meshopt_compression
    reconstruct: bool = False  # point cloud → mesh by Poisson reconstruction
    poster_size: int = 1024
    thumbnail_size: int = 256
    error_samples: int = 200_000

    def parameters(self) -> dict[str, Any]:
        """The options as JSON for the report (what a rerun needs to reproduce the output)."""
        return {
            "kind": self.kind,
            "units": self.units,
            "up": self.up,
            "lods": [vars(lod) for lod in self.lods],
            "point_lods": [vars(lod) for lod in self.point_lods],
            "debris_fraction": self.debris_fraction,
            "lock_borders": self.lock_borders,
            "texture_format": self.texture_format,
            "texture_quality": self.texture_quality,
            "quantization": {
                "position": self.position_bits,
                "uv": self.uv_bits,
                "normal": self.normal_bits,
            },
            "compress": self.compress,
            "reconstruct": self.reconstruct,
            "limits": vars(self.limits),
        }
