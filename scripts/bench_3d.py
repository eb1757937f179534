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
    "memory": 2.0,
}
GOAL_TEXT = {
    "bytes": "bytes (quantized, uncompressed) ≤ 1.0× gltfpack",
    "cc_bytes": "meshopt-compressed bytes ≤ 1.02× `gltfpack -cc`",
    "mean": "mean error ≤ 1.05× gltfpack",
    "hausdorff": "Hausdorff error ≤ 1.1× gltfpack",
    "time": "wall time ≤ 1.2× gltfpack",
    "memory": "peak memory ≤ 2× gltfpack",
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


def run_ours(source: Path, out: Path, target: int, compress: bool) -> None:
    """Read, simplify to ``target`` triangles, write: what the pipeline does per LOD."""
    from processing.threed import glb, lod
    from processing.threed.model import LodSpec, Model, Part

    started = time.perf_counter()
    positions, normals, faces = read_source(source)
    part = Part(vertices=positions.astype(np.float64), faces=faces, normals=normals)
    level = lod.build_lod(Model([part]), LodSpec("web", target, 0), target, strip_order=compress)
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
    cpu_seconds: float  # median user + system time
    inner_seconds: float | None = None  # median time the child reports for its own work


def spawn(argv: list[str]) -> tuple[float, int, float, str]:
    """Wall seconds, peak RSS (bytes), CPU seconds and standard output of one child process.

    The child is started by GNU time, a tiny process: Linux carries a parent's
    resident size into its child's ``ru_maxrss`` across fork and exec, so a child
    spawned straight from this (large) process would report our memory, not its own.
    """
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "rusage"
        errors = Path(scratch) / "stderr"
        command = [TIME, "-f", "%M %U %S", "-o", str(report), *argv]
        with errors.open("wb") as stderr:
            started = time.perf_counter()
            result = subprocess.run(command, stdout=subprocess.PIPE, stderr=stderr, check=False)
            seconds = time.perf_counter() - started
        if result.returncode != 0:
            message = errors.read_text(errors="replace")[-2000:]
            raise SystemExit(f"{' '.join(argv)} failed:\n{message}")
        peak_kib, user, system = report.read_text().split()[-3:]
    cpu = float(user) + float(system)
    return seconds, int(peak_kib) * 1024, cpu, result.stdout.decode(errors="replace")


def measure(commands: dict[str, list[str]], repeat: int) -> dict[str, Run]:
    """Median wall time and largest peak memory of each command over ``repeat`` runs.

    The commands take turns, so a neighbour's load on the machine weighs on all alike.
    A child that prints ``{"seconds": ...}`` (ours) also gets the median of that figure.
    """
    results: dict[str, list[tuple[float, int, float, str]]] = {key: [] for key in commands}
    for _ in range(repeat):
        for key, argv in commands.items():
            results[key].append(spawn(argv))
    measured = {}
    for key, runs in results.items():
        inner = [json.loads(out)["seconds"] for *_, out in runs if out.strip()]
        measured[key] = Run(
            seconds=float(np.median([run[0] for run in runs])),
            peak_bytes=max(run[1] for run in runs),
            cpu_seconds=float(np.median([run[2] for run in runs])),
            inner_seconds=float(np.median(inner)) if inner else None,
        )
    return measured


def ours_argv(source: Path, out: Path, target: int, compress: bool) -> list[str]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--one", str(source), str(out)]
    argv += ["--target", str(target)]
    return [*argv, "--compress"] if compress else argv


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


@dataclass
class Case:
    source: str
    triangles_in: int
    budget: int
    ratio: str
    ours_triangles: int
    theirs_triangles: int
    ours_bytes: int
    theirs_bytes: int
    ours_cc_bytes: int
    theirs_cc_bytes: int
    ours_error: dict[str, float]
    theirs_error: dict[str, float]
    ours_time: Run
    theirs_time: Run
    ours_cc_time: Run
    theirs_cc_time: Run
    ours_geometry_bytes: int  # the BIN chunk alone
    theirs_geometry_bytes: int

    def ratios(self) -> dict[str, float]:
        return {
            "bytes": self.ours_bytes / self.theirs_bytes,
            "cc_bytes": self.ours_cc_bytes / self.theirs_cc_bytes,
            "mean": _ratio(self.ours_error["mean_pct"], self.theirs_error["mean_pct"]),
            "hausdorff": _ratio(
                self.ours_error["hausdorff_pct"], self.theirs_error["hausdorff_pct"]
            ),
            "time": max(
                self.ours_time.seconds / self.theirs_time.seconds,
                self.ours_cc_time.seconds / self.theirs_cc_time.seconds,
            ),
            "memory": max(self.ours_time.peak_bytes, self.ours_cc_time.peak_bytes)
            / max(self.theirs_time.peak_bytes, self.theirs_cc_time.peak_bytes),
        }


def _ratio(ours: float, theirs: float) -> float:
    return ours / theirs if theirs > 0 else (1.0 if ours == 0 else float("inf"))


def bench_case(source: Source, budget: int, work: Path, repeat: int, samples: int) -> Case:
    from processing.threed import metrics

    n = len(source.mesh[1])
    ratio = gltfpack_ratio(budget, n)
    outputs = {
        key: work / f"{source.path.stem}-{budget}-{key}.glb"
        for key in ("ours", "ours-cc", "theirs", "theirs-cc")
    }
    runs = measure(
        {
            "theirs": gltfpack_argv(source.path, outputs["theirs"], ratio, False),
            "theirs-cc": gltfpack_argv(source.path, outputs["theirs-cc"], ratio, True),
            "ours": ours_argv(source.path, outputs["ours"], budget, False),
            "ours-cc": ours_argv(source.path, outputs["ours-cc"], budget, True),
        },
        repeat,
    )
    errors = {}
    for key in ("ours", "theirs"):
        errors[key] = metrics.surface_distance(source.mesh, decode_world(outputs[key]), samples)
    return Case(
        source=source.name,
        triangles_in=n,
        budget=budget,
        ratio=ratio,
        ours_triangles=triangle_count(outputs["ours"]),
        theirs_triangles=triangle_count(outputs["theirs"]),
        ours_bytes=outputs["ours"].stat().st_size,
        theirs_bytes=outputs["theirs"].stat().st_size,
        ours_cc_bytes=outputs["ours-cc"].stat().st_size,
        theirs_cc_bytes=outputs["theirs-cc"].stat().st_size,
        ours_error=errors["ours"],
        theirs_error=errors["theirs"],
        ours_time=runs["ours"],
        theirs_time=runs["theirs"],
        ours_cc_time=runs["ours-cc"],
        theirs_cc_time=runs["theirs-cc"],
        ours_geometry_bytes=len(read_glb(outputs["ours"]).binary),
        theirs_geometry_bytes=len(read_glb(outputs["theirs"]).binary),
    )


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


def _cell(ratio: float, goal: str, detail: str, digits: int = 2) -> str:
    flag = "" if ratio <= GOALS[goal] else " ✗"
    return f"{ratio:.{digits}f}×{flag} ({detail})"


def case_row(case: Case) -> str:
    r = case.ratios()
    times = (
        f"{case.ours_time.seconds:.2f} / {case.theirs_time.seconds:.2f} s; "
        f"cc {case.ours_cc_time.seconds:.2f} / {case.theirs_cc_time.seconds:.2f} s"
    )
    ours_peak = max(case.ours_time.peak_bytes, case.ours_cc_time.peak_bytes)
    theirs_peak = max(case.theirs_time.peak_bytes, case.theirs_cc_time.peak_bytes)
    cells = [
        case.source,
        f"{case.triangles_in:,}",
        f"{case.budget:,}",
        f"{case.ours_triangles:,} / {case.theirs_triangles:,}",
        _cell(r["bytes"], "bytes", f"{_kb(case.ours_bytes)} / {_kb(case.theirs_bytes)} kB", 3),
        _cell(
            r["cc_bytes"],
            "cc_bytes",
            f"{_kb(case.ours_cc_bytes)} / {_kb(case.theirs_cc_bytes)} kB",
            3,
        ),
        _cell(
            r["mean"],
            "mean",
            f"{case.ours_error['mean_pct']:.4f} / {case.theirs_error['mean_pct']:.4f} %",
        ),
        _cell(
            r["hausdorff"],
            "hausdorff",
            f"{case.ours_error['hausdorff_pct']:.3f} / {case.theirs_error['hausdorff_pct']:.3f} %",
        ),
        _cell(r["time"], "time", times),
        _cell(r["memory"], "memory", f"{_mb(ours_peak)} / {_mb(theirs_peak)} MB"),
    ]
    return "| " + " | ".join(cells) + " |"


def detail_rows(cases: list[Case]) -> list[str]:
    """CPU time, and our own work (as the child times it) beside gltfpack's whole run."""
    rows = []
    for case in cases:
        ours, theirs = case.ours_time, case.theirs_time
        ours_cc, theirs_cc = case.ours_cc_time, case.theirs_cc_time
        cpu = max(
            ours.cpu_seconds / theirs.cpu_seconds, ours_cc.cpu_seconds / theirs_cc.cpu_seconds
        )
        work = max(
            (ours.inner_seconds or 0.0) / theirs.seconds,
            (ours_cc.inner_seconds or 0.0) / theirs_cc.seconds,
        )
        rows.append(
            f"| {case.source} | {case.budget:,} "
            f"| {ours.cpu_seconds:.2f} / {theirs.cpu_seconds:.2f} s | {cpu:.2f}× "
            f"| {ours.inner_seconds or 0.0:.2f} / {theirs.seconds:.2f} s | {work:.2f}× |"
        )
    return rows


def section(
    cases: list[Case],
    startup: Run,
    load: tuple[float, float],
    reference: Reference | None,
    reference_case: Case | None,
    args: argparse.Namespace,
    version: str,
) -> tuple[str, dict[str, bool]]:
    """The Markdown section and, per goal, whether every case met it."""
    met = {
        goal: all(case.ratios()[goal] <= limit for case in cases) for goal, limit in GOALS.items()
    }
    worst = {goal: max(case.ratios()[goal] for case in cases) for goal in GOALS}
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
        "processes (both pay process start and file parsing; ours is "
        "`python scripts/bench_3d.py --one SRC OUT --target N [--compress]`, which reads the GLB "
        f"with numpy). Wall time is the median of {args.repeat} runs, peak memory the largest "
        "resident size (GNU `time -f %M`); the commands take turns. "
        f"The machine has {os.cpu_count()} cores; its load average was {load[0]:.1f} before the run "
        f"and {load[1]:.1f} after (other work shares it: wall times can move by 20 % or more between runs). "
        "Both write 14-bit positions and 8-bit normals; bytes compare the quantized files without "
        "compression (`gltfpack -si R`) and with meshopt compression (`gltfpack -si R -cc` against "
        "`write_glb(compress=True)`). Errors are measured on the decoded uncompressed files "
        f"against the source (`metrics.surface_distance`, {args.samples:,} samples per side; "
        "percent of the bounding-box diagonal). Each cell: ratio ours / gltfpack (✗ past the "
        "goal), then ours / gltfpack; time and memory take the worse of the plain and `-cc` runs.",
        "",
        "```",
        "gltfpack -i SRC.glb -o OUT.glb -si R        # and with -cc",
        "python scripts/bench_3d.py --one SRC.glb OUT.glb --target N   # and with --compress",
        "```",
        "",
        "| input | triangles in | budget | triangles out (ours / gltfpack) | bytes | bytes, compressed | mean error | Hausdorff | wall time | peak memory |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *[case_row(case) for case in cases],
        "",
    ]
    for goal, limit in GOALS.items():
        missed = [f"{c.source} → {c.budget:,}" for c in cases if c.ratios()[goal] > limit]
        verdict = "met" if met[goal] else f"NOT met by {len(missed)} of {len(cases)}"
        detail = f"; missed: {'; '.join(missed)}" if missed else ""
        large = max(c.ratios()[goal] for c in cases if c.triangles_in >= LARGE)
        lines.append(
            f"- {GOAL_TEXT[goal]}: **{verdict}** (worst {worst[goal]:.3f}×, "
            f"on the ≥ 1 M-triangle input {large:.3f}×{detail})"
        )
    geometry = max(case.ours_geometry_bytes / case.theirs_geometry_bytes for case in cases)
    json_extra = float(
        np.median(
            [
                (c.ours_bytes - c.ours_geometry_bytes) - (c.theirs_bytes - c.theirs_geometry_bytes)
                for c in cases
            ]
        )
    )
    fastest = min(min(c.theirs_time.seconds, c.theirs_cc_time.seconds) for c in cases)
    lines += [
        "",
        "The uncompressed files differ in their JSON too: ours carries a material (double-sided, "
        f"matte) that gltfpack leaves out, {json_extra:.0f} bytes more JSON; the binary chunks "
        f"alone (the geometry) compare at worst {geometry:.3f}×.",
        "",
        f"Start-up: Python with the imports `--one` needs (numpy, meshoptimizer, Pillow) takes "
        f"{startup.seconds:.2f} s and {_mb(startup.peak_bytes)} MB before doing any work "
        f"(`python scripts/bench_3d.py --startup`); the quickest whole gltfpack run here took "
        f"{fastest:.2f} s. For reference only (the verdicts above use wall time): CPU time "
        "(user + system, which other work on the machine disturbs less than wall time), and our "
        "child's own work — read, simplify, write, timed inside it, no start-up — beside "
        "gltfpack's whole run. Figures are for the uncompressed runs; ratios the worse of both.",
        "",
        "| input | budget | CPU time (ours / gltfpack) | CPU ratio | ours without start-up / gltfpack | ratio |",
        "|---|---|---|---|---|---|",
        *detail_rows(cases),
        "",
    ]
    lines += reference_lines(reference, reference_case, args)
    lines.append(END_MARKER)
    return "\n".join(lines) + "\n", met


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
    lines.append(
        f"| ours | – | {case.ours_time.seconds:.1f} s | {case.ours_triangles:,} "
        f"| {case.ours_error['mean_pct']:.4f} % | {case.ours_error['hausdorff_pct']:.3f} % |"
    )
    lines.append(
        f"| gltfpack | – | {case.theirs_time.seconds:.1f} s | {case.theirs_triangles:,} "
        f"| {case.theirs_error['mean_pct']:.4f} % | {case.theirs_error['hausdorff_pct']:.3f} % |"
    )
    return [*lines, ""]


def write_section(docs: Path, text: str) -> None:
    """Replace the marked section of ``docs`` (append it when absent); nothing else changes."""
    current = docs.read_text("utf-8") if docs.exists() else "# Benchmarks\n"
    start = current.find(START_MARKER)
    end = current.find(END_MARKER)
    if start != -1 and end > start:
        rest = current[end + len(END_MARKER) :].lstrip("\n")
        updated = current[:start] + text + ("\n" + rest if rest else "")
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    docs.write_text(updated, "utf-8")


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
    text, met = section(cases, startup, load, reference, reference_case, args, version)
    write_section(args.docs, text)
    print(text)
    log(f"benchmark took {time.perf_counter() - started:.0f} s")
    return 0 if all(met.values()) else 1


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
    parser.add_argument("--startup", action="store_true")
    args = parser.parse_args()
    if args.one or args.open3d:
        if args.target is None:
            parser.error("--one and --open3d need --target")
        if args.one:
            run_ours(args.one[0], args.one[1], args.target, args.compress)
        else:
            run_open3d(args.open3d[0], args.open3d[1], args.target)
        return 0
    if args.startup:
        run_startup()
        return 0
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
