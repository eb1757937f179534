"""Small, valid seed files for the mutation cases, made at run time (nothing big in git).

Each seed is tiny on purpose: the pipelines then spend their time on the hostile part,
and the suite's ≥ 2,000 mutated uploads fit in CI. :func:`make_seeds` makes them once per
run; :func:`corpus_seeds` adds files from ``../shared/corpus`` when it is there.
"""

from __future__ import annotations

import io
import json
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

# Suffixes the suite takes from the corpus, and the kind hint each upload sends (None: the
# museum decides from the bytes).
CORPUS_SUFFIXES = {
    ".png": None,
    ".jpg": None,
    ".jpeg": None,
    ".tif": None,
    ".tiff": None,
    ".obj": "mesh",
    ".ply": "mesh",
    ".stl": "mesh",
    ".glb": "mesh",
    ".gltf": "mesh",
    ".mp4": None,
    ".mkv": None,
    ".webm": None,
    ".wav": None,
    ".mp3": None,
    ".zip": "mesh",
}
CORPUS_MAX_BYTES = 256 * 1024  # larger corpus files would make every mutation slow


@dataclass(frozen=True)
class Seed:
    """A valid file to mutate: its family (for the summary), name, bytes and kind hint."""

    family: str
    filename: str
    data: bytes
    kind: str | None = None


def _image(fmt: str, mode: str = "RGB", size: tuple[int, int] = (24, 16), **save: object) -> bytes:
    from PIL import Image, ImageDraw

    picture = Image.new(mode, size, "white" if mode != "1" else 1)
    draw = ImageDraw.Draw(picture)
    draw.rectangle((3, 3, size[0] - 5, size[1] - 4), fill="red" if mode == "RGB" else 0)
    draw.line((0, 0, size[0], size[1]), fill="blue" if mode == "RGB" else 0)
    out = io.BytesIO()
    picture.save(out, fmt, **save)
    return out.getvalue()


def _meshes() -> dict[str, bytes]:
    import trimesh

    box = trimesh.creation.box(extents=(0.1, 0.2, 0.3))
    ball = trimesh.creation.icosphere(subdivisions=1, radius=0.05)
    gltf = trimesh.Scene(box).export(file_type="gltf", embed_buffers=True)
    return {
        "obj": ball.export(file_type="obj").encode(),
        "ply": box.export(file_type="ply"),
        "ply-ascii": box.export(file_type="ply", encoding="ascii"),
        "stl": box.export(file_type="stl"),
        "stl-ascii": box.export(file_type="stl_ascii").encode(),
        "glb": box.export(file_type="glb"),
        "gltf": gltf["model.gltf"],
    }


def _bundle(obj: bytes, texture: bytes) -> bytes:
    out = io.BytesIO()
    mtl = b"newmtl skin\nKd 1 1 1\nmap_Kd skin.png\n"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("scan/model.obj", b"mtllib model.mtl\nusemtl skin\n" + obj)
        bundle.writestr("scan/model.mtl", mtl)
        bundle.writestr("scan/skin.png", texture)
    return out.getvalue()


def _ffmpeg(args: list[str], suffix: str) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"seed{suffix}"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", *args, "-y", str(out)],
            check=True,
            timeout=60,
        )
        return out.read_bytes()


def _media() -> dict[str, bytes]:
    video = ["-f", "lavfi", "-i", "testsrc=d=1:s=48x32:r=8"]
    tone = ["-f", "lavfi", "-i", "sine=d=1:f=440:sample_rate=8000"]
    return {
        "mp4": _ffmpeg(
            [*video, *tone, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-b:a", "16k", "-shortest"],
            ".mp4",
        ),
        "mkv": _ffmpeg([*video, "-c:v", "mpeg4", "-q:v", "10"], ".mkv"),
        "webm": _ffmpeg(
            [*video, *tone, "-c:v", "libvpx", "-b:v", "50k", "-c:a", "libopus", "-shortest"],
            ".webm",
        ),
        "wav": _ffmpeg([*tone, "-ac", "1"], ".wav"),
        "mp3": _ffmpeg([*tone, "-c:a", "libmp3lame", "-b:a", "16k"], ".mp3"),
    }  # fmt: skip


def make_seeds() -> list[Seed]:
    """One valid file per family the mutations start from."""
    png = _image("PNG")
    meshes = _meshes()
    media = _media()
    return [
        Seed("png", "seed.png", png),
        Seed("png", "seed-gray.png", _image("PNG", "L", (16, 16))),
        Seed("jpeg", "seed.jpg", _image("JPEG", quality=70)),
        Seed("jpeg", "seed-progressive.jpg", _image("JPEG", progressive=True, quality=60)),
        Seed("tiff", "seed.tif", _image("TIFF")),
        Seed("tiff", "seed-lzw.tif", _image("TIFF", compression="tiff_lzw")),
        Seed("obj", "seed.obj", meshes["obj"], "mesh"),
        Seed("ply", "seed.ply", meshes["ply"], "mesh"),
        Seed("ply", "seed-ascii.ply", meshes["ply-ascii"], "mesh"),
        Seed("stl", "seed.stl", meshes["stl"], "mesh"),
        Seed("stl", "seed-ascii.stl", meshes["stl-ascii"], "mesh"),
        Seed("glb", "seed.glb", meshes["glb"], "mesh"),
        Seed("gltf", "seed.gltf", meshes["gltf"], "mesh"),
        Seed("zip", "scan.zip", _bundle(meshes["obj"], png), "mesh"),
        Seed("mp4", "seed.mp4", media["mp4"]),
        Seed("mkv", "seed.mkv", media["mkv"]),
        Seed("webm", "seed.webm", media["webm"]),
        Seed("wav", "seed.wav", media["wav"]),
        Seed("mp3", "seed.mp3", media["mp3"]),
    ]


def corpus_seeds(corpus: Path, per_suffix: int = 2) -> list[Seed]:
    """Up to ``per_suffix`` small files of each suffix the suite mutates, from the corpus."""
    taken: dict[str, int] = {}
    seeds: list[Seed] = []
    for path in sorted(corpus.rglob("*")):
        suffix = path.suffix.lower()
        if suffix not in CORPUS_SUFFIXES or not path.is_file():
            continue
        if taken.get(suffix, 0) >= per_suffix or path.stat().st_size > CORPUS_MAX_BYTES:
            continue
        taken[suffix] = taken.get(suffix, 0) + 1
        family = "corpus-" + suffix.lstrip(".").replace("jpeg", "jpg").replace("tiff", "tif")
        seeds.append(Seed(family, path.name, path.read_bytes(), CORPUS_SUFFIXES[suffix]))
    return seeds


def seed_summary(seeds: list[Seed]) -> str:
    return json.dumps({s.filename: len(s.data) for s in seeds})
