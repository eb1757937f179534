"""Type confusion (threat row 2): files whose name, kind hint and bytes disagree, and
polyglots that are two formats at once.

The museum's defence: the pipeline follows what the bytes are (``processing.sniff``), never
the name; the uploader's kind hint may only refine it; a file no pipeline reads is kept as
an inert original (staff-only, served as an attachment) and never processed; pictures are
re-encoded, so a payload riding behind one never reaches a public derivative (the test
checks every derivative for :data:`PAYLOAD`).

Expectations: a disallowed type ("refused") must end without a published derivative; a
file that really is an allowed type under a false name ("any") may be processed as what it
is.
"""

from __future__ import annotations

import io
import zipfile

from tests.hostile.forge import gif_frames, picture, png, png_chunk
from tests.hostile.model import Case

PAYLOAD = b"HOSTILE-PAYLOAD-7f3a"  # must never appear in a public derivative
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script>" + PAYLOAD + b"</body></html>\n"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">'
    b"<script>alert(1)</script><text>" + PAYLOAD + b"</text></svg>\n"
)
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n(" + PAYLOAD + b") print showpage\n"
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction<</S/JavaScript/JS(app.alert(1))>>>>"
    b"endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R"
    b"/MediaBox[0 0 8 8]>>endobj\ntrailer<</Root 1 0 R>>\n%" + PAYLOAD + b"\n%%EOF\n"
)
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + PAYLOAD
SHELL = b"#!/bin/sh\ncurl http://127.0.0.1/x | sh # " + PAYLOAD + b"\n"


def _zip(name: str = "readme.txt") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name, PAYLOAD)
    return out.getvalue()


def _png_with_text() -> bytes:
    """A real PNG carrying HTML in a tEXt chunk (re-encoding must drop it)."""
    raw = picture("PNG", (6, 6), "green")
    end = raw.rindex(b"IEND") - 4
    return raw[:end] + png_chunk(b"tEXt", b"Comment\x00" + HTML) + raw[end:]


def _jpeg_with_comment() -> bytes:
    raw = picture("JPEG", (6, 6), "navy")
    comment = b"<script>" + PAYLOAD + b"</script>"
    return raw[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + raw[2:]


def _case(name: str, filename: str, data: bytes, note: str, **extra: object) -> Case:
    return Case(2, name, filename, lambda _t: data, note=note, **extra)  # type: ignore[arg-type]


CASES = [
    _case("png-name-eps-bytes", "photo.png", EPS, "EPS (Ghostscript) named .png"),
    _case("png-name-html-bytes", "photo.png", HTML, "HTML named .png"),
    _case("png-name-svg-bytes", "photo.png", SVG, "SVG with script named .png"),
    _case("png-name-zip-bytes", "photo.png", _zip(), "ZIP named .png"),
    _case("png-name-elf-bytes", "photo.png", ELF, "an executable named .png"),
    _case("jpg-name-shell-bytes", "photo.jpg", SHELL, "a shell script named .jpg"),
    _case("image-hint-html-bytes", "page.html", HTML + b"<!--2-->", "HTML with kind image",
          kind="image"),
    _case("mesh-hint-html-bytes", "model.glb", HTML + b"<!--3-->", "HTML named .glb, kind mesh",
          kind="mesh"),
    _case("video-hint-svg-bytes", "clip.mp4", SVG + b"<!--4-->", "SVG named .mp4, kind video",
          kind="video"),
    _case("audio-hint-eps-bytes", "song.mp3", EPS + b"%5\n", "EPS named .mp3, kind audio",
          kind="audio"),
    _case("document-hint-zip-bytes", "scan.pdf", _zip("doc.txt"), "ZIP named .pdf, kind document",
          kind="document"),
    # Allowed types under a false name: processed as what the bytes are.
    _case("png-name-tiff-bytes", "photo.png", picture("TIFF", (5, 5)), "TIFF named .png",
          expect="any"),
    _case("png-name-pdf-bytes", "photo.png", PDF, "PDF with JavaScript named .png",
          expect="any"),
    _case("gifar", "avatar.gif", gif_frames(1, 2, 2) + _zip("META-INF/MANIFEST.MF"),
          "GIF with a JAR appended", expect="any"),
    _case("jpeg-plus-zip", "photo.jpg", picture("JPEG", (7, 7), "olive") + _zip("x.php"),
          "JPEG with a ZIP appended", expect="any"),
    _case("png-plus-html", "photo.png", picture("PNG", (7, 5), "teal") + HTML,
          "PNG with HTML after IEND", expect="any"),
    _case("png-text-chunk-html", "photo.png", _png_with_text(), "HTML in a PNG tEXt chunk",
          expect="any"),
    _case("jpeg-com-script-polyglot", "photo.jpg", _jpeg_with_comment(), "<script> in a JPEG COM",
          expect="any"),
    _case("png-hint-mesh", "model.glb", picture("PNG", (9, 3), "maroon"),
          "a PNG named .glb with kind mesh", kind="mesh", expect="any"),
    _case("png-hint-video", "clip.mp4", picture("PNG", (3, 9), "purple"),
          "a PNG named .mp4 with kind video", kind="video", expect="any"),
    _case("png-idat-html", "photo.png", png(1, 1, b"not zlib" + HTML),
          "IDAT full of HTML: libvips decodes it to a blank pixel", expect="any"),
]  # fmt: skip
