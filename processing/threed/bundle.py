"""The upload as a set of files: limits, safe references, ZIP bundles and folders.

A 3D upload is one file, a folder (an OBJ with its MTL and textures, a
``.gltf`` with its ``.bin`` and images) or a ZIP of such a folder. Everything
a model refers to must stay inside that upload: this module decides what a
reference may point at, unpacks ZIP bundles without trusting their headers,
and finds the one model file a bundle holds. Nothing here parses geometry.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
import zipfile
import zlib
from pathlib import Path

from processing.threed.model import Limits, ModelError

# The settings that configure each Limits field, named in every refusal so an
# operator knows what to raise.
LIMIT_SETTINGS = {
    "max_vertices": "MUSEUM_MODEL_MAX_VERTICES",
    "max_faces": "MUSEUM_MODEL_MAX_FACES",
    "max_points": "MUSEUM_MODEL_MAX_POINTS",
    "max_texture_pixels": "MUSEUM_MODEL_MAX_TEXTURE_PIXELS",
    "max_textures": "a fixed limit",
    "max_archive_entries": "MUSEUM_MODEL_MAX_ARCHIVE_ENTRIES",
    "max_archive_bytes": "MUSEUM_MODEL_MAX_ARCHIVE_BYTES",
    "max_data_uri_bytes": "a fixed limit",
    "max_input_bytes": "MUSEUM_MAX_UPLOAD_SIZE",
}
LIMIT_CODES = {
    "max_vertices": "too_many_vertices",
    "max_faces": "too_many_faces",
    "max_points": "too_many_points",
    "max_texture_pixels": "texture_too_large",
    "max_textures": "too_many_textures",
    "max_archive_entries": "too_many_archive_entries",
    "max_archive_bytes": "archive_too_large",
    "max_data_uri_bytes": "data_uri_too_large",
    "max_input_bytes": "input_too_large",
}

# File suffixes that can be the main model of a bundle.
MODEL_SUFFIXES = (
    ".obj",
    ".gltf",
    ".glb",
    ".ply",
    ".stl",
    ".xyz",
    ".pts",
    ".pcd",
    ".las",
    ".laz",
    ".e57",
    ".drc",
)
# Formats people do upload that the pipeline does not read, with their names.
UNSUPPORTED_SUFFIXES = {
    ".dae": "COLLADA (.dae)",
    ".fbx": "FBX (.fbx)",
    ".3ds": "3DS (.3ds)",
    ".blend": "Blender (.blend)",
    ".max": "3ds Max (.max)",
    ".ma": "Maya (.ma)",
    ".mb": "Maya (.mb)",
    ".c4d": "Cinema 4D (.c4d)",
    ".skp": "SketchUp (.skp)",
    ".usd": "USD (.usd)",
    ".usda": "USD (.usda)",
    ".usdc": "USD (.usdc)",
    ".usdz": "USDZ (.usdz)",
    ".3mf": "3MF (.3mf)",
    ".off": "OFF (.off)",
    ".x3d": "X3D (.x3d)",
    ".wrl": "VRML (.wrl)",
    ".vrml": "VRML (.vrml)",
    ".step": "STEP (.step)",
    ".stp": "STEP (.stp)",
    ".iges": "IGES (.iges)",
    ".igs": "IGES (.igs)",
    ".ifc": "IFC (.ifc)",
    ".ptx": "PTX (.ptx)",
    ".rcp": "ReCap (.rcp)",
    ".rcs": "ReCap (.rcs)",
}
EXPORT_HINT = "export OBJ, PLY, STL or glTF"

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_COPY_CHUNK = 1024 * 1024
_JUNK_DIRS = ("__MACOSX",)


def check_limit(limits: Limits, field: str, count: int, subject: str) -> None:
    """Refuse ``count`` above ``limits.<field>``; ``subject`` says what was counted."""
    limit = int(getattr(limits, field))
    if count > limit:
        raise ModelError(
            LIMIT_CODES[field],
            f"{subject}; the limit is {limit} ({LIMIT_SETTINGS[field]}).",
        )


def unsupported(name: str) -> ModelError:
    """The refusal for a format we recognise but do not read."""
    label = UNSUPPORTED_SUFFIXES.get(Path(name).suffix.lower(), f"'{Path(name).name}'")
    return ModelError("unsupported_format", f"{label} is not supported; {EXPORT_HINT}.")


def is_inside(root: Path, path: Path) -> bool:
    """Whether ``path``, with every symlink followed, lies inside ``root``."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def resolve_reference(
    root: Path, base: Path, reference: str, referrer: str, written: str | None = None
) -> Path:
    """Where ``reference`` (written in ``referrer``, a file in ``base``) points in the upload.

    Refuses (``unsafe_reference``) anything that could read outside the
    upload: URLs and other schemes, absolute paths, ``..`` climbing above the
    root, and symlinks whose target is outside it. The path may not exist;
    callers decide whether a missing file is fatal. ``written`` is the
    reference as the file spells it, when ``reference`` was decoded from it.
    """
    text = reference.strip().replace("\\", "/")

    def refuse(why: str) -> ModelError:
        return ModelError(
            "unsafe_reference",
            f"{referrer} refers to '{(written or reference).strip()}', {why}; "
            "only files inside the upload can be used.",
        )

    if "\x00" in text:
        raise refuse("which contains a NUL character")
    if _SCHEME.match(text):
        raise refuse(f"a URL or drive path ({text.split(':', 1)[0]}:)")
    if text.startswith("/"):
        raise refuse("an absolute path")
    try:
        relative_base = Path(os.path.relpath(base, root)).as_posix()
    except ValueError as exc:  # pragma: no cover - different drives on Windows
        raise refuse("outside the upload") from exc
    joined = posixpath.normpath(posixpath.join(relative_base, text))
    if joined == ".." or joined.startswith("../"):
        raise refuse("which climbs out of the upload with '..'")
    candidate = root / joined
    if not is_inside(root, candidate):
        raise refuse("a link to a file outside the upload")
    return candidate


def _entry_name(info: zipfile.ZipInfo) -> str:
    """The safe relative name of a ZIP entry, or a refusal saying what is wrong with it."""
    raw = info.filename
    name = raw.replace("\\", "/")

    def refuse(why: str) -> ModelError:
        return ModelError("unsafe_archive", f"The ZIP entry '{raw}' {why}; it was not extracted.")

    if info.flag_bits & 0x1:
        raise ModelError(
            "encrypted_archive",
            f"The ZIP entry '{raw}' is encrypted; upload a ZIP without a password.",
        )
    if "\x00" in name:
        raise refuse("contains a NUL character")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise refuse("has an absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise refuse("climbs out of the bundle with '..'")
    mode = info.external_attr >> 16
    file_type = stat.S_IFMT(mode)
    if file_type == stat.S_IFLNK:
        raise refuse("is a symbolic link")
    if mode and file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise refuse("is not a regular file")
    return "/".join(parts)


def _plan_extraction(archive: zipfile.ZipFile, limits: Limits) -> list[tuple[zipfile.ZipInfo, str]]:
    """Check every entry's name and the declared totals before writing anything."""
    infos = archive.infolist()
    check_limit(
        limits, "max_archive_entries", len(infos), f"The ZIP bundle has {len(infos)} entries"
    )
    seen: set[str] = set()
    declared = 0
    plan = []
    for info in infos:
        name = _entry_name(info)
        key = name.rstrip("/")
        if key and key in seen and not info.is_dir():
            raise ModelError(
                "unsafe_archive",
                f"The ZIP bundle holds the entry '{info.filename}' more than once.",
            )
        seen.add(key)
        declared += info.file_size
        if name and name.split("/")[0] not in _JUNK_DIRS:
            plan.append((info, name))
    check_limit(
        limits,
        "max_archive_bytes",
        declared,
        f"The ZIP bundle declares {declared} bytes once extracted",
    )
    return plan


# What reading a damaged archive or entry raises: zipfile's own errors, and the decompressors'
# (a corrupt deflate stream is a zlib.error, a truncated one an EOFError). Found by
# fuzz/zip_bundle; each case is a seed in fuzz/corpus/zip_bundle/.
_ENTRY_ERRORS = (
    zipfile.BadZipFile,
    OSError,
    RuntimeError,
    NotImplementedError,
    EOFError,
    ValueError,
    zlib.error,
)


def extract_zip(path: Path, dest: Path, limits: Limits) -> None:
    """Unpack a ZIP bundle into ``dest``, refusing anything unsafe.

    Names are checked before anything is written; the size limit is enforced
    on the bytes really written, since an entry's declared size can lie.
    """
    try:
        archive = zipfile.ZipFile(path)
    except _ENTRY_ERRORS as exc:  # e.g. a name flagged UTF-8 that is not, an unknown version
        raise ModelError("unreadable", f"The ZIP bundle could not be read: {exc}.") from exc
    dest.mkdir(parents=True, exist_ok=True)
    with archive:
        plan = _plan_extraction(archive, limits)
        written = 0
        for info, name in plan:
            target = dest / name
            try:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, target.open("xb") as out:
                    while chunk := source.read(_COPY_CHUNK):
                        written += len(chunk)
                        check_limit(
                            limits,
                            "max_archive_bytes",
                            written,
                            f"The ZIP bundle expands to more than {written} bytes",
                        )
                        out.write(chunk)
            except ModelError:
                raise
            except _ENTRY_ERRORS as exc:
                message = " ".join(str(exc).split())
                raise ModelError(
                    "unreadable",
                    f"The ZIP entry '{info.filename}' could not be extracted: {message}.",
                ) from exc


def _bundle_files(root: Path) -> list[Path]:
    """Every file of a folder, without following directory links or macOS debris."""
    found: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _JUNK_DIRS]
        found.extend(Path(folder) / name for name in names if not name.startswith("."))
    return sorted(found)


def check_folder(root: Path, limits: Limits) -> None:
    """Apply the archive limits to an unpacked folder upload (file count, total bytes)."""
    files = _bundle_files(root)
    check_limit(limits, "max_archive_entries", len(files), f"The folder has {len(files)} files")
    total = sum(path.stat().st_size for path in files if path.is_file())
    check_limit(limits, "max_input_bytes", total, f"The folder holds {total} bytes")


def find_main_file(root: Path) -> Path:
    """The one model file of a bundle; refuses none or several."""
    files = _bundle_files(root)
    models = [path for path in files if path.suffix.lower() in MODEL_SUFFIXES]
    names = [path.relative_to(root).as_posix() for path in models]
    if len(models) > 1:
        listed = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
        raise ModelError(
            "ambiguous_bundle",
            f"The upload holds {len(models)} model files ({listed}); upload one model per bundle.",
        )
    if not models:
        for path in files:
            if path.suffix.lower() in UNSUPPORTED_SUFFIXES:
                raise unsupported(path.name)
        listed = ", ".join(path.relative_to(root).as_posix() for path in files[:10])
        raise ModelError(
            "no_model_file",
            "The upload has no 3D model file (OBJ, PLY, STL, glTF/GLB, XYZ, PTS, PCD, "
            f"LAS/LAZ, E57); it contains: {listed or 'nothing'}.",
        )
    main = models[0]
    if not is_inside(root, main):
        raise ModelError(
            "unsafe_reference",
            f"The model file '{names[0]}' is a link to a file outside the upload.",
        )
    return main
