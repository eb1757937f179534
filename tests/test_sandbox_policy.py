"""The decoders' own guards: no ImageMagick or Ghostscript, libvips' untrusted loaders
blocked in the server too, Pillow's bomb limits as errors, and what ``museum doctor`` says."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

from processing.images.fallback import transcode_jpeg2000
from processing.images.model import ImageError, ImageOptions
from processing.runner import Failure, process_image
from processing.sandbox import ChildLimits
from server import doctor
from server.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
LIMITS = ChildLimits(memory_bytes=2 * 1024**3, cpu_seconds=60, wall_seconds=60, threads=1)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header says ``width``×``height`` but whose data is one short row."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey
    data = zlib.compress(b"\x00" * (1 + width // 8))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


# --- ImageMagick and Ghostscript ------------------------------------------------------


def test_no_imagemagick_or_ghostscript_is_installed_here() -> None:
    assert doctor.dangerous_converters() == []
    assert doctor.check_no_dangerous_converters().ok


def test_bootstrap_never_installs_them_nor_recommended_packages() -> None:
    script = (ROOT / "scripts" / "bootstrap.sh").read_text(encoding="utf-8")
    lists = re.findall(r"^(?:BENCH_)?APT_PACKAGES=\(\n(.*?)^\)", script, re.M | re.S)
    packages = {line.split()[0] for block in lists for line in block.splitlines() if line.strip()}
    assert "ffmpeg" in packages and "libvips42" in packages  # the lists were found
    assert not packages & set(doctor.DANGEROUS_PACKAGES)
    assert not {p for p in packages if "magick" in p or "ghostscript" in p}
    installs = re.findall(r"apt-get install[^\n]*", script)
    assert installs and all("--no-install-recommends" in line for line in installs)


def test_doctor_spots_imagemagick_and_ghostscript_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def program(name: str, target: str | None = None) -> None:
        path = tmp_path / name
        if target:
            path.symlink_to(tmp_path / target)
        else:
            path.write_text("#!/bin/sh\ntouch marker\n")
            path.chmod(0o755)

    program("gs")
    program("convert-im6.q16")
    program("convert", "convert-im6.q16")  # Debian's alternatives link
    program("identify")  # some other tool's "identify": not ImageMagick
    monkeypatch.setenv("PATH", str(tmp_path))
    found = doctor.dangerous_converters()
    assert any(entry.startswith("gs (") for entry in found)
    assert any(entry.startswith("convert (") for entry in found)
    assert not any(entry.startswith("identify") for entry in found)
    check = doctor.check_no_dangerous_converters()
    assert not check.ok and check.required and "apt-get purge" in check.fix
    assert not (tmp_path / "marker").exists()  # found without running anything


# --- network isolation in museum doctor ----------------------------------------------


def test_doctor_reports_network_isolation() -> None:
    check = doctor.check_network_isolation(Settings())
    assert (check.name, check.ok, check.detail) == ("network isolation", True, "available")
    off = doctor.check_network_isolation(Settings(sandbox_network="off"))
    assert not off.ok and not off.required and off.detail == "off"


def test_doctor_requires_isolation_only_when_the_setting_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import processing.sandbox as sandbox

    monkeypatch.setattr(sandbox, "network_isolation", lambda: "unavailable: no namespaces")
    auto = doctor.check_network_isolation(Settings())
    assert not auto.ok and not auto.required and "no namespaces" in auto.detail
    required = doctor.check_network_isolation(Settings(sandbox_network="require"))
    assert not required.ok and required.required


# --- libvips in the serving process -----------------------------------------------------


def test_the_iiif_server_blocks_libvips_untrusted_loaders(tmp_path: Path) -> None:
    """A fresh interpreter opens a pyramid as the dynamic IIIF server does; an SVG (an
    untrusted loader) is refused afterwards, a TIFF still opens."""
    tiff = tmp_path / "pyramid.tif"
    Image.new("RGB", (64, 64), "red").save(tiff, format="TIFF")
    svg = tmp_path / "drawing.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>')
    code = (
        "import sys, pyvips\n"
        "print('before', pyvips.Image.new_from_file(sys.argv[2]).width)\n"
        "from processing.images import render\n"
        "print('tiff', render.open_level(__import__('pathlib').Path(sys.argv[1]), 0).width)\n"
        "try:\n"
        "    pyvips.Image.new_from_file(sys.argv[2])\n"
        "    print('svg loaded')\n"
        "except pyvips.Error as exc:\n"
        "    print('svg refused', ' '.join(str(exc).split()))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "VIPS_BLOCK_UNTRUSTED"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tiff), str(svg)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == "before 8"  # libvips can load it: the block is what refuses it
    assert lines[1] == "tiff 64"
    assert lines[2].startswith("svg refused") and "blocked" in lines[2]


# --- Pillow's bomb limits ----------------------------------------------------------------


def test_a_png_whose_header_claims_a_huge_size_is_refused_fast(tmp_path: Path) -> None:
    source = tmp_path / "ruong.png"
    source.write_bytes(png_claiming(60_000, 60_000))
    started = time.monotonic()
    with pytest.raises(Failure) as info:
        process_image(source, tmp_path / "out", ImageOptions(), LIMITS)
    assert time.monotonic() - started < 10
    assert info.value.code in ("too_many_pixels", "decompression_bomb")
    # Pillow, opening it where it must (metadata, fallbacks), raises too: the bomb limit is
    # an error, not a warning.
    with pytest.raises(Image.DecompressionBombError):
        Image.open(source, formats=["PNG"])


def test_the_jpeg2000_fallback_refuses_a_bomb_header_before_decoding(tmp_path: Path) -> None:
    small = tmp_path / "small.j2k"
    Image.new("L", (16, 16), 128).save(small, format="JPEG2000")
    data = bytearray(small.read_bytes())
    assert data[:4] == b"\xff\x4f\xff\x51"  # SOC, SIZ
    assert transcode_jpeg2000(small, tmp_path, "libvips refused it.").is_file()  # it decodes
    # Xsiz and Ysiz at bytes 8..16 of the SIZ segment: 12,000 × 12,000 = 144 megapixels, a
    # size Pillow only warns about (its error comes at 2× its 89-megapixel limit).
    data[8:16] = struct.pack(">II", 12_000, 12_000)
    bomb = tmp_path / "bomb.j2k"
    bomb.write_bytes(bytes(data))
    started = time.monotonic()
    with pytest.raises(ImageError) as info:
        transcode_jpeg2000(bomb, tmp_path / "other", "libvips refused it.")
    assert time.monotonic() - started < 2
    assert "too large for the second decoder" in info.value.reason
    png = tmp_path / "ruong.png"
    Image.new("L", (8, 8), 128).save(png, format="PNG")
    with pytest.raises(ImageError):  # the JPEG 2000 decoder only: a PNG is not even tried
        transcode_jpeg2000(png, tmp_path / "other", "libvips refused it.")
