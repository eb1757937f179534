"""ffmpeg and ffprobe never get to choose what to open: every command line, and hostile
"videos" that are really playlists, against a watched canary file and a trap listener."""

from __future__ import annotations

import ast
import ctypes
import functools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from processing.av import probe as av_probe
from processing.av.pipeline import AvOptions, process
from processing.av.probe import DEMUXERS, FFMPEG, FFPROBE, FORMAT_NAMES, MediaError, probe_media
from processing.runner import Failure, process_av
from processing.sandbox import ChildLimits
from tests.test_av_hls import make_clip
from tests.test_sandbox import Listener

pytestmark = pytest.mark.skipif(
    not Path(FFMPEG).is_file(), reason="ffmpeg not found: install the Debian package ffmpeg"
)
ROOT = Path(__file__).resolve().parent.parent
LIMITS = ChildLimits(memory_bytes=2 * 1024**3, cpu_seconds=120, wall_seconds=120, threads=1)
# Demuxers that open other files or URLs named inside the input.
DANGEROUS_DEMUXERS = {"hls", "applehttp", "concat", "ffconcat", "image2", "lavfi", "tee", "dash"}
# Options that relax ffmpeg's own gates against playlists and external references.
FORBIDDEN_OPTIONS = {"-allowed_extensions", "-extension_picky", "-enable_drefs", "-safe"}
_IN_OPEN_OR_ACCESS = 0x20 | 0x01


class Canary:
    """A secret file outside the media root whose every open or read is counted (inotify)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "secret.ts"  # an extension ffmpeg's HLS demuxer would accept
        self.path.write_text("canary-7f3c9e\n")
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self._fd >= 0, os.strerror(ctypes.get_errno())
        watch = self._libc.inotify_add_watch(self._fd, bytes(self.path), _IN_OPEN_OR_ACCESS)
        assert watch >= 0, os.strerror(ctypes.get_errno())

    def touches(self) -> int:
        """Opens and reads seen since the last call."""
        count = 0
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return count
            offset = 0
            while offset < len(data):
                length = int.from_bytes(data[offset + 12 : offset + 16], "little")
                offset += 16 + length
                count += 1

    def close(self) -> None:
        os.close(self._fd)


@pytest.fixture
def canary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canary]:
    watched = Canary(tmp_path_factory.mktemp("canary"))
    yield watched
    watched.close()


@pytest.fixture
def trap() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


def playlist(canary: Canary, trap: Listener) -> str:
    return (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:10.0,\nfile://{canary.path}\n"
        f"#EXTINF:10.0,\nhttp://127.0.0.1:{trap.port}/segment.ts\n"
        f"#EXTINF:10.0,\nconcat:{canary.path}|{canary.path}\n"
        f"#EXTINF:10.0,\nsubfile,,start,0,end,0,,:{canary.path}\n#EXT-X-ENDLIST\n"
    )


def ffconcat(canary: Canary, trap: Listener) -> str:
    return f"ffconcat version 1.0\nfile '{canary.path}'\nfile 'http://127.0.0.1:{trap.port}/x'\n"


# --- every command line -----------------------------------------------------------------


def _names_ffmpeg(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ("FFMPEG", "FFPROBE")
    return isinstance(node, ast.Constant) and str(node.value).endswith(("ffmpeg", "ffprobe"))


def _ffmpeg_lists(tree: ast.AST) -> Iterator[ast.List]:
    for node in ast.walk(tree):
        if isinstance(node, ast.List) and node.elts and _names_ffmpeg(node.elts[0]):
            yield node


@functools.cache
def _sources() -> list[tuple[Path, ast.Module]]:
    paths = sorted([*(ROOT / "processing").rglob("*.py"), *(ROOT / "server").rglob("*.py")])
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in paths]


def test_every_ffmpeg_command_builder_opens_its_input_through_input_args() -> None:
    """Architecture: a command line either only asks for the version or takes its input from
    :func:`processing.av.probe.input_args` (protocol, format and demuxer allow-lists)."""
    builders = []
    for path, tree in _sources():
        for node in _ffmpeg_lists(tree):
            text = ast.unparse(node)
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            builders.append(where)
            if "'-version'" in text:
                continue
            assert "input_args" in text, f"{where} builds an ffmpeg command without input_args()"
            assert "'-i'" not in text, f"{where} names its own input"
    assert len(builders) >= 6, builders  # probe, loudness, ladder, audio, poster, ASR, version


def test_no_source_relaxes_ffmpegs_gates() -> None:
    for path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert node.value not in FORBIDDEN_OPTIONS, f"{path}:{node.lineno} {node.value}"


def test_the_allowed_demuxers_open_no_other_file() -> None:
    assert set(DEMUXERS.values()) <= set(FORMAT_NAMES)
    assert not set(FORMAT_NAMES) & DANGEROUS_DEMUXERS
    with pytest.raises(ValueError, match="not an allowed demuxer"):
        av_probe.input_args(Path("x.m3u8"), "hls")


def _input_block(argv: list[str]) -> list[str]:
    at = argv.index("-i")
    return argv[at - 6 : at + 2]


def test_every_ffmpeg_run_of_a_real_job_carries_the_allow_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behaviour: every ffmpeg/ffprobe process a whole video job starts (probe, loudness,
    ladder, audio, poster, captions) is recorded and checked."""
    source = make_clip(tmp_path / "dance.mp4", size="320x240", seconds=2)
    seen: list[list[str]] = []
    real_popen = subprocess.Popen

    class RecordingPopen(real_popen):  # type: ignore[misc,valid-type]
        def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
            if isinstance(args, list) and Path(str(args[0])).name in ("ffmpeg", "ffprobe"):
                seen.append([str(a) for a in args])
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", RecordingPopen)
    report = process(source, tmp_path / "out", AvOptions(captions=True))
    assert report["status"] == "ok"
    runs = [argv for argv in seen if "-version" not in argv]
    assert {Path(argv[0]).name for argv in runs} == {"ffmpeg", "ffprobe"}
    assert len(runs) >= 5, runs
    for argv in runs:
        assert argv.count("-i") == 1, argv
        flag, protocols, fflag, formats, f, demuxer, i, url = _input_block(argv)
        assert (flag, protocols, fflag, f, i) == (
            "-protocol_whitelist",
            "file",
            "-format_whitelist",
            "-f",
            "-i",
        )
        assert formats == demuxer == "mov"
        assert url == f"file:{source.resolve()}"
        assert not FORBIDDEN_OPTIONS & set(argv)


# --- hostile "videos" ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make"), [("ritual.mp4", playlist), ("ritual.mov", ffconcat)], ids=["m3u8", "ffconcat"]
)
def test_a_playlist_renamed_as_a_video_is_refused_without_touching_anything(
    tmp_path: Path, canary: Canary, trap: Listener, name: str, make: Any
) -> None:
    upload = tmp_path / name
    upload.write_text(make(canary, trap))
    with pytest.raises(Failure) as info:
        process_av(upload, tmp_path / "out", AvOptions(captions=False), LIMITS)
    assert info.value.code == "unsupported_format"
    assert canary.touches() == 0
    assert trap.accepted == 0
    assert canary.path.read_text() == "canary-7f3c9e\n"
    assert canary.touches() >= 1  # the watch works: our own read was seen


def test_even_a_fooled_sniffer_cannot_make_ffprobe_follow_a_playlist(
    tmp_path: Path, canary: Canary, trap: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: the bytes say text, but suppose the sniffer said MP4. ffprobe, held
    to the MP4 demuxer and local files, refuses the playlist; a plain ffprobe follows it."""
    upload = tmp_path / "ritual.mp4"
    upload.write_text(playlist(canary, trap))
    unguarded = [FFPROBE, "-v", "error", "-protocol_whitelist", "file,http,tcp", str(upload)]
    subprocess.run(unguarded, capture_output=True, timeout=60, check=False)
    assert canary.touches() > 0  # the file really is hostile
    followed = trap.accepted
    monkeypatch.setattr(av_probe, "media_type_of", lambda path: "video/mp4")
    with pytest.raises(MediaError) as info:
        probe_media(upload)
    assert info.value.code == "malformed"
    assert canary.touches() == 0
    assert trap.accepted == followed
