"""The whole 3D pipeline, in its sandbox: artefacts, report, determinism, refusals, the CLI."""

from __future__ import annotations

import hashlib
import json
import subprocess
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
from tests.gltf_tools import gltf_tools_available, validate_glb
from tests.test_cli import run_museum

TOOLS_MISSING = gltf_tools_available()
LIMITS = ChildLimits(memory_bytes=6 * 1024**3, cpu_seconds=600, wall_seconds=600)


def textured_obj(folder: Path, scale: float = 100.0) -> Path:
    """A UV sphere (``scale`` units across) with a striped texture, as OBJ + MTL + PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    sphere = trimesh.creation.uv_sphere(radius=scale / 2, count=[48, 48])
    pixels = np.zeros((256, 256, 3), np.uint8)
    pixels[:, :, 0] = np.linspace(0, 255, 256, dtype=np.uint8)[None, :]
    pixels[::32, :, 1] = 255
    pixels[:, ::32, 2] = 255
    Image.fromarray(pixels).save(folder / "stripes.png")
    vertices = np.asarray(sphere.vertices)
    uv = np.stack(
        [
            0.5 + np.arctan2(vertices[:, 1], vertices[:, 0]) / (2 * np.pi),
            0.5 + vertices[:, 2] / scale,
        ],
        axis=1,
    )
    lines = ["mtllib scan.mtl", "usemtl stripes"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in vertices]
    lines += [f"vt {u:.6f} {v:.6f}" for u, v in uv]
    lines += [f"f {a + 1}/{a + 1} {b + 1}/{b + 1} {c + 1}/{c + 1}" for a, b, c in sphere.faces]
    (folder / "scan.obj").write_text("\n".join(lines) + "\n")
    (folder / "scan.mtl").write_text("newmtl stripes\nKd 1 1 1\nmap_Kd stripes.png\n")
    return folder


def run(source: Path, out: Path, **options: Any) -> dict[str, Any]:
    return process_model(source, out, ModelOptions(**options), LIMITS)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def textured_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    base = tmp_path_factory.mktemp("textured")
    source = textured_obj(base / "scan")
    out = base / "out"
    return out, run(source, out, units="mm", up="z")


def test_report_lists_every_artefact_with_its_digest(
    textured_run: tuple[Path, dict[str, Any]],
) -> None:
    out, report = textured_run
    assert report["status"] == "ok"
    assert json.loads((out / "report.json").read_text()) == report
    roles = {a["role"] for a in report["artefacts"]}
    assert {"lod:high", "lod:web", "lod:thumb", "lod:preview", "poster", "thumbnail"} <= roles
    files = {p.name for p in out.iterdir()} - {"report.json"}
    assert files == {a["path"] for a in report["artefacts"]}
    for artefact in report["artefacts"]:
        path = out / artefact["path"]
        assert artefact["bytes"] == path.stat().st_size
        assert artefact["sha256"] == sha(path)
    assert set(report["timings"]) >= {"read", "clean", "normalize", "simplify", "write", "poster"}
    assert report["tools"]["meshoptimizer"]
    assert report["parameters"]["units"] == "mm"


def test_dimensions_are_recorded_in_millimetres_and_the_model_stands_on_the_ground(
    textured_run: tuple[Path, dict[str, Any]],
) -> None:
    _, report = textured_run
    dims = report["statistics"]["dimensions_mm"]
    # A 100-unit sphere in millimetres is 100 mm across in every direction.
    for axis in ("width", "height", "depth"):
        assert dims[axis] == pytest.approx(100.0, abs=0.5)
    box = report["statistics"]["normalization"]["bounding_box_m"]
    assert box[0][1] == pytest.approx(0.0, abs=1e-9)
    assert box[1][1] == pytest.approx(0.1, abs=5e-4)


def test_levels_keep_their_texture_at_the_right_size(
    textured_run: tuple[Path, dict[str, Any]],
) -> None:
    _, report = textured_run
    sizes = {lod["name"]: lod["texture_size"] for lod in report["statistics"]["lods"]}
    assert sizes == {"high": 256, "web": 256, "thumb": 256, "preview": 256}


def test_textured_poster_is_not_untextured_grey(
    textured_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, _ = textured_run
    plain = tmp_path / "plain"
    source = textured_obj(tmp_path / "scan")
    (source / "scan.mtl").write_text("newmtl stripes\nKd 0.8 0.8 0.8\n")
    run(source, plain)
    textured = np.asarray(Image.open(out / "poster.jpg").convert("RGB"))
    grey = np.asarray(Image.open(plain / "poster.jpg").convert("RGB"))
    background = render.DEFAULT_BACKGROUND
    assert render.colour_variance(textured, background) > 4 * render.colour_variance(
        grey, background
    )


@pytest.mark.skipif(TOOLS_MISSING is not None, reason=str(TOOLS_MISSING))
def test_every_glb_passes_the_khronos_validator(textured_run: tuple[Path, dict[str, Any]]) -> None:
    out, report = textured_run
    glbs = [out / a["path"] for a in report["artefacts"] if a["path"].endswith(".glb")]
    results = validate_glb(glbs)
    assert [r["numErrors"] for r in results] == [0] * len(glbs), results


def test_same_input_and_options_give_byte_identical_artefacts(
    textured_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, report = textured_run
    again = run(textured_obj(tmp_path / "scan"), tmp_path / "again", units="mm", up="z")
    first = {a["path"]: a["sha256"] for a in report["artefacts"]}
    second = {a["path"]: a["sha256"] for a in again["artefacts"]}
    assert first == second


def test_a_dense_mesh_gets_a_tenfold_lighter_web_level_within_a_tenth_of_a_percent(
    tmp_path: Path,
) -> None:
    sphere = trimesh.creation.icosphere(subdivisions=7, radius=0.3)  # 327,680 triangles
    bumps = 1 + 0.02 * np.sin(8 * sphere.vertices[:, 0] / 0.3) * np.cos(6 * sphere.vertices[:, 1])
    sphere.vertices *= bumps[:, None]
    source = tmp_path / "dense.ply"
    sphere.export(source)
    report = run(source, tmp_path / "out")
    web = next(lod for lod in report["statistics"]["lods"] if lod["name"] == "web")
    assert web["triangles"] * 10 <= len(sphere.faces)
    assert 0 < web["hausdorff_pct"] <= 0.1
    assert web["rms_pct"] < web["hausdorff_pct"]


def test_point_clouds_become_point_lods(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    points = rng.random((50_000, 3))
    colors = (rng.random((50_000, 3)) * 255).astype(int)
    source = tmp_path / "cloud.xyz"
    rows = np.concatenate([points, colors], axis=1)
    np.savetxt(source, rows, fmt=["%.5f"] * 3 + ["%d"] * 3)
    report = run(source, tmp_path / "out", point_lods=ModelOptions().point_lods[2:])
    assert report["kind"] == "pointcloud"
    levels = report["statistics"]["lods"]
    assert [lod["points"] for lod in levels] == [50_000, 30_000] or levels[1]["points"] <= 30_000
    assert all(lod["triangles"] == 0 for lod in levels)


def test_a_refused_input_leaves_only_a_failure_report(tmp_path: Path) -> None:
    source = tmp_path / "empty.obj"
    source.write_text("# nothing here\n")
    out = tmp_path / "out"
    with pytest.raises(Failure) as caught:
        run(source, out)
    assert caught.value.code == "empty_model"
    assert [p.name for p in out.iterdir()] == ["report.json"]
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "failed"
    assert report["error"] == {"code": "empty_model", "reason": caught.value.reason}
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_a_memory_limit_hit_is_a_clear_failure(tmp_path: Path) -> None:
    sphere = trimesh.creation.icosphere(subdivisions=6)
    source = tmp_path / "sphere.ply"
    sphere.export(source)
    with pytest.raises(Failure) as caught:
        process_model(
            source, tmp_path / "out", ModelOptions(), ChildLimits(memory_bytes=200 * 2**20)
        )
    # The sandbox names it ("memory"), or the reader that ran out first does ("too_large":
    # "The PLY file does not fit in memory.").
    assert caught.value.code in {"memory", "too_large"}
    assert "memory" in caught.value.reason


def test_an_existing_output_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    with pytest.raises(Failure) as caught:
        run(textured_obj(tmp_path / "scan"), out)
    assert caught.value.code == "output_exists"
    assert (out / "keep.txt").read_text() == "precious"


def museum(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_museum(tmp_path, *args, env={"MUSEUM_LANGUAGE": "en", **env}, timeout=300)


def test_cli_process_writes_the_derivatives_and_exits_zero(tmp_path: Path) -> None:
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=40)
    source = tmp_path / "scan.stl"
    sphere.export(source)
    result = museum(
        tmp_path, "process", str(source), "--out", str(tmp_path / "out"), "--units", "mm"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["statistics"]["dimensions_mm"]["height"] == pytest.approx(80.0, abs=0.5)
    assert "web.glb" in result.stdout


def test_cli_process_refuses_with_a_one_line_reason(tmp_path: Path) -> None:
    source = tmp_path / "scan.ply"
    source.write_text("ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nend_header\n1\n")
    result = museum(tmp_path, "process", str(source), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Refused:"), result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["status"] == "failed"
    assert report["error"]["reason"] in lines[0]


def test_cli_process_refusal_reads_in_vietnamese_by_default(tmp_path: Path) -> None:
    from server.i18n import load_catalogs
    from server.refusals import SUMMARIES

    source = tmp_path / "scan.stl"
    source.write_bytes(b"\0" * 40)  # shorter than a binary STL header
    result = run_museum(tmp_path, "process", str(source), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    vietnamese = load_catalogs()["vi"].gettext(SUMMARIES["malformed"])
    assert vietnamese != SUMMARIES["malformed"]
    line = " ".join(result.stderr.split())
    assert vietnamese in line and "(malformed:" in line, result.stderr


def test_cli_process_limits_come_from_settings(tmp_path: Path) -> None:
    sphere = trimesh.creation.icosphere(subdivisions=4)
    source = tmp_path / "scan.ply"
    sphere.export(source)
    out = str(tmp_path / "out")
    result = museum(tmp_path, "process", str(source), "--out", out, MUSEUM_MODEL_MAX_FACES="1000")
    assert result.returncode == 1
    assert "MUSEUM_MODEL_MAX_FACES" in result.stderr
