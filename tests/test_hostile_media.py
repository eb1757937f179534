"""The hand-made hostile media cases (threat rows 6–11), each run as a finished upload's job:
sniffed (``processing.sniff``), given its pipeline (``server.upload_ingest.choose_pipeline``)
and processed by the pipeline's sandbox entry point in a resource-limited child
(``processing.sandbox.run_in_child``; one child per pipeline, see
``tests/hostile/media_batch.py``).

For every case: the outcome is the one expected (refused, or for ``expect="any"`` either),
the canary file is never opened (inotify), the trap listener gets no connection, the
``gs``/``convert``/``magick`` shims first on PATH never run, the case ends in bounded time
and memory, and a processed case's public files carry none of the active content or
leaked text the file held. ``tests/test_hostile.py`` sends the same cases through the real
tus upload and worker.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from inotify_simple import INotify, flags

from processing.av.pipeline import AvOptions
from processing.av.pipeline import options_to_json as av_json
from processing.images.model import ImageOptions
from processing.images.pipeline import options_to_json as image_json
from processing.sandbox import GIB, ChildLimits, run_in_child
from processing.sniff import sniff_file
from processing.threed.model import LodSpec, ModelOptions
from processing.threed.pipeline import options_to_json as model_json
from server.upload_ingest import choose_pipeline
from tests.hostile import cases_3d, cases_av, cases_xml
from tests.hostile.media_bytes import LEAK_MARK
from tests.hostile.model import Case, Traps

pytestmark = pytest.mark.slow

CASES: list[Case] = cases_av.CASES + cases_3d.CASES + cases_xml.CASES
LIMITS = ChildLimits(memory_bytes=3 * GIB, cpu_seconds=600, wall_seconds=900, threads=1)
CASE_SECONDS = 30.0  # a hostile file is refused (or processed, tiny as these are) in less
PEAK_KIB = 2 * 1024 * 1024  # child or ffmpeg resident memory
SHIMS = ("gs", "convert", "magick")
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")  # as server.media_jobs names the job's source
# What a processed case's public files must not carry: markup that runs, text that leaked.
ACTIVE = re.compile(rb"<script|javascript:|onerror=|onload=", re.IGNORECASE)
SMALL_LODS = (LodSpec("high", 5000, 256), LodSpec("web", 2000, 128))


class Witness:
    """The canary (inotify) and the trap (a listening socket), each event with its time on
    the system-wide monotonic clock the sandboxed child also uses."""

    def __init__(self, root: Path) -> None:
        self.token = "canary-" + secrets.token_hex(16)
        self.canary = root / f"canary-{secrets.token_hex(4)}" / "secret"
        self.canary.parent.mkdir()
        self.canary.write_text(self.token, encoding="utf-8")
        self.events: list[tuple[float, str]] = []
        self._inotify = INotify()
        self._inotify.add_watch(str(self.canary), flags.OPEN | flags.ACCESS)
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self.port = int(self._socket.getsockname()[1])
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._watch, daemon=True),
            threading.Thread(target=self._listen, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def traps(self) -> Traps:
        url = f"http://127.0.0.1:{self.port}/trap"
        return Traps(str(self.canary), url, "127.0.0.1", self.port)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for event in self._inotify.read(timeout=100):
                self.events.append((time.monotonic(), f"canary {flags.from_mask(event.mask)}"))

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.events.append((time.monotonic(), "trap connection"))
            connection.close()

    def during(self, started: float, ended: float) -> list[str]:
        return [what for when, what in self.events if started <= when <= ended + 0.2]

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._inotify.close()
        self._socket.close()


@dataclass
class Run:
    root: Path
    witness: Witness
    marker: Path
    shims: Path
    results: dict[str, dict[str, Any]]
    batch_seconds: dict[str, float]


def _options(pipeline: str, kind: str | None) -> dict[str, Any]:
    if pipeline == "process_model":
        return model_json(ModelOptions(kind=kind, lods=SMALL_LODS, poster_size=128))
    if pipeline == "process_image":
        return image_json(ImageOptions(kind=kind))
    return av_json(AvOptions(captions=False))


def _make_shims(folder: Path, marker: Path) -> None:
    folder.mkdir()
    for name in SHIMS:
        shim = folder / name
        shim.write_text(f'#!/bin/sh\necho "$0 $*" >> {marker}\nexit 1\n', encoding="utf-8")
        shim.chmod(0o755)


def _stage(case: Case, root: Path, traps: Traps) -> tuple[Path, Path]:
    """The case's bytes stored, and the job's source: a safely named link to them."""
    folder = root / case.name
    (folder / "store").mkdir(parents=True)
    stored = folder / "store" / "original"
    stored.write_bytes(case.build(traps))
    source = folder / "job" / (SAFE_NAME.sub("_", case.filename) or "original")
    source.parent.mkdir()
    source.symlink_to(stored)
    out = folder / "out"
    out.mkdir()
    return source, out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("hostile-media")
    witness = Witness(root)
    state = Run(root, witness, root / "delegate-ran", root / "shims", {}, {})
    _make_shims(state.shims, state.marker)
    saved = os.environ["PATH"]
    os.environ["PATH"] = f"{state.shims}{os.pathsep}{saved}"  # the sandbox child inherits it
    try:
        batches: dict[str, list[dict[str, Any]]] = {}
        for case in CASES:
            source, out = _stage(case, root, witness.traps())
            pipeline, params = choose_pipeline(sniff_file(source).kind, case.kind)
            if pipeline is None:  # stored for staff, nothing published
                state.results[case.name] = {"outcome": "refused", "code": "no_pipeline"}
                continue
            batches.setdefault(pipeline, []).append(
                {
                    "name": case.name,
                    "source": str(source),  # named after the upload, as processing.runner
                    "out": str(out),
                    "options": _options(pipeline, params.get("kind")),
                }
            )
        for pipeline, cases in batches.items():
            started = time.monotonic()
            payload = {"pipeline": pipeline, "cases": cases}
            done = run_in_child("tests.hostile.media_batch:run_batch", payload, LIMITS)
            state.batch_seconds[pipeline] = time.monotonic() - started
            state.results.update(done["results"])
        yield state
    finally:
        os.environ["PATH"] = saved
        witness.close()


def test_cases_per_row() -> None:
    """Each of rows 6–11 has at least 12 hand-made cases, with unique names."""
    per_row = Counter(case.row for case in CASES)
    assert all(per_row[row] >= 12 for row in range(6, 12)), per_row
    assert len({case.name for case in CASES}) == len(CASES)


def test_shims_would_be_found(run: Run) -> None:
    """The shims shadow any real gs/convert/magick for the child (else the marker proves
    nothing), and none of them ran during the whole run."""
    for name in SHIMS:
        assert shutil.which(name, path=f"{run.shims}{os.pathsep}{os.defpath}") == str(
            run.shims / name
        )
    assert not run.marker.exists(), run.marker.read_text(encoding="utf-8")


def test_no_trap_touched_in_the_whole_run(run: Run) -> None:
    assert run.witness.events == []


def _leaks(out: Path, canary_token: str) -> list[str]:
    """Published files (all but the staff's report) carrying active content or leaked text."""
    found = []
    for path in sorted(out.rglob("*")):
        if not path.is_file() or path.name == "report.json":
            continue
        data = path.read_bytes()
        hits = [ACTIVE.search(data), LEAK_MARK.encode() in data, canary_token.encode() in data]
        found += [f"{path.relative_to(out)}: {hit!r}" for hit in hits if hit]
    return found


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_media_case(case: Case, run: Run) -> None:
    result = run.results[case.name]
    if case.expect == "refused":
        assert result["outcome"] == "refused", f"{case.note}: processed"
    if "started" not in result:
        return  # refused before any pipeline ran
    elapsed = result["ended"] - result["started"]
    assert elapsed < CASE_SECONDS, f"{case.name} took {elapsed:.1f} s"
    assert result["peak_kib"] < PEAK_KIB
    assert run.witness.during(result["started"], result["ended"]) == []
    if result["outcome"] == "processed":
        assert _leaks(run.root / case.name / "out", run.witness.token) == []


def test_eps_texture_never_reaches_ghostscript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pillow decodes EPS by running ``gs`` from PATH: it does for a bare Image.open (so the
    shim is a live trap), never for a model's texture (row 7, processing/threed)."""
    import io

    from PIL import Image

    from processing.threed.inputs import load_model

    marker = tmp_path / "ran"
    _make_shims(tmp_path / "shims", marker)
    monkeypatch.setenv("PATH", f"{tmp_path / 'shims'}{os.pathsep}{os.environ['PATH']}")
    with (
        pytest.raises((OSError, subprocess.CalledProcessError)),
        Image.open(io.BytesIO(cases_3d.EPS)) as image,
    ):
        image.load()
    assert marker.exists()
    marker.unlink()
    for name in ("zip-obj-eps-texture", "glb-embedded-eps-texture", "gltf-data-uri-eps-texture"):
        case = next(case for case in CASES if case.name == name)
        folder = tmp_path / name
        folder.mkdir()
        source = folder / case.filename
        source.write_bytes(case.build(Traps("/nonexistent", "http://127.0.0.1:9/", "127.0.0.1", 9)))
        model = load_model(source, ModelOptions(), folder)
        assert all(part.texture is None for part in model.parts)
        assert any("could not be read" in warning for warning in model.warnings)
        assert not marker.exists(), name


def test_runner_keeps_the_upload_name_of_a_linked_source(tmp_path: Path) -> None:
    """A job's source is a link named after the upload to a digest-named original; the
    sandboxed pipeline must see the name (an OBJ is recognised by it), not the digest."""
    from processing.runner import process_model

    original = tmp_path / "store" / "9f86d081884c7d65"
    original.parent.mkdir()
    original.write_bytes(b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    source = tmp_path / "job" / "scan.obj"
    source.parent.mkdir()
    source.symlink_to(original)
    options = ModelOptions(lods=SMALL_LODS, poster_size=128)
    report = process_model(source, tmp_path / "out", options, LIMITS)
    assert (report["source"]["name"], report["source"]["format"]) == ("scan.obj", "obj")
