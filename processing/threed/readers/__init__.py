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

from collections.abc import Callable
from pathlib import Path

from processing.threed.model import Model
from processing.threed.readers.common import (
    ApprovedResolver,
    ReadContext,
    one_line,
    pillow_guard,
)
from processing.threed.readers.gltf import gltf_counts, read_drc, read_glb, read_gltf
from processing.threed.readers.meshes import (
    binary_stl_count,
    read_obj,
    read_ply,
    read_stl,
    strips_to_faces,
)
from processing.threed.readers.points import read_e57, read_las, read_pcd, read_pts, read_xyz

__all__ = [
    "LIBRARIES",
    "READERS",
    "ApprovedResolver",
    "ReadContext",
    "binary_stl_count",
    "gltf_counts",
    "one_line",
    "pillow_guard",
    "strips_to_faces",
]

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
