"""Independent checks of GLB files for the tests: the Khronos glTF-Validator and a meshopt decoder.

Both are npm packages of the viewer (``gltf-validator``, ``meshoptimizer``, ``three``), run by
``tests/gltf_tools.mjs`` under Node. Checking the pipeline's output with the reference validator
and the same decoder the browser uses, rather than with our own Python reader, is what makes a
passing test mean "a viewer will load this". ``make test`` installs the npm packages first; where
they are missing, tests skip with :func:`gltf_tools_available`'s reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve().with_name("gltf_tools.mjs")
VIEWER_MODULES = ROOT / "viewer" / "node_modules"
REQUIRED_PACKAGES = ("gltf-validator", "meshoptimizer", "three")
# Validation is ~0.1 s per MB; the limit only stops a hung process.
TIMEOUT_SECONDS = 120


def gltf_tools_available() -> str | None:
    """Why the tools cannot run here (a skip reason), or None when they can."""
    if shutil.which("node") is None:
        return "node is not installed (make install)"
    for package in REQUIRED_PACKAGES:
        if not (VIEWER_MODULES / package / "package.json").is_file():
            return f"viewer/node_modules/{package} is missing (cd viewer && npm ci)"
    return None


def _run(command: str, paths: list[Path]) -> list[dict[str, Any]]:
    """Runs one gltf_tools.mjs command; one JSON object per output line."""
    reason = gltf_tools_available()
    if reason is not None:
        raise RuntimeError(reason)
    node = shutil.which("node")
    assert node is not None
    result = subprocess.run(
        [node, str(SCRIPT), command, *(str(p) for p in paths)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"gltf_tools {command} failed ({result.returncode}): {result.stderr}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def validate_glb(paths: list[Path]) -> list[dict[str, Any]]:
    """The Khronos validator's verdict on each file, in order, from one Node process.

    Each dict has file, numErrors, numWarnings, numInfos, messages (the first 20 errors and
    warnings: code, message, pointer), extensionsUsed, unsupportedExtensions (ones the validator
    cannot look inside, e.g. EXT_meshopt_compression: check those with :func:`decode_glb`), and
    externalResources ({"read", "refused", "missing"}: URIs that leave the file's folder are
    refused, which the validator reports as IO_ERROR). Input the validator cannot recognise at
    all counts as one NOT_GLTF error; a path that does not exist raises RuntimeError.
    """
    if not paths:
        return []
    return _run("validate", paths)


def decode_glb(path: Path) -> dict[str, Any]:
    """World-space geometry of every mesh instance, meshopt buffers decoded.

    ``{"file", "meshes": [{"node", "mesh", "name", "positions_count", "index_count", "bbox_min",
    "bbox_max", "sha256_positions", "sha256_triangles"}]}``; the hashes are of positions rounded
    to 1e-6 and ignore vertex, triangle and corner order (encoders reorder them).
    """
    [decoded] = _run("decode", [path])
    return decoded


def load_with_three(path: Path) -> dict[str, Any]:
    """What the viewer's three.js GLTFLoader (viewer/src/model-loader.js) builds from the file.

    ``{"file", "meshes": [{"name", "positions_count", "index_count", "bbox_min", "bbox_max"}]}``
    with world-space boxes; GLB with embedded buffers and no textures only (Node has no images).
    """
    [loaded] = _run("load", [path])
    return loaded
