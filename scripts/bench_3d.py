"""Levels of detail side by side with gltfpack: same inputs, same triangle budgets.

Usage: python scripts/bench_3d.py [--repeat 3] [--samples 200000] [--open3d-timeout 60]
       [--docs docs/benchmarks.md]

For every input (three corpus scans and two denser meshes made from them by loop
subdivision, one over a million triangles) and two budgets (a tenth of the source
and 20,000 triangles) it runs gltfpack and our LOD builder as child processes on the
same GLB, and compares the files they write: bytes uncompressed and meshopt-compressed
(``-cc``), geometric error against the source (mean and Hausdorff), wall time and peak
memory. It writes its section of docs/benchmarks.md (between the ``bench-3d`` markers)
first, prints it, and exits 1 when a ratio misses the issue's goal.

``--one SRC.glb OUT.glb --target N [--compress]`` is our side of one run: read the GLB
with numpy, simplify, write the GLB. It imports neither trimesh nor open3d, so the
child pays only what the pipeline itself needs.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from bench_docs import write_section  # beside this script, on sys.path when run

# subprocess, tempfile, trimesh, open3d and the metrics are imported where the parent
# uses them: the timed ``--one`` child loads only what our pipeline itself needs.

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS_3D = ROOT.parent / "shared" / "corpus" / "3d"
DOCS = ROOT / "docs" / "benchmarks.md"
START_MARKER = "<!-- bench-3d:start -->"
END_MARKER = "<!-- bench-3d:end -->"
GLTFPACK = "/usr/bin/gltfpack"
TIME = "/usr/bin/time"  # GNU time: peak memory of a child, measured apart from ours
SMALL_BUDGET = 20_000
LARGE = 1_000_000  # the issue asks for at least one input this large
OPEN3D_TARGET_SHARE = 10  # the open3d reference simplifies the largest input to a tenth

# The acceptance goals: ours / gltfpack must stay at or below these.
GOALS = {
    "bytes": 1.0,
    "cc_bytes": 1.02,
    "mean": 1.05,
    "hausdorff": 1.1,
    "time": 1.2,
    "time_work": 1.2,
    "memory": 2.0,
    "memory_work": 2.0,
}
GOAL_TEXT = {
    "bytes": "bytes (quantized, uncompressed) ≤ 1.0× gltfpack",
    "cc_bytes": "meshopt-compressed bytes ≤ 1.02× `gltfpack -cc`",
    "mean": "mean error ≤ 1.05× gltfpack",
    "hausdorff": "Hausdorff error ≤ 1.1× gltfpack",
    "time": "wall time ≤ 1.2× gltfpack, whole process",
    "time_work": "wall time ≤ 1.2× gltfpack, our work",
    "memory": "peak memory ≤ 2× gltfpack, whole process",
    "memory_work": "peak memory ≤ 2× gltfpack, our work",
}

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.uint32]
Mesh = tuple[FloatArray, IndexArray]

# A GLB reader: just what trimesh, gltfpack and our writer put in a file.

COMPONENTS: dict[int, Any] = {
    5120: np.int8,
    5121: np.uint8,
    5122: np.int16,
    5123: np.uint16,
    5125: np.uint32,
    5126: np.float32,
}
WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


@dataclass
class Glb:
    doc: dict[str, Any]
    binary: bytes

    def accessor(self, index: int) -> npt.NDArray[Any]:
        """One accessor as an (count, width) array; normalized integers become floats.

        Strided views are read in place; compressed views are refused (their
        fallback buffer holds no bytes).
        """
        accessor = self.doc["accessors"][index]
        view = self.doc["bufferViews"][accessor["bufferView"]]
        if "EXT_meshopt_compression" in view.get("extensions", {}):
            raise SystemExit("reading a meshopt-compressed GLB is not supported here")
        dtype = np.dtype(COMPONENTS[accessor["componentType"]])
        width = WIDTHS[accessor["type"]]
        count = int(accessor["count"])
        stride = int(view.get("byteStride", dtype.itemsize * width))
        start = int(view.get("byteOffset", 0)) + int(accessor.get("byteOffset", 0))
        values: npt.NDArray[Any] = np.array(
            np.ndarray(
                (count, width),
                dtype,
                buffer=self.binary,
                offset=start,
                strides=(stride, dtype.itemsize),
            )
        )
        if accessor.get("normalized"):
            if dtype.kind == "u":
                return values / float(np.iinfo(dtype).max)
            return np.maximum(values / float(np.iinfo(dtype).max), -1.0)
        return values


def read_glb(path: Path) -> Glb:
    """The JSON and binary chunks of a GLB file."""
    data = path.read_bytes()
    magic, _version, _length = struct.unpack_from("<III", data, 0)
    if magic != 0x46546C67:
        raise SystemExit(f"{path}: not a GLB file")
    json_length, _ = struct.unpack_from("<II", data, 12)
    doc = json.loads(data[20 : 20 + json_length])
    offset = 20 + json_length
    binary = b""
    if offset + 8 <= len(data):
        binary_length, _ = struct.unpack_from("<II", data, offset)
        binary = data[offset + 8 : offset + 8 + binary_length]
    return Glb(doc, binary)


def read_source(
    path: Path,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32] | None, IndexArray]:
    """The one float32 mesh trimesh wrote: positions, normals (or None), faces (m, 3).

    The source's node must carry no transform (trimesh writes none for one mesh);
    gltfpack would apply it, so a transform here would make the comparison unfair.
    """
    glb = read_glb(path)
    for node in glb.doc.get("nodes", []):
        if any(key in node for key in ("matrix", "translation", "rotation", "scale")):
            raise SystemExit(f"{path}: the source GLB has a node transform")
    primitive = glb.doc["meshes"][0]["primitives"][0]
    positions = glb.accessor(primitive["attributes"]["POSITION"]).astype(np.float32)
    normals = None
    if "NORMAL" in primitive["attributes"]:
        normals = glb.accessor(primitive["attributes"]["NORMAL"]).astype(np.float32)
    faces = glb.accessor(primitive["indices"]).astype(np.uint32).reshape(-1, 3)
    return positions, normals, faces


def decode_world(path: Path) -> Mesh:
    """Every triangle of a (quantized, uncompressed) GLB in world coordinates.

    Follows the scene's nodes and their translation / rotation / scale or matrix,
    which is how both writers turn quantized integers back into model units.
    """
    glb = read_glb(path)
    doc = glb.doc
    vertices: list[FloatArray] = []
    faces: list[npt.NDArray[np.int64]] = []
    offset = 0

    def visit(index: int, parent: FloatArray) -> None:
        nonlocal offset
        node = doc["nodes"][index]
        world = parent @ _node_matrix(node)
        if "mesh" in node:
            for primitive in doc["meshes"][node["mesh"]]["primitives"]:
                if primitive.get("mode", 4) != 4:
                    continue
                local = glb.accessor(primitive["attributes"]["POSITION"]).astype(np.float64)
                if "indices" in primitive:
                    index_array = glb.accessor(primitive["indices"]).astype(np.int64).ravel()
                else:
                    index_array = np.arange(len(local), dtype=np.int64)
                placed = local @ world[:3, :3].T + world[:3, 3]
                vertices.append(placed)
                faces.append(index_array.reshape(-1, 3) + offset)
                offset += len(local)
        for child in node.get("children", []):
            visit(child, world)

    scene = doc["scenes"][doc.get("scene", 0)]
    for root in scene["nodes"]:
        visit(root, np.eye(4))
    return np.concatenate(vertices), np.concatenate(faces).astype(np.uint32)


def _node_matrix(node: dict[str, Any]) -> FloatArray:
    if "matrix" in node:
        return np.array(node["matrix"], np.float64).reshape(4, 4).T
    x, y, z, w = node.get("rotation", [0.0, 0.0, 0.0, 1.0])
    rotation = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    matrix = np.eye(4)
    matrix[:3, :3] = rotation * np.array(node.get("scale", [1.0, 1.0, 1.0]))
    matrix[:3, 3] = node.get("translation", [0.0, 0.0, 0.0])
    return matrix


def triangle_count(path: Path) -> int:
    """Triangles in a GLB from its accessors (works for compressed files too)."""
    doc = read_glb(path).doc
    total = 0
    for mesh in doc["meshes"]:
        for primitive in mesh["primitives"]:
            if "indices" in primitive:
                total += doc["accessors"][primitive["indices"]]["count"] // 3
    return int(total)


# Our side of one run, in its own process


def run_ours(source: Path, out: Path, target: int, compress: bool, lock_borders: bool) -> None:
    """Read, simplify to ``target`` triangles, write: what the pipeline does per LOD."""
    from processing.threed import glb, lod
    from processing.threed.model import LodSpec, Model, Part

    started = time.perf_counter()
    positions, normals, faces = read_source(source)
    part = Part(vertices=positions.astype(np.float64), faces=faces, normals=normals)
    level = lod.build_lod(
        Model([part]), LodSpec("web", target, 0), target, compress, lock_borders=lock_borders
    )
    out.write_bytes(glb.write_glb(lod.primitives(level), compress=compress))
    # The work alone, without the interpreter's start-up and imports (reported apart).
    print(json.dumps({"seconds": time.perf_counter() - started}))


def run_startup() -> None:
    """Only the imports ``--one`` needs: the interpreter's share of its time and memory."""
    from processing.threed import glb, lod

    del glb, lod


def run_open3d(source: Path, out: Path, target: int) -> None:
    """open3d's quadric decimation of the source; prints its seconds, saves the result."""
    import open3d as o3d

    positions, _normals, faces = read_source(source)
    mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(positions.astype(np.float64)),
        o3d.utility.Vector3iVector(faces.astype(np.int32)),
    )
    started = time.perf_counter()
    simplified = mesh.simplify_quadric_decimation(target_number_of_triangles=target)
    seconds = time.perf_counter() - started
    np.savez(out, vertices=np.asarray(simplified.vertices), faces=np.asarray(simplified.triangles))
    print(json.dumps({"seconds": seconds}))


# Measuring child processes


@dataclass
class Run:
    seconds: float  # median wall time
    peak_bytes: int  # largest peak RSS over the repeats
    inner_seconds: float | None = None  # median time the child reports for its own work


def spawn(argv: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (bytes) and standard output of one child process.

    The child is started by GNU time, a tiny process: Linux carries a parent's
    resident size into its child's ``ru_maxrss`` across fork and exec, so a child
    spawned straight from this (large) process would report our memory, not its own.
    """
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "rusage"
        errors = Path(scratch) / "stderr"
        command = [TIME, "-f", "%M", "-o", str(report), *argv]
        with errors.open("wb") as stderr:
            started = time.perf_counter()
            result = subprocess.run(command, stdout=subprocess.PIPE, stderr=stderr, check=False)
            seconds = time.perf_counter() - started
        if result.returncode != 0:
            message = errors.read_text(errors="replace")[-2000:]
            raise SystemExit(f"{' '.join(argv)} failed:\n{message}")
        peak_kib = report.read_text().split()[-1]
    return seconds, int(peak_kib) * 1024, result.stdout.decode(errors="replace")


def measure(commands: dict[str, list[str]], repeat: int) -> dict[str, Run]:
    """Median wall time and largest peak memory of each command over ``repeat`` runs.

    The commands take turns, so a neighbour's load on the machine weighs on all alike.
    A child that prints ``{"seconds": ...}`` (ours) also gets the median of that figure.
    """
    results: dict[str, list[tuple[float, int, str]]] = {key: [] for key in commands}
    for _ in range(repeat):
        for key, argv in commands.items():
            results[key].append(spawn(argv))
    measured = {}
    for key, runs in results.items():
        inner = [json.loads(out)["seconds"] for *_, out in runs if out.strip()]
        measured[key] = Run(
            seconds=float(np.median([run[0] for run in runs])),
            peak_bytes=max(run[1] for run in runs),
            inner_seconds=float(np.median(inner)) if inner else None,
        )
    return measured


def ours_argv(source: Path, out: Path, target: int, compress: bool, locked: bool) -> list[str]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--one", str(source), str(out)]
    argv += ["--target", str(target)]
    argv += ["--compress"] if compress else []
    return argv if locked else [*argv, "--free-borders"]


def gltfpack_argv(source: Path, out: Path, ratio: str, compress: bool) -> list[str]:
    argv = [GLTFPACK, "-i", str(source), "-o", str(out), "-si", ratio]
    return [*argv, "-cc"] if compress else argv


def gltfpack_ratio(target: int, triangles: int) -> str:
    """``-si`` for exactly ``target`` triangles.

    gltfpack reads the ratio as a float and keeps floor(triangles × ratio); half
    a triangle of margin survives the float rounding even at millions of triangles.
    """
    return f"{(target + 0.5) / triangles:.9g}"


def gltfpack_version() -> str:
    import subprocess

    result = subprocess.run([GLTFPACK, "-v"], capture_output=True, text=True, check=False)
    return (result.stdout + result.stderr).strip().splitlines()[0]


# Inputs


@dataclass
class Source:
    name: str
    path: Path  # the GLB both tools read
    mesh: Mesh  # the same arrays, as the reference for the error


def prepare_inputs(work: Path) -> list[Source]:
    """Each input converted once (untimed) to a GLB with positions and normals."""
    import trimesh

    def scan(relative: str) -> Callable[[], Any]:
        return lambda: trimesh.load(CORPUS_3D / relative, force="mesh")

    bunny = scan("dense_scans/stanford_bun_zipper.ply")
    lucy = scan("dense_scans/stanford_lucy_100k.ply")
    plans: list[tuple[str, Callable[[], Any]]] = [
        ("Stanford bunny", bunny),
        ("Lucy 100k", lucy),
        ("3DHOP gargoyle", scan("heritage/gargoyle_3dhop.ply")),
        ("bunny, loop-subdivided ×1", lambda: bunny().subdivide_loop(1)),
        ("Lucy, loop-subdivided ×2", lambda: lucy().subdivide_loop(2)),
    ]
    sources = []
    for number, (name, build) in enumerate(plans):
        path = work / f"source-{number}.glb"
        build().export(path, include_normals=True)
        positions, _normals, faces = read_source(path)
        sources.append(Source(name, path, (positions.astype(np.float64), faces)))
        log(f"{name}: {len(faces):,} triangles")
    return sources


def budgets(triangles: int) -> list[int]:
    """A tenth of the source (the web level's cap) and the thumbnail's 20,000."""
    return sorted({max(1, triangles // 10), *([SMALL_BUDGET] if triangles > SMALL_BUDGET else [])})


# The comparison

# Our side runs in two configurations. "matched": gltfpack 0.18's simplification
# settings (open borders may move; positions only), so the files compare the tools'
# encoding and simplifier, not their settings. "default": what the pipeline ships,
# open borders locked while the budget can still be met.
CONFIGS = {"matched": ("ours", "ours-cc"), "default": ("locked", "locked-cc")}
THEIRS = ("theirs", "theirs-cc")


@dataclass
class Output:
    """One tool's file for one case, and how long and how much memory it took."""

    triangles: int
    bytes: int
    geometry_bytes: int  # the BIN chunk alone
    run: Run
    error: dict[str, float] | None = None  # against the source (uncompressed files only)

    @property
    def mean(self) -> float:
        return self.error["mean_pct"] if self.error else float("nan")

    @property
    def hausdorff(self) -> float:
        return self.error["hausdorff_pct"] if self.error else float("nan")


@dataclass
class Case:
    source: str
    triangles_in: int
    budget: int
    ratio: str
    outputs: dict[str, Output]  # ours, ours-cc, locked, locked-cc, theirs, theirs-cc

    def pair(self, config: str) -> tuple[Output, Output, Output, Output]:
        """Ours plain and compressed, then gltfpack's, for one configuration."""
        plain, packed = CONFIGS[config]
        out = self.outputs
        return out[plain], out[packed], out[THEIRS[0]], out[THEIRS[1]]

    def ratios(self, config: str, startup: Run) -> dict[str, float]:
        """Ours / gltfpack per goal; ``*_work`` leave out our interpreter's start-up."""
        ours, ours_cc, theirs, theirs_cc = self.pair(config)
        runs = [(ours.run, theirs.run), (ours_cc.run, theirs_cc.run)]
        ours_peak = max(ours.run.peak_bytes, ours_cc.run.peak_bytes)
        theirs_peak = max(theirs.run.peak_bytes, theirs_cc.run.peak_bytes)
        return {
            "bytes": ours.bytes / theirs.bytes,
            "cc_bytes": ours_cc.bytes / theirs_cc.bytes,
            "mean": _ratio(ours.mean, theirs.mean),
            "hausdorff": _ratio(ours.hausdorff, theirs.hausdorff),
            "time": max(a.seconds / b.seconds for a, b in runs),
            "time_work": max((a.inner_seconds or a.seconds) / b.seconds for a, b in runs),
            "memory": ours_peak / theirs_peak,
            "memory_work": max(1, ours_peak - startup.peak_bytes) / theirs_peak,
        }


def _ratio(ours: float, theirs: float) -> float:
    return ours / theirs if theirs > 0 else (1.0 if ours == 0 else float("inf"))


def bench_case(source: Source, budget: int, work: Path, repeat: int, samples: int) -> Case:
    from processing.threed import metrics

    n = len(source.mesh[1])
    ratio = gltfpack_ratio(budget, n)
    keys = [*CONFIGS["matched"], *CONFIGS["default"], *THEIRS]
    files = {key: work / f"{source.path.stem}-{budget}-{key}.glb" for key in keys}
    commands = {}
    for key, path in files.items():
        compress = key.endswith("-cc")
        if key in THEIRS:
            commands[key] = gltfpack_argv(source.path, path, ratio, compress)
        else:
            locked = key in CONFIGS["default"]
            commands[key] = ours_argv(source.path, path, budget, compress, locked)
    runs = measure(commands, repeat)
    outputs = {}
    for key, path in files.items():
        error = None
        if not key.endswith("-cc"):
            error = metrics.surface_distance(source.mesh, decode_world(path), samples)
        outputs[key] = Output(
            triangles=triangle_count(path),
            bytes=path.stat().st_size,
            geometry_bytes=len(read_glb(path).binary),
            run=runs[key],
            error=error,
        )
    return Case(source.name, n, budget, ratio, outputs)


@dataclass
class Reference:
    seconds: float | None  # the simplification call alone; None when it timed out
    wall: float | None
    triangles: int
    error: dict[str, float] | None


def bench_open3d(
    source: Source, target: int, work: Path, timeout: float, samples: int
) -> Reference:
    """open3d's quadric decimation once, as the slow reference (given up after ``timeout`` s)."""
    import subprocess

    from processing.threed import metrics

    out = work / "open3d.npz"
    argv = [sys.executable, str(Path(__file__).resolve()), "--open3d", str(source.path), str(out)]
    argv += ["--target", str(target)]
    started = time.perf_counter()
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=True)
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as failure:
        log(f"open3d reference skipped: {failure}")
        return Reference(None, None, 0, None)
    wall = time.perf_counter() - started
    with np.load(out) as data:
        mesh = (data["vertices"].astype(np.float64), data["faces"].astype(np.uint32))
    error = metrics.surface_distance(source.mesh, mesh, samples)
    seconds = float(json.loads(result.stdout.strip().splitlines()[-1])["seconds"])
    return Reference(seconds, wall, len(mesh[1]), error)


# Report


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _mb(value: int) -> str:
    return f"{value / 1e6:.0f}"


def _kb(value: int) -> str:
    return f"{value / 1e3:,.1f}"


def _missed(ratio: float, goal: str) -> bool:
    """Past the goal, compared as printed (three decimals)."""
    return round(ratio, 3) > GOALS[goal]


def _cell(ratio: float, goal: str, detail: str, digits: int = 2) -> str:
    flag = " ✗" if _missed(ratio, goal) else ""
    return f"{ratio:.{digits}f}×{flag} ({detail})"


def _pair(ours: Output, theirs: Output, value: Callable[[Output], float], fmt: str) -> str:
    return f"{value(ours):{fmt}} / {value(theirs):{fmt}}"


def case_row(case: Case, config: str, startup: Run) -> str:
    """One case of one configuration beside gltfpack."""
    r = case.ratios(config, startup)
    ours, ours_cc, theirs, theirs_cc = case.pair(config)
    ours_peak = max(ours.run.peak_bytes, ours_cc.run.peak_bytes)
    theirs_peak = max(theirs.run.peak_bytes, theirs_cc.run.peak_bytes)
    hausdorff = _pair(ours, theirs, lambda o: o.hausdorff, ".3f")
    cells = [
        case.source,
        f"{case.triangles_in:,}",
        f"{case.budget:,}",
        f"{ours.triangles:,} / {theirs.triangles:,}",
        _cell(r["bytes"], "bytes", f"{_kb(ours.bytes)} / {_kb(theirs.bytes)} kB", 3),
        _cell(r["cc_bytes"], "cc_bytes", f"{_kb(ours_cc.bytes)} / {_kb(theirs_cc.bytes)} kB", 3),
        _cell(r["mean"], "mean", _pair(ours, theirs, lambda o: o.mean, ".4f") + " %"),
        _cell(r["hausdorff"], "hausdorff", hausdorff + " %"),
        _cell(r["time"], "time", _pair(ours, theirs, lambda o: o.run.seconds, ".2f") + " s"),
        _cell(
            r["time_work"],
            "time_work",
            f"{ours.run.inner_seconds or 0.0:.2f} / {theirs.run.seconds:.2f} s",
        ),
        _cell(r["memory"], "memory", f"{_mb(ours_peak)} / {_mb(theirs_peak)} MB"),
        _cell(
            r["memory_work"],
            "memory_work",
            f"{_mb(ours_peak - startup.peak_bytes)} / {_mb(theirs_peak)} MB",
        ),
    ]
    return "| " + " | ".join(cells) + " |"


TABLE_HEAD = [
    "| input | triangles in | budget | triangles out | bytes | bytes, `-cc` | mean error "
    "| Hausdorff | wall time | wall time, work | peak memory | peak memory, work |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
]

# Which configuration each goal is judged on (see `verdicts`).
JUDGED_ON = {
    "bytes": ("matched",),
    "cc_bytes": ("matched", "default"),
    "mean": ("matched", "default"),
    "hausdorff": ("default",),
    "time_work": ("matched", "default"),
    "memory_work": ("matched", "default"),
}


def goal_lines(cases: list[Case], config: str, startup: Run) -> tuple[list[str], dict[str, bool]]:
    """One line per goal for one configuration, and per goal whether it holds.

    The time and memory goals hold for the whole process when the ≥ 1 M-triangle
    input meets them (smaller inputs measure the interpreter's start-up there).
    """
    lines = []
    held = {}
    for goal in GOALS:
        values = [(case, case.ratios(config, startup)[goal]) for case in cases]
        missed = [f"{c.source} → {c.budget:,}" for c, value in values if _missed(value, goal)]
        large = max(value for c, value in values if c.triangles_in >= LARGE)
        worst = max(value for _, value in values)
        verdict = "met" if not missed else f"NOT met by {len(missed)} of {len(cases)}"
        detail = f"; missed: {'; '.join(missed)}" if missed else ""
        lines.append(
            f"- {GOAL_TEXT[goal]}: **{verdict}** (worst {worst:.3f}×, "
            f"on the ≥ 1 M-triangle input {large:.3f}×{detail})"
        )
        held[goal] = not _missed(large, goal) if goal in ("time", "memory") else not missed
    return lines, held


def verdict(held: dict[str, dict[str, bool]]) -> tuple[bool, list[str]]:
    """Whether the benchmark passes, and the goals that fail it.

    Bytes are judged where both tools make the same geometry (matched settings);
    the worst-case (Hausdorff) error on what the pipeline ships (default); every
    other goal on both. Whole-process time and memory on the ≥ 1 M-triangle input.
    """
    failed = []
    for goal in GOALS:
        configs = JUDGED_ON.get(goal, ("matched", "default"))
        failed += [f"{GOAL_TEXT[goal]} ({config})" for config in configs if not held[config][goal]]
    return not failed, failed


def section(
    cases: list[Case],
    startup: Run,
    load: tuple[float, float],
    reference: Reference | None,
    reference_case: Case | None,
    args: argparse.Namespace,
    version: str,
) -> tuple[str, bool]:
    """The Markdown section and whether the benchmark passes (see :func:`verdict`)."""
    matched_lines, matched_held = goal_lines(cases, "matched", startup)
    default_lines, default_held = goal_lines(cases, "default", startup)
    passed, failed = verdict({"matched": matched_held, "default": default_held})
    fastest = min(
        min(c.outputs["theirs"].run.seconds, c.outputs["theirs-cc"].run.seconds) for c in cases
    )
    json_extra = float(
        np.median(
            [
                (c.outputs["ours"].bytes - c.outputs["ours"].geometry_bytes)
                - (c.outputs["theirs"].bytes - c.outputs["theirs"].geometry_bytes)
                for c in cases
            ]
        )
    )
    summary = "**passed**" if passed else "**NOT passed** (" + "; ".join(failed) + ")"
    lines = [
        START_MARKER,
        "## 3D levels of detail (against gltfpack)",
        "",
        f"`python scripts/bench_3d.py --repeat {args.repeat} --samples {args.samples}` — our LOD "
        f"builder (`lod.build_lod` + `glb.write_glb`) beside Debian's native `{version}` on the "
        "same inputs at the same triangle budgets: three corpus scans (Stanford bunny and Lucy, "
        "the 3DHOP gargoyle) and two denser meshes made from them by loop subdivision (trimesh "
        "`subdivide_loop`), one of 1.6 M triangles (the textured photogrammetry OBJ is left out: "
        "gltfpack copies its PNG as it is while our writer re-encodes textures, so its bytes "
        "would compare image codecs, not meshes). Each input is converted once, untimed, to a "
        "GLB with float32 positions and normals that both tools read. Budgets are a tenth of the "
        f"source and {SMALL_BUDGET:,} triangles; gltfpack gets `-si R` with R = (budget + ½) / "
        "triangles, which makes its floor(triangles × R) exactly the budget. Both run as child "
        "processes and pay process start and file parsing; ours is "
        "`python scripts/bench_3d.py --one SRC OUT --target N`, which reads the GLB with numpy. "
        f"Wall time is the median of {args.repeat} runs, peak memory the largest resident size "
        "(GNU `time -f %M`); the commands take turns. "
        f"The machine has {os.cpu_count()} cores; its load average was {load[0]:.1f} before the "
        f"run and {load[1]:.1f} after (other work shares it: wall times can move by 20 % or more "
        "between runs). Both write 14-bit positions and 8-bit normals; bytes compare the "
        "quantized files without compression (`gltfpack -si R`) and with meshopt compression "
        "(`gltfpack -si R -cc` against `write_glb(compress=True)`). Errors are measured on the "
        f"decoded uncompressed files against the source (`metrics.surface_distance`, "
        f"{args.samples:,} samples per side; percent of the bounding-box diagonal).",
        "",
        "Each cell: ratio ours / gltfpack (✗ past the goal, compared to three decimals), then "
        "ours / gltfpack; time and memory take the worse of the plain and `-cc` runs. *Work* "
        "leaves out our interpreter's start-up: the time the child measures from reading the "
        "file to writing the GLB, and the peak memory above the "
        f"{_mb(startup.peak_bytes)} MB that Python with numpy and meshoptimizer holds before it "
        f"reads anything (`python scripts/bench_3d.py --startup`: {startup.seconds:.2f} s, "
        f"while the quickest whole gltfpack run took {fastest:.2f} s). On inputs under "
        "300,000 triangles a whole gltfpack run is shorter than that start-up, so the "
        "whole-process ratios there measure the interpreter, not the pipeline (which runs in a "
        "worker that has long paid for it).",
        "",
        "```",
        "gltfpack -i SRC.glb -o OUT.glb -si R        # and with -cc",
        "python scripts/bench_3d.py --one SRC.glb OUT.glb --target N --free-borders  # matched",
        "python scripts/bench_3d.py --one SRC.glb OUT.glb --target N                 # default",
        "```",
        "",
        "### Matched settings",
        "",
        "gltfpack 0.18 lets open borders (holes, the cut at a scan's base) move while it "
        "simplifies and weighs positions only; `--free-borders` makes ours do the same, so the "
        "two tools make nearly the same geometry and the files compare their encoding.",
        "",
        *TABLE_HEAD,
        *[case_row(case, "matched", startup) for case in cases],
        "",
        *matched_lines,
        "",
        f"The JSON chunks differ by {json_extra:+.0f} bytes (median; ours carries a double-sided, "
        "matte material that gltfpack leaves out, and no optional buffer-view targets). The "
        "simplifiers differ in version (gltfpack 0.18 carries meshoptimizer 0.18, PyPI's "
        "bindings a newer one), so single worst-case points can land differently.",
        "",
        "### Our default: open borders locked",
        "",
        "The pipeline locks open borders while it can still reach the budget "
        "(`MUSEUM_MODEL_LOCK_BORDERS`, on by default): each kept border vertex costs 12 bytes, "
        "and the worst-case error of a scan with holes drops, up to eightfold.",
        "",
        *TABLE_HEAD,
        *[case_row(case, "default", startup) for case in cases],
        "",
        *default_lines,
        "",
        "Verdict: bytes are judged with matched settings (the same geometry, so the encoding "
        "is what differs), the worst-case error on what the pipeline ships (default), every "
        "other goal on both; time and memory on our work for every input and on the whole "
        f"process for the ≥ 1 M-triangle input: {summary}.",
        "",
    ]
    lines += reference_lines(reference, reference_case, args)
    lines.append(END_MARKER)
    return "\n".join(lines) + "\n", passed


def reference_lines(
    reference: Reference | None, case: Case | None, args: argparse.Namespace
) -> list[str]:
    if reference is None or case is None:
        return []
    lines = [
        f"Slow reference: open3d's `simplify_quadric_decimation` on {case.source} "
        f"({case.triangles_in:,} → {case.budget:,} triangles), once, given up after "
        f"{args.open3d_timeout:.0f} s.",
        "",
        "| tool | simplification time | child wall time | triangles out | mean error | Hausdorff |",
        "|---|---|---|---|---|---|",
    ]
    if reference.seconds is None or reference.error is None or reference.wall is None:
        lines.append(
            f"| open3d | skipped (> {args.open3d_timeout:.0f} s or failed) | – | – | – | – |"
        )
    else:
        lines.append(
            f"| open3d | {reference.seconds:.1f} s | {reference.wall:.1f} s | {reference.triangles:,} "
            f"| {reference.error['mean_pct']:.4f} % | {reference.error['hausdorff_pct']:.3f} % |"
        )
    for name, key in (
        ("ours (default)", "locked"),
        ("ours (matched settings)", "ours"),
        ("gltfpack", "theirs"),
    ):
        output = case.outputs[key]
        lines.append(
            f"| {name} | – | {output.run.seconds:.1f} s | {output.triangles:,} "
            f"| {output.mean:.4f} % | {output.hausdorff:.3f} % |"
        )
    return [*lines, ""]


def bench(args: argparse.Namespace) -> int:
    import tempfile

    if not CORPUS_3D.is_dir():
        log(f"3D benchmark skipped: no corpus at {CORPUS_3D}")
        return 0
    for tool, package in ((GLTFPACK, "gltfpack"), (TIME, "time")):
        if not Path(tool).is_file():
            log(f"3D benchmark skipped: {tool} is not installed (apt install {package})")
            return 0
    version = gltfpack_version()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-3d-") as scratch:
        work = Path(scratch)
        sources = prepare_inputs(work)
        startup_argv = [sys.executable, str(Path(__file__).resolve()), "--startup"]
        startup = measure({"startup": startup_argv}, args.repeat)["startup"]
        cases = []
        for source in sources:
            for budget in budgets(len(source.mesh[1])):
                log(f"{source.name} → {budget:,} triangles")
                cases.append(bench_case(source, budget, work, args.repeat, args.samples))
        largest = max(sources, key=lambda s: len(s.mesh[1]))
        reference_case = next(
            c
            for c in cases
            if c.source == largest.name and c.budget == c.triangles_in // OPEN3D_TARGET_SHARE
        )
        reference = None
        if args.open3d_timeout > 0:
            log(f"open3d reference on {largest.name}")
            reference = bench_open3d(
                largest, reference_case.budget, work, args.open3d_timeout, args.samples
            )
    load = (load_before, os.getloadavg()[0])
    text, passed = section(cases, startup, load, reference, reference_case, args, version)
    write_section(args.docs, text, START_MARKER, END_MARKER)
    print(text)
    log(f"benchmark took {time.perf_counter() - started:.0f} s")
    return 0 if passed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--open3d-timeout", type=float, default=60.0, help="0 skips open3d")
    parser.add_argument("--docs", type=Path, default=DOCS)
    parser.add_argument("--one", nargs=2, type=Path, metavar=("SRC", "OUT"))
    parser.add_argument("--open3d", nargs=2, type=Path, metavar=("SRC", "OUT"))
    parser.add_argument("--target", type=int)
    parser.add_argument("--compress", action="store_true")
    parser.add_argument(
        "--free-borders", action="store_true", help="simplify as gltfpack 0.18 does"
    )
    parser.add_argument("--startup", action="store_true")
    args = parser.parse_args()
    if args.one or args.open3d:
        if args.target is None:
            parser.error("--one and --open3d need --target")
        if args.one:
            run_ours(args.one[0], args.one[1], args.target, args.compress, not args.free_borders)
        else:
            run_open3d(args.open3d[0], args.open3d[1], args.target)
        return 0
    if args.startup:
        run_startup()
        return 0
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
