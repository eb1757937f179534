"""Let nginx send a file the app has decided to serve (``X-Accel-Redirect``).

The app makes every access decision (``/media`` derivatives: :mod:`server.media_access`;
``/originals`` downloads: :mod:`server.media_rights`); copying the bytes through Python
afterwards costs a worker's time for every HLS segment and tile bundle. With
``MUSEUM_ACCEL_REDIRECT=/_museum_files/`` a whole-file answer becomes an empty one carrying
the headers the app chose (content type, disposition, cache policy) and
``X-Accel-Redirect: /_museum_files/derivatives/<asset>/<version>/<file>``; nginx's
``internal`` location for that prefix (deploy/nginx/museum.conf) sends the file, with
ranges, and never lets a client ask for the prefix itself.

Only files under ``derivatives/`` and ``originals/`` of the data directory are handed over,
and only when their path (after resolving links) is plain: letters, digits, ``._-`` and no
segment that starts with a dot. Anything else is sent by the app as before, so a name
nginx would have to unescape, or a link out of the store, never becomes a location.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.responses import FileResponse, Response

from server.settings import Settings

ACCEL_HEADER = "x-accel-redirect"
HANDED_OVER = ("derivatives", "originals")  # the data directory's folders nginx may send
_PLAIN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")
_DROPPED = {b"content-length"}  # nginx sets its own for the file it sends


def accel_location(prefix: str, root: Path, file: Path) -> str | None:
    """``prefix`` + the file's path under ``root`` — for a plain path in a handed-over
    folder; ``None`` when handing over is off or the file does not qualify."""
    if not prefix:
        return None
    base = root.resolve()
    target = file.resolve()
    if base not in target.parents:
        return None
    relative = target.relative_to(base).as_posix()
    if not _PLAIN.fullmatch(relative) or relative.split("/", 1)[0] not in HANDED_OVER:
        return None
    return prefix + relative


def hand_over(response: Response, location: str) -> Response:
    """``response``'s status and headers with an empty body and ``X-Accel-Redirect``."""
    answer = Response(status_code=response.status_code, background=response.background)
    answer.raw_headers = [
        (name, value) for name, value in response.raw_headers if name not in _DROPPED
    ]
    answer.raw_headers += [
        (b"content-length", b"0"),
        (ACCEL_HEADER.encode(), location.encode("ascii")),
    ]
    return answer


def via_proxy(response: Response, settings: Settings, root: Path) -> Response:
    """A whole file of the data directory ``root``, handed to nginx when
    ``MUSEUM_ACCEL_REDIRECT`` is set; any other response unchanged."""
    if not isinstance(response, FileResponse) or response.status_code != 200:
        return response
    location = accel_location(settings.accel_redirect, root, Path(response.path))
    return response if location is None else hand_over(response, location)
