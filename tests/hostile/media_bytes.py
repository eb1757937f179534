"""Small, valid media files the hostile media cases wrap their payloads in.

Each builder is cheap (Pillow, ``struct``, ``zipfile``; one cached ffmpeg run for the MP4),
so the suite can build every case on every run. The cases themselves live in
``cases_av.py``, ``cases_3d.py`` and ``cases_xml.py``.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import struct
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

# A string no real file holds: finding it in a public derivative means metadata leaked.
LEAK_MARK = "HOSTILE-LEAK-7f3a"
SCRIPT = f"<script>alert('{LEAK_MARK}')</script>"
FFMPEG = "/usr/bin/ffmpeg"


def jpeg(
    *, comment: bytes | None = None, exif: dict[int, str] | None = None, xmp: bytes | None = None
) -> bytes:
    """A 32×24 JPEG, optionally with a COM segment, EXIF text tags and an XMP packet."""
    buffer = io.BytesIO()
    image = Image.new("RGB", (32, 24), (200, 120, 40))
    options: dict[str, Any] = {"quality": 80}
    if comment is not None:
        options["comment"] = comment
    if exif:
        tags = Image.Exif()
        for tag, value in exif.items():
            tags[tag] = value
        options["exif"] = tags.tobytes()
    if xmp is not None:
        options["xmp"] = xmp
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def png(*, text: dict[str, str] | None = None, itxt: dict[str, str] | None = None) -> bytes:
    """A 32×24 PNG with optional tEXt and iTXt chunks."""
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    for key, value in (itxt or {}).items():
        info.add_itxt(key, value)
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (40, 120, 200)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def tiff(*, xmp: bytes | None = None, description: str | None = None) -> bytes:
    """A 32×24 TIFF with an optional XMP tag (700) and ImageDescription (270)."""
    buffer = io.BytesIO()
    tags: dict[int, Any] = {}
    if xmp is not None:
        tags[700] = xmp
    if description is not None:
        tags[270] = description
    Image.new("RGB", (32, 24), (90, 160, 60)).save(buffer, "TIFF", tiffinfo=tags)
    return buffer.getvalue()


def xmp_packet(body: str, doctype: str = "") -> bytes:
    """An XMP packet whose dc:rights holds ``body`` (raw XML), after an optional DOCTYPE."""
    return (
        f'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>{doctype}'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<dc:rights><rdf:Alt><rdf:li xml:lang="x-default">{body}</rdf:li></rdf:Alt></dc:rights>'
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="r"?>'
    ).encode()


def zip_of(files: dict[str, bytes], *, links: dict[str, str] | None = None) -> bytes:
    """A ZIP of ``files``; ``links`` adds symbolic-link entries (name → target)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16) | 0x20
            archive.writestr(info, target)
    return buffer.getvalue()


# --- 3D ------------------------------------------------------------------------------

OBJ_TRIANGLE = "v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\n"


def obj(header: str = "", faces: str = "f 1/1 2/2 3/3\n", usemtl: str = "") -> bytes:
    """One textured triangle after ``header`` (an ``mtllib`` line, say)."""
    material = f"usemtl {usemtl}\n" if usemtl else ""
    return (header + OBJ_TRIANGLE + material + faces).encode("utf-8")


def triangle_buffer() -> bytes:
    """Three float32 positions, then three uint16 indices (padded to 4 bytes)."""
    positions = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    return positions + struct.pack("<3H", 0, 1, 2) + b"\x00\x00"


def gltf_tree(buffer_uri: str | None = None, **extra: Any) -> dict[str, Any]:
    """A glTF 2.0 triangle; its buffer is ``buffer_uri`` (default: an embedded data: URI)."""
    data = triangle_buffer()
    uri = buffer_uri or "data:application/octet-stream;base64," + base64.b64encode(data).decode()
    tree: dict[str, Any] = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
        "buffers": [{"byteLength": len(data), "uri": uri}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": 36},
            {"buffer": 0, "byteOffset": 36, "byteLength": 6},
        ],
        "accessors": [
            {
                "bufferView": 0,
                "componentType": 5126,
                "count": 3,
                "type": "VEC3",
                "min": [0, 0, 0],
                "max": [1, 1, 0],
            },
            {"bufferView": 1, "componentType": 5123, "count": 3, "type": "SCALAR"},
        ],
    }
    tree.update(extra)
    return tree


def textured_gltf(image: dict[str, Any]) -> dict[str, Any]:
    """The triangle with UVs and a material whose base colour texture is ``image``."""
    tree = gltf_tree()
    uvs = struct.pack("<6f", 0, 0, 1, 0, 0, 1)
    data = triangle_buffer() + uvs
    tree["buffers"] = [
        {
            "byteLength": len(data),
            "uri": "data:application/octet-stream;base64," + base64.b64encode(data).decode(),
        }
    ]
    tree["bufferViews"].append({"buffer": 0, "byteOffset": 44, "byteLength": 24})
    tree["accessors"].append({"bufferView": 2, "componentType": 5126, "count": 3, "type": "VEC2"})
    tree["meshes"][0]["primitives"][0]["attributes"]["TEXCOORD_0"] = 2
    tree["meshes"][0]["primitives"][0]["material"] = 0
    tree["materials"] = [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}]
    tree["textures"] = [{"source": 0}]
    tree["images"] = [image]
    return tree


def gltf_json(tree: dict[str, Any]) -> bytes:
    return json.dumps(tree).encode("utf-8")


def glb(tree: dict[str, Any], binary: bytes = b"", *, json_length: int | None = None) -> bytes:
    """A GLB container; ``json_length`` overrides the JSON chunk's declared length."""
    text = json.dumps(tree).encode("utf-8")
    text += b" " * (-len(text) % 4)
    chunks = struct.pack("<I4s", len(text) if json_length is None else json_length, b"JSON") + text
    if binary:
        binary += b"\x00" * (-len(binary) % 4)
        chunks += struct.pack("<I4s", len(binary), b"BIN\x00") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks


def binary_stl(count: int, triangles: int) -> bytes:
    """A binary STL declaring ``count`` triangles and holding ``triangles``."""
    facet = struct.pack("<12fH", 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0)
    return b"\x00" * 80 + struct.pack("<I", count) + facet * triangles


# --- video ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def mp4(title: str = "", chapter: str = "", comment: str = "") -> bytes:
    """A 0.5 s 64×48 H.264 + AAC MP4 from ffmpeg's test sources, with metadata if given.

    Cached: each distinct set of metadata costs one short ffmpeg run per process.
    """
    with tempfile.TemporaryDirectory(prefix="hostile-mp4-") as folder:
        out = Path(folder) / "clip.mp4"
        argv = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error"]
        argv += ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=0.5"]
        argv += ["-f", "lavfi", "-i", "sine=frequency=440:duration=0.5"]
        if chapter:
            meta = Path(folder) / "meta.txt"
            meta.write_text(
                f";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=400\ntitle={chapter}\n",
                encoding="utf-8",
            )
            argv += ["-f", "ffmetadata", "-i", str(meta), "-map_chapters", "2"]
        argv += ["-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast"]
        argv += ["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k", "-shortest"]
        if title:
            argv += ["-metadata", f"title={title}"]
        if comment:
            argv += ["-metadata", f"comment={comment}"]
        subprocess.run([*argv, str(out)], check=True, capture_output=True, timeout=60)
        return out.read_bytes()


def boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[int, int, bytes]]:
    """The ISO-BMFF boxes in ``data[start:end]``: (offset, size, type)."""
    found = []
    end = len(data) if end is None else end
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start : start + 8])
        if size < 8:
            break
        found.append((start, size, kind))
        start += size
    return found


def mp4_with_dref(location: str) -> bytes:
    """The test MP4 whose video track says its samples live in an external file ``location``
    (a ``url `` data reference without the self-contained flag): ffmpeg must not follow it."""
    data = bytearray(mp4())
    path = [b"moov", b"trak", b"mdia", b"minf", b"dinf", b"dref"]
    chain: list[int] = []
    start, end = 0, len(data)
    for kind in path:
        found = [b for b in boxes(bytes(data), start, end) if b[2] == kind]
        if not found:
            raise ValueError(f"no {kind!r} box in the test MP4")
        offset, size, _ = found[0]
        chain.append(offset)
        start, end = offset + 8, offset + size
    dref = chain[-1]
    entries = dref + 16  # size, "dref", version/flags, entry count
    old_size = struct.unpack(">I", data[entries : entries + 4])[0]
    url = location.encode("utf-8") + b"\x00"
    entry = struct.pack(">I4sI", 12 + len(url), b"url ", 0) + url
    data[entries : entries + old_size] = entry
    grown = len(entry) - old_size
    for offset in chain:  # every enclosing box grows by the same amount
        size = struct.unpack(">I", data[offset : offset + 4])[0]
        data[offset : offset + 4] = struct.pack(">I", size + grown)
    return bytes(data)
