"""Path traversal against the public and staff file routes (threat row 5, as HTTP requests).

Each request target is sent byte for byte on a raw socket (an HTTP client would normalise
the dots away). The targets aim at the run's canary file, which lies two folders above the
media root (``<root>/data/derivatives`` → ``<root>/canary-…/secret``), at ``/etc/passwd``,
and at a symlink the test plants inside the media root. Pass: 400 or 404, and no body holds
the canary's token or a line of ``/etc/passwd``.
"""

from __future__ import annotations

import socket
from pathlib import Path

FULLWIDTH_DOTS = "%EF%BC%8E%EF%BC%8E"  # "．．" in UTF-8
OVERLONG_DOTS = "%c0%ae%c0%ae"
PLANTED = "planted-link"  # a symlink to the canary's folder, made inside the media root


def targets(canary: Path) -> list[str]:
    """Request targets for every route that serves files, with every encoding of ``..``."""
    folder, name = canary.parent.name, canary.name
    up = f"../../{folder}/{name}"
    absolute = str(canary)
    paths = {
        "raw": up,
        "slash-encoded": up.replace("/", "%2f"),
        "slash-encoded-upper": up.replace("/", "%2F"),
        "dots-encoded": up.replace("..", "%2e%2e"),
        "double-encoded": up.replace("..", "%252e%252e").replace("/", "%252f"),
        "backslash": up.replace("/", "\\"),
        "backslash-encoded": up.replace("/", "%5c"),
        "overlong-utf8": up.replace("..", OVERLONG_DOTS),
        "fullwidth": up.replace("..", FULLWIDTH_DOTS),
        "nul": f"{up}%00.png",
        "absolute": absolute,
        "absolute-encoded": absolute.replace("/", "%2f"),
        "dot-segments": f"./././../.././{folder}/{name}",
        "planted-symlink": f"{PLANTED}/{name}",
        "etc-passwd": "../../../../../../../../etc/passwd",
        "etc-passwd-encoded": "..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    }
    prefixes = {
        "media": "/media/",
        "static": "/static/viewer/",
        "iiif": "/iiif/3/",
        "iiif-info": "/iiif/3/{p}/info.json",
        "iiif-region": "/iiif/3/{p}/full/max/0/default.jpg",
        "originals": "/originals/",
        "api-media": "/api/v1/media/",
    }
    found = []
    for route, prefix in prefixes.items():
        for name_, path in paths.items():
            found.append(
                f"{route}:{name_}:" + (prefix.format(p=path) if "{p}" in prefix else prefix + path)
            )
    found.append("root:etc-passwd://etc/passwd")
    found.append("root:dotdot:/../../../../etc/passwd")
    return found


def raw_get(port: int, target: str, cookie: str = "") -> tuple[int, bytes]:
    """``GET target`` exactly as written; returns (status, body)."""
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if cookie:
        request += f"Cookie: {cookie}\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request.encode("latin-1") + b"\r\n")
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body
