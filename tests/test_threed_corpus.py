"""Acceptance on real third-party scans (../shared/corpus/3d): valid GLBs, dense-scan LODs,
textured posters, and edge cases that never take the worker down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh
from PIL import Image

from processing.runner import Failure, process_model
from processing.sandbox import ChildLimits
from processing.threed import render
from processing.threed.model import ModelOptions
from server.jobs import JobService
from tests.conftest import CORPUS
from tests.gltf_tools import gltf_tools_available, validate_glb
from tests.jobhelpers import drain, job_service
from tests.test_threed_job import ingest

THREED = CORPUS / "3d"
pytestmark = [
    pytest.mark.corpus,
    pytest.mark.slow,
    pytest.mark.skipif(not THREED.is_dir(), reason=f"the 3D corpus is not at {THREED}"),
]
TOOLS_MISSING = gltf_tools_available()
LIMITS = ChildLimits(memory_bytes=8 * 1024**3, cpu_seconds=900, wall_seconds=900)
SOURCES = [
    "photogrammetry_obj_esp32rig",
    "dense_scans/stanford_bun_zipper.ply",
    "dense_scans/stanford_lucy_100k.ply",
    "heritage/gargoyle_3dhop.ply",
    "heritage/laurana_3dhop.ply",
    "pointcloud_colour/open3d_frag_115_colored.ply",
    "gltf/Duck.glb",
    "gltf/BoxTextured.glb",
    "gltf/CesiumMilkTruck.glb",
    "gltf/AlphaBlendModeTest.glb",
    "gltf/no_indices_3storybuilding.glb",
    "gltf/bunny_gltf.drc",
]
# Problems an edge case may be refused for: the reason must name one of them.
REASON_WORDS = ("empty", "no faces", "not supported", "index", "indices", "unreadable", "face")


@pytest.fixture(scope="module")
def corpus_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("corpus")
    runs = {}
    for number, name in enumerate(SOURCES):
        out = base / f"out{number}"
        runs[name] = (out, process_model(THREED / name, out, ModelOptions(), LIMITS))
    return runs


@pytest.mark.skipif(TOOLS_MISSING is not None, reason=str(TOOLS_MISSING))
def test_every_glb_from_the_corpus_passes_the_khronos_validator(
    corpus_runs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    glbs = [
        out / artefact["path"]
        for out, report in corpus_runs.values()
        for artefact in report["artefacts"]
        if artefact["path"].endswith(".glb")
    ]
    assert len(glbs) >= 4 * len(SOURCES)
    results = validate_glb(glbs)
    failures = {str(p): r for p, r in zip(glbs, results, strict=True) if r["numErrors"]}
    assert failures == {}


def test_textured_scans_keep_their_texture_in_the_poster(
    corpus_runs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    out, report = corpus_runs["photogrammetry_obj_esp32rig"]
    assert report["statistics"]["lods"][0]["texture_size"] == 4096
    assert report["statistics"]["lods"][1]["texture_size"] == 2048
    textured = np.asarray(Image.open(out / "poster.jpg").convert("RGB"))
    grey_out, _ = corpus_runs["dense_scans/stanford_bun_zipper.ply"]
    grey = np.asarray(Image.open(grey_out / "poster.jpg").convert("RGB"))
    background = render.DEFAULT_BACKGROUND
    assert render.colour_variance(textured, background) > 3 * render.colour_variance(
        grey, background
    )


def test_the_coloured_scan_keeps_its_vertex_colours(
    corpus_runs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    out, report = corpus_runs["pointcloud_colour/open3d_frag_115_colored.ply"]
    web = out / "web.glb"
    doc = json.loads(web.read_bytes()[20 : 20 + int.from_bytes(web.read_bytes()[12:16], "little")])
    assert "COLOR_0" in doc["meshes"][0]["primitives"][0]["attributes"]
    assert report["kind"] == "mesh"


@pytest.mark.parametrize(
    ("name", "subdivisions"),
    [("dense_scans/stanford_lucy_100k.ply", 1), ("dense_scans/stanford_bun_zipper.ply", 2)],
)
def test_dense_scans_get_a_tenfold_lighter_web_level_within_a_tenth_of_a_percent(
    name: str, subdivisions: int, tmp_path: Path
) -> None:
    """The corpus has no scan above 150k triangles: subdivide real ones (400k and 1.1M)."""
    dense = trimesh.load(THREED / name).subdivide_loop(subdivisions)
    source = tmp_path / "dense.ply"
    dense.export(source)
    report = process_model(source, tmp_path / "out", ModelOptions(), LIMITS)
    lods = {lod["name"]: lod for lod in report["statistics"]["lods"]}
    source_triangles = report["statistics"]["cleaning"]["faces_after"]
    assert source_triangles > 150_000
    assert lods["web"]["triangles"] * 10 <= source_triangles
    assert 0 < lods["web"]["hausdorff_pct"] <= 0.1


def edge_cases() -> list[str]:
    folder = THREED / "edge_cases"
    return (
        sorted(p.name for p in folder.iterdir() if p.suffix.lower() != ".mtl")
        if folder.is_dir()
        else []
    )


@pytest.mark.parametrize("name", edge_cases())
def test_every_edge_case_gives_a_valid_model_or_a_named_refusal(name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    try:
        report = process_model(THREED / "edge_cases" / name, out, ModelOptions(), LIMITS)
    except Failure as refused:
        assert refused.code not in {"crashed", "memory", "wall_time", "cpu_time"}, refused.reason
        assert any(word in refused.reason.lower() for word in REASON_WORDS), refused.reason
        assert json.loads((out / "report.json").read_text())["error"]["reason"] == refused.reason
        return
    glbs = [out / a["path"] for a in report["artefacts"] if a["path"].endswith(".glb")]
    assert glbs
    if TOOLS_MISSING is None:
        assert [r["numErrors"] for r in validate_glb(glbs)] == [0] * len(glbs)


def test_edge_cases_through_the_worker_leave_it_running(tmp_path: Path) -> None:
    """Every edge case as a real job in this process: each ends, and the worker goes on."""
    service: JobService = job_service(
        tmp_path, f"sqlite:///{tmp_path / 'museum.sqlite3'}", f"sqlite:///{tmp_path / 'q.sqlite3'}"
    )
    try:
        jobs = []
        for name in edge_cases():
            asset_id = ingest(service, THREED / "edge_cases" / name)
            jobs.append(service.submit("process_model", {"asset_id": asset_id}, asset_id=asset_id))
        drain(service, timeout=900)
        states = {service.get(job)["state"] for job in jobs}
        assert states <= {"succeeded", "failed"}
        assert "succeeded" in states
    finally:
        service.db.dispose()
