"""The 3D pipeline: a scan in, web-ready GLB levels of detail, posters and ``report.json`` out.

Steps, each timed in the report: read (with every limit checked from headers
first), clean, normalize, optional surface reconstruction of a point cloud, one
GLB per level of detail, geometric error of every level against the cleaned
source, a poster and a thumbnail rendered in software. The same input and
options give byte-identical artefacts (the report's timings differ, nothing else).

:func:`process` works in-process; :func:`run_job` is the entry point for
:mod:`processing.sandbox` (a child process with memory and CPU limits).
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from processing import report as common
from processing.report import REPORT_VERSION, Progress, Steps, describe, sha256, write_report
from processing.threed import clean, glb, lod, metrics, normalize, render
from processing.threed.inputs import load_model
from processing.threed.model import Limits, LodSpec, Model, ModelError, ModelOptions, Part

POSTER = ("poster.jpg", "poster")
THUMBNAIL = ("thumbnail.jpg", "thumbnail")
POSTER_ASPECT = 0.75
GLB_TYPE = "model/gltf-binary"
TOOLS = ("numpy", "scipy", "trimesh", "open3d", "meshoptimizer", "pillow", "laspy", "pye57")
RECONSTRUCT_DEPTH = 9
RECONSTRUCT_TRIM_QUANTILE = 0.02


def process(
    source: Path, out: Path, options: ModelOptions, progress: Progress | None = None
) -> dict[str, Any]:
    """Process ``source`` into the empty folder ``out``; return (and write) the report.

    Raises :class:`ModelError` for a refused or unreadable input; the caller
    decides where the failure report goes.
    """
    steps = Steps(progress)
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "status": "ok",
        "pipeline": "3d",
        "source": _describe_source(source),
        "parameters": options.parameters(),
    }
    with tempfile.TemporaryDirectory(prefix="scan-") as scratch:
        with steps.step("read", 2):
            model = load_model(source, options, Path(scratch))
        report["source"].update(
            format=model.source_format,
            vertices=model.vertex_count,
            triangles=model.triangle_count,
            textures=sum(1 for part in model.parts if part.texture is not None),
        )
    kind = options.kind or ("pointcloud" if model.is_pointcloud else "mesh")
    report["kind"] = kind
    if kind == "mesh" and model.is_pointcloud:
        raise ModelError(
            "no_faces", "The file holds a point cloud, not a mesh (use --kind pointcloud)."
        )
    with steps.step("clean", 10):
        model, cleaning = clean.clean_model(model, options.debris_fraction)
    with steps.step("normalize", 20):
        model, placement = normalize.normalize(model, options.units, options.up)
    warnings = list(model.warnings)
    levels: list[tuple[Model, tuple[LodSpec, ...], str]] = []
    if model.is_pointcloud:
        levels.append((model, options.point_lods, "points" if options.reconstruct else "lod"))
        if options.reconstruct:
            with steps.step("reconstruct", 25):
                surface = reconstruct(model)
                surface, _ = clean.clean_model(surface, options.debris_fraction)
            levels.insert(0, (surface, options.lods, "lod"))
    else:
        levels.append((model, options.lods, "lod"))
    artefacts: list[dict[str, Any]] = []
    statistics: list[dict[str, Any]] = []
    smallest: lod.Lod | None = None
    for source_model, specs, role in levels:
        built = _write_levels(source_model, specs, role, out, options, steps)
        for level, artefact, stats in built:
            artefacts.append(artefact)
            statistics.append(stats)
            if role == "lod":
                smallest = level
    if smallest is not None:
        with steps.step("poster", 90):
            artefacts.extend(_posters(smallest, out, options))
    report.update(
        artefacts=artefacts,
        statistics={
            "cleaning": cleaning,
            "normalization": placement,
            "dimensions_mm": placement["dimensions_mm"],
            "lods": statistics,
        },
        timings=steps.timings,
        tools=tool_versions(),
        warnings=warnings,
    )
    write_report(out, report)
    return report


def _write_levels(
    model: Model,
    specs: tuple[LodSpec, ...],
    role: str,
    out: Path,
    options: ModelOptions,
    steps: Steps,
) -> list[tuple[lod.Lod, dict[str, Any], dict[str, Any]]]:
    result = []
    goals = lod.targets(model, specs)
    reference = _merged(model)
    textures: dict[tuple[int, int], glb.Image] = {}
    above, above_error = model, 0.0
    for number, (spec, goal) in enumerate(zip(specs, goals, strict=True)):
        share = 30 + 50 * number / max(1, len(specs))
        with steps.step("simplify", share):
            # Each level from the one above: 2–3× faster for four levels of a dense
            # scan; the simplifier's bounds add up, the measured error is the source's.
            level = lod.build_lod(
                above, spec, goal, strip_order=options.compress, lock_borders=options.lock_borders
            )
            level.simplifier_error += above_error
            above, above_error = Model(level.parts), level.simplifier_error
        with steps.step("write", share):
            data = glb.write_glb(
                lod.primitives(level, options.texture_format, options.texture_quality, textures),
                quantization=glb.Quantization(
                    options.position_bits, options.uv_bits, options.normal_bits
                ),
                compress=options.compress,
            )
            name = f"{spec.name}.glb" if role == "lod" else f"{role}-{spec.name}.glb"
            artefact = _write_artefact(out, name, data, GLB_TYPE, f"{role}:{spec.name}")
        with steps.step("measure", share):
            error = _error(reference, level, options.error_samples)
        stats: dict[str, Any] = {
            "name": spec.name,
            "role": artefact["role"],
            "path": name,
            "target": goal,
            "triangles": level.triangles,
            "points": level.points,
            "vertices": sum(len(part.vertices) for part in level.parts),
            "bytes": len(data),
            "texture_size": _texture_size(level, spec),
            "simplifier_error": round(level.simplifier_error, 6),
            **error,
        }
        artefact.update(triangles=level.triangles, points=level.points)
        result.append((level, artefact, stats))
    return result


def _merged(model: Model) -> tuple[np.ndarray, np.ndarray | None]:
    """All parts' vertices (and faces, re-indexed) as one array pair."""
    vertices = np.concatenate([part.vertices for part in model.parts])
    if model.is_pointcloud:
        return vertices, None
    faces = []
    offset = 0
    for part in model.parts:
        if part.faces is not None:
            faces.append(part.faces.astype(np.int64) + offset)
        offset += len(part.vertices)
    return vertices, np.concatenate(faces).astype(np.uint32)


def _error(
    reference: tuple[np.ndarray, np.ndarray | None],
    level: lod.Lod,
    samples: int,
) -> dict[str, float]:
    candidate = _merged(Model(level.parts))
    ref_vertices, ref_faces = reference
    if _counts(candidate) == _counts(reference):
        # Nothing was removed: only the vertex order changed.
        return {"hausdorff_pct": 0.0, "rms_pct": 0.0, "mean_pct": 0.0}
    if ref_faces is None or candidate[1] is None:
        measured = metrics.point_distance(ref_vertices, candidate[0], samples)
    else:
        measured = metrics.surface_distance(
            (ref_vertices, ref_faces), (candidate[0], candidate[1]), samples
        )
    return {key: round(measured[key], 5) for key in ("hausdorff_pct", "rms_pct", "mean_pct")}


def _counts(mesh: tuple[np.ndarray, np.ndarray | None]) -> tuple[int, int]:
    vertices, faces = mesh
    return len(vertices), 0 if faces is None else len(faces)


def _texture_size(level: lod.Lod, spec: LodSpec) -> int | None:
    sizes: list[int] = [
        int(max(part.texture.pixels.shape[:2])) for part in level.parts if part.texture is not None
    ]
    if not sizes:
        return None
    return min(max(sizes), spec.texture_size) if spec.texture_size else max(sizes)


def _posters(level: lod.Lod, out: Path, options: ModelOptions) -> list[dict[str, Any]]:
    model = Model(level.parts)
    artefacts = []
    for (name, role), width in ((POSTER, options.poster_size), (THUMBNAIL, options.thumbnail_size)):
        height = max(1, round(width * POSTER_ASPECT))
        pixels = render.render(model, width, height)
        target = out / name
        render.save_poster(pixels, target, quality=options.texture_quality)
        artefact = describe(out, name, "image/jpeg", role)
        artefact.update(width=width, height=height)
        artefacts.append(artefact)
    return artefacts


# Point-cloud surface reconstruction


def reconstruct(model: Model) -> Model:
    """A mesh from a point cloud by screened Poisson reconstruction (open3d).

    Normals are estimated when the scan has none; the thinnest-supported 2 % of the
    surface (Poisson's extrapolation beyond the data) is trimmed; colours follow.
    """
    import open3d as o3d  # heavy; only this step needs it

    points = np.concatenate([part.vertices for part in model.parts])
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    colors = [part.colors for part in model.parts]
    if all(c is not None for c in colors):
        stacked = np.concatenate([c for c in colors if c is not None])
        cloud.colors = o3d.utility.Vector3dVector(stacked[:, :3].astype(np.float64) / 255.0)
    cloud.estimate_normals()
    cloud.orient_normals_consistent_tangent_plane(10)
    mesh, densities = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(
        cloud, depth=RECONSTRUCT_DEPTH
    )
    density = np.asarray(densities, dtype=np.float64)
    if len(density) == 0:
        raise ModelError("reconstruction_failed", "Surface reconstruction produced no surface.")
    sparse = density < np.quantile(density, RECONSTRUCT_TRIM_QUANTILE)
    mesh.remove_vertices_by_mask(sparse.tolist())
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.triangles, dtype=np.uint32)
    if len(faces) == 0:
        raise ModelError("reconstruction_failed", "Surface reconstruction produced no surface.")
    part_colors = None
    if mesh.has_vertex_colors():
        rgb = np.clip(np.rint(np.asarray(mesh.vertex_colors) * 255), 0, 255).astype(np.uint8)
        part_colors = np.concatenate([rgb, np.full((len(rgb), 1), 255, np.uint8)], axis=1)
    part = Part(vertices=vertices, faces=faces, colors=part_colors, name="reconstruction")
    return Model([part], source_format=model.source_format, warnings=list(model.warnings))


# Files


def _write_artefact(
    out: Path, name: str, data: bytes, media_type: str, role: str
) -> dict[str, Any]:
    (out / name).write_bytes(data)
    return describe(out, name, media_type, role)


def _describe_source(source: Path) -> dict[str, Any]:
    info: dict[str, Any] = {"name": source.name}
    if source.is_file():
        info.update(bytes=source.stat().st_size, sha256=sha256(source))
    elif source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.is_file())
        info.update(bytes=sum(p.stat().st_size for p in files), files=len(files))
    return info


def failure_report(source: Path, options: ModelOptions, code: str, reason: str) -> dict[str, Any]:
    report = common.failure_report("3d", source, options.parameters(), code, reason)
    return {**report, "tools": tool_versions()}


def tool_versions() -> dict[str, str]:
    return common.package_versions(TOOLS)


# Options across the process boundary


def options_to_json(options: ModelOptions) -> dict[str, Any]:
    data = {key: getattr(options, key) for key in options.__dataclass_fields__}
    data["limits"] = vars(options.limits)
    data["lods"] = [vars(spec) for spec in options.lods]
    data["point_lods"] = [vars(spec) for spec in options.point_lods]
    return data


def options_from_json(data: dict[str, Any]) -> ModelOptions:
    values = dict(data)
    values["limits"] = Limits(**values["limits"])
    values["lods"] = tuple(LodSpec(**spec) for spec in values["lods"])
    values["point_lods"] = tuple(LodSpec(**spec) for spec in values["point_lods"])
    return replace(ModelOptions(), **values)


def run_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Sandbox entry point: ``{"source", "out", "options"}`` → the report."""
    from processing.sandbox_child import report_progress

    return process(
        Path(payload["source"]),
        Path(payload["out"]),
        options_from_json(payload["options"]),
        progress=report_progress,
    )
