"""Recognise what a file is from its bytes (and, for text formats, its name).

Never trusts the name alone for binary formats: a ``.png`` holding a TIFF is a TIFF.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import filetype

HEADER_BYTES = 8192

# Formats with no reliable magic number: text 3D formats, subtitles. Decided by
# name only when the bytes look like text.
TEXT_FORMATS = {
    ".obj": ("model/obj", "model"),
    ".mtl": ("model/mtl", "model"),
    ".gltf": ("model/gltf+json", "model"),
    ".vtt": ("text/vtt", "captions"),
    ".csv": ("text/csv", "data"),
}
MAGIC_FORMATS = {
    b"ply\n": ("model/x-ply", "model"),
    b"ply\r\n": ("model/x-ply", "model"),
    b"glTF": ("model/gltf-binary", "model"),
    b"solid": ("model/stl", "model"),
}
# Formats filetype does not know: BigTIFF (TIFF with 64-bit offsets, for scans over 4 GB)
# and a bare JPEG 2000 codestream (.j2k/.j2c, no JP2 box around it).
EXTRA_IMAGE_MAGIC = {
    b"II+\x00": "image/tiff",
    b"MM\x00+": "image/tiff",
    b"\xffO\xffQ": "image/x-jp2-codestream",
}
# JPEG 2000: filetype calls every JP2-family file image/jpx; the brand says which it is.
JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
JP2_BRANDS = {b"jp2 ": "image/jp2", b"jpx ": "image/jpx", b"jpm ": "image/jpm"}
BINARY_STL_SUFFIX = ".stl"
KIND_BY_TOP_LEVEL = {"image": "image", "video": "video", "audio": "audio"}
DOCUMENT_TYPES = {"application/pdf"}
ZIP_TYPE = "application/zip"


@dataclass(frozen=True)
class Sniffed:
    media_type: str
    kind: str  # image, video, audio, model, document, captions, data, other


def _looks_like_text(header: bytes) -> bool:
    if b"\x00" in header:
        return False
    try:
        header.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the header is still text.
        return exc.start >= len(header) - 3
    return True


def sniff_bytes(header: bytes, name: str) -> Sniffed:
    suffix = Path(name).suffix.lower()
    for magic, (media_type, kind) in MAGIC_FORMATS.items():
        if header.startswith(magic):
            return Sniffed(media_type, kind)
    for magic, media_type in EXTRA_IMAGE_MAGIC.items():
        if header.startswith(magic):
            return Sniffed(media_type, "image")
    if header.startswith(JP2_SIGNATURE) and header[20:24] in JP2_BRANDS:
        return Sniffed(JP2_BRANDS[header[20:24]], "image")
    guess = filetype.guess(header)
    if guess is not None:
        mime = str(guess.mime)
        if mime in DOCUMENT_TYPES:
            return Sniffed(mime, "document")
        return Sniffed(mime, KIND_BY_TOP_LEVEL.get(mime.split("/")[0], "other"))
    if suffix == BINARY_STL_SUFFIX and len(header) >= 84:
        return Sniffed("model/stl", "model")
    if suffix in TEXT_FORMATS and _looks_like_text(header):
        media_type, kind = TEXT_FORMATS[suffix]
        return Sniffed(media_type, kind)
    return Sniffed("application/octet-stream", "other")


def sniff_file(path: Path) -> Sniffed:
    with path.open("rb") as handle:
        found = sniff_bytes(handle.read(HEADER_BYTES), path.name)
    if found.media_type == ZIP_TYPE and _zip_holds_a_model(path):
        return Sniffed(ZIP_TYPE, "model")  # a scan's bundle: mesh, materials, textures
    return found


def _zip_holds_a_model(path: Path) -> bool:
    """Whether a ZIP's directory names a 3D file the pipeline can take as a bundle's model
    (nothing is extracted or decompressed; the 3D pipeline checks the bundle properly)."""
    from processing.threed.bundle import MODEL_SUFFIXES  # numpy and more: only for a ZIP

    try:
        with zipfile.ZipFile(path) as bundle:
            names = bundle.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return any(Path(name).suffix.lower() in MODEL_SUFFIXES for name in names[:10_000])
