"""Recognising originals by their bytes, not their names."""

from __future__ import annotations

from pathlib import Path

import pytest

from processing.sniff import sniff_bytes, sniff_file
from tests.conftest import CORPUS

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
TIFF = b"II*\x00" + b"\x00" * 32
PDF = b"%PDF-1.7\n" + b"\x00" * 32


@pytest.mark.parametrize(
    ("header", "name", "media_type", "kind"),
    [
        (PNG, "photo.png", "image/png", "image"),
        (JPEG, "photo.jpg", "image/jpeg", "image"),
        (TIFF, "photo.png", "image/tiff", "image"),  # the name lies; the bytes win
        (b"II+\x00\x08\x00\x00\x00" + b"\x00" * 32, "scan.tif", "image/tiff", "image"),  # BigTIFF
        (b"MM\x00+\x00\x08\x00\x00" + b"\x00" * 32, "scan.tif", "image/tiff", "image"),
        (b"\xffO\xffQ\x00\x2f" + b"\x00" * 32, "scan.j2k", "image/x-jp2-codestream", "image"),
        (PDF, "scan.pdf", "application/pdf", "document"),
        (b"ply\nformat binary_little_endian 1.0\n", "scan.ply", "model/x-ply", "model"),
        (b"glTF\x02\x00\x00\x00", "model.glb", "model/gltf-binary", "model"),
        (b"v 0 0 0\nv 1 0 0\nf 1 2 3\n", "mesh.obj", "model/obj", "model"),
        (
            "WEBVTT\n\n00:00.000 --> 00:01.000\nCồng chiêng\n".encode(),
            "captions.vtt",
            "text/vtt",
            "captions",
        ),
        (b"\x00\x01binary junk", "mesh.obj", "application/octet-stream", "other"),
        (b"plain text", "notes.txt", "application/octet-stream", "other"),
        (b"", "empty.jpg", "application/octet-stream", "other"),
    ],
)
def test_sniff_bytes(header: bytes, name: str, media_type: str, kind: str) -> None:
    sniffed = sniff_bytes(header, name)
    assert (sniffed.media_type, sniffed.kind) == (media_type, kind)


def test_text_cut_mid_character_is_still_text() -> None:
    header = ("v 0 0 0 # Cồng" * 10).encode()[:-1]
    assert sniff_bytes(header, "mesh.obj").kind == "model"


CORPUS_CASES = [
    ("images/large/tetons_4000x3000.jpg", "image/jpeg", "image"),
    ("images/iiif/67352ccc-d1b0-11e1-89ae-279075081939.png", "image/png", "image"),
    ("images/large/loris_gray_2477x3200.jp2", "image/jp2", "image"),
    ("images/edge_cases/hopper_lzw.tif", "image/tiff", "image"),
    ("images/edge_cases/hopper_bigtiff.tif", "image/tiff", "image"),
    ("images/edge_cases/relax.jp2", "image/x-jp2-codestream", "image"),
    ("av/mdn/flower.mp4", "video/mp4", "video"),
    ("av/mdn/flower.webm", "video/webm", "video"),
    ("3d/heritage/gargoyle_3dhop.ply", "model/x-ply", "model"),
    ("3d/gltf/Duck.glb", "model/gltf-binary", "model"),
    ("3d/photogrammetry_obj_esp32rig/texturedMesh.obj", "model/obj", "model"),
]


@pytest.mark.corpus
@pytest.mark.parametrize(("relative", "media_type", "kind"), CORPUS_CASES)
def test_sniff_corpus_files(relative: str, media_type: str, kind: str) -> None:
    path = CORPUS / relative
    if not path.is_file():
        pytest.skip(f"corpus file absent ({path}); the corpus ships beside the project in CI only")
    sniffed = sniff_file(path)
    assert (sniffed.media_type, sniffed.kind) == (media_type, kind)


def test_sniff_file_reads_only_the_header(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(JPEG + b"\x00" * 5_000_000)
    assert sniff_file(path).kind == "image"


def test_a_zip_naming_a_3d_file_is_a_scan_bundle(tmp_path: Path) -> None:
    import zipfile

    from processing.sniff import sniff_file

    scan = tmp_path / "scan.zip"
    with zipfile.ZipFile(scan, "w") as bundle:
        bundle.writestr("gong/Mesh.OBJ", "v 0 0 0\n")
        bundle.writestr("gong/texture.jpg", b"\xff\xd8\xff")
    assert (sniff_file(scan).media_type, sniff_file(scan).kind) == ("application/zip", "model")
    photos = tmp_path / "photos.zip"
    with zipfile.ZipFile(photos, "w") as bundle:
        bundle.writestr("a.jpg", b"\xff\xd8\xff")
    assert sniff_file(photos).kind == "other"
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 60)
    assert sniff_file(broken).kind == "other"
