"""The museum's one piece of C: many JPEG tiles encoded side by side, a strip at a time.

``tilejpeg.c`` is compiled against the system's libjpeg (Debian's libjpeg62-turbo-dev)
into ``libtilejpeg.so`` beside it, by ``scripts/bootstrap.sh`` (``python -m
processing.images.native``) or on first use, and loaded with cffi. When it cannot be
built (no compiler, no libjpeg headers) :func:`library` returns None and the pipeline
writes the pyramid with libvips alone.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "tilejpeg.c"
LIBRARY = HERE / "libtilejpeg.so"
COMPILE_SECONDS = 120
DECLARATIONS = """
typedef struct tile tile;
tile *tile_new(void);
int tile_start(tile *t, int width, int height, int bands, int quality, int subsample);
int tile_write(tile *t, const unsigned char *pixels, ptrdiff_t stride, int rows, int present);
long tile_finish(tile *t);
const unsigned char *tile_data(tile *t);
const char *tile_error(tile *t);
void tile_free(tile *t);
int tiles_write(tile **tiles, int count, const unsigned char *pixels, ptrdiff_t stride,
                int rows, int tile_width, int last_present);
typedef struct reader reader;
reader *reader_new(void);
int reader_open(reader *r, const char *path, int denominator, int *width, int *height,
                int *bands, int *progressive);
int reader_read(reader *r, unsigned char *out, ptrdiff_t stride, int rows);
const char *reader_error(reader *r);
const char *reader_warnings(reader *r);
void reader_free(reader *r);
"""


def build(force: bool = False) -> Path | None:
    """Compile ``libtilejpeg.so`` when it is missing or older than its source; its path, or
    None when there is no compiler or no libjpeg."""
    if not force and LIBRARY.is_file() and LIBRARY.stat().st_mtime >= SOURCE.stat().st_mtime:
        return LIBRARY
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        log.warning("no C compiler: JPEG pyramids are written by libvips alone")
        return None
    with tempfile.TemporaryDirectory(dir=HERE) as scratch:
        built = Path(scratch) / LIBRARY.name
        argv = [compiler, "-O2", "-fPIC", "-shared", "-o", str(built), str(SOURCE), "-ljpeg"]
        try:
            subprocess.run(argv, check=True, capture_output=True, timeout=COMPILE_SECONDS)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            log.warning(
                "libtilejpeg could not be built (%s): JPEG pyramids are written by libvips "
                "alone. %s",
                exc,
                detail.decode("utf-8", "replace").strip()[-500:],
            )
            return None
        built.replace(LIBRARY)  # atomic: a reader sees the old file or the new one
    return LIBRARY


@functools.cache
def library() -> tuple[Any, Any] | None:
    """(ffi, lib) for ``libtilejpeg.so``, built if need be; None when it cannot be."""
    path = build()
    if path is None:
        return None
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(DECLARATIONS)
    try:
        return ffi, ffi.dlopen(str(path))
    except OSError as exc:
        log.warning("libtilejpeg could not be loaded (%s): libvips writes the pyramids", exc)
        return None
