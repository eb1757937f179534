"""Hostile uploads at the door: sizes that lie or overflow (threat row 1) and file names
that try to climb out of the data dir (row 5, as an upload's metadata).

The museum's defence: ``Upload-Length`` is checked against MUSEUM_MAX_UPLOAD_SIZE and the
uploader's quota before a part file exists; a PATCH body is cut at the upload's length
(413, nothing of it kept); a name is reduced to its last component, NFC, without control
characters (``server.tus.clean_filename``) and is only ever used inside a fresh folder of
the data dir's ``tmp/``. Names may be stored as given (visible to staff, escaped): "any".
"""

from __future__ import annotations

from tests.hostile.forge import picture
from tests.hostile.live import MAX_UPLOAD
from tests.hostile.model import Case


def _tiny(number: int) -> bytes:
    """A small PNG that differs per case (cases must not share bytes)."""
    return picture("PNG", (4 + number, 3), color=f"#{(number * 40503) % 0xFFFFFF:06x}")


def _oversize(name: str, declared: int, body: bytes, note: str) -> Case:
    return Case(1, name, f"{name}.png", lambda _t: body, declared_length=declared, note=note)


ROW1 = [
    _oversize("oversize-max-plus-one", MAX_UPLOAD + 1, _tiny(1), "Upload-Length one byte over"),
    _oversize("oversize-int64-max", 2**63 - 1, _tiny(2), "Upload-Length 2^63-1"),
    _oversize("oversize-19-nines", 10**19 - 1, _tiny(3), "the largest 19-digit length"),
    _oversize("oversize-2-tib", 2 * 1024**4, _tiny(4), "2 TiB"),
    _oversize("lying-short-by-one", len(_tiny(5)) - 1, _tiny(5), "body one byte longer"),
    _oversize("lying-short-half", len(_tiny(6)) // 2, _tiny(6), "body twice the length"),
    _oversize("lying-zero-length", 0, _tiny(7), "Upload-Length 0 with a body"),
    _oversize("lying-long-max", MAX_UPLOAD, _tiny(8), "claims the limit, sends a few bytes"),
    _oversize("lying-long-double", 2 * len(_tiny(9)), _tiny(9), "never finished"),
    _oversize("lying-short-one-byte", 1, _tiny(10), "Upload-Length 1"),
    Case(
        1,
        "real-body-over-length",
        "big.bin",
        lambda _t: b"\0" * (2 * 1024 * 1024 + 11),
        declared_length=1024 * 1024,
        note="2 MiB sent to a 1 MiB upload: cut at the length",
    ),
]

# Names an attacker may send in the metadata. Each upload is a harmless picture: the case
# is about where the name could make the museum write or read.
HOSTILE_NAMES = {
    "name-dotdot": "../../x.png",
    "name-deep-dotdot": "../../../../../../../../tmp/escaped.png",
    "name-absolute": "/etc/passwd",
    "name-absolute-png": "/tmp/hostile-absolute.png",
    "name-backslash": "..\\..\\x.png",
    "name-drive": "C:\\Windows\\win.ini",
    "name-percent-encoded": "%2e%2e%2f%2e%2e%2fx.png",
    "name-double-encoded": "%252e%252e%252fx.png",
    "name-fullwidth": "\uff0e\uff0e\uff0f\uff0e\uff0e\uff0fx.png",
    "name-division-slash": "..\u2215..\u2215x.png",
    "name-nul": "x.png\x00.sh",
    "name-newline": "a\r\nContent-Type: text/html\r\n\r\nb.png",
    "name-rtl-override": "invoice\u202egnp.exe",
    "name-very-long": "x" * 5000 + ".png",
    "name-long-multibyte": "\u1ea1" * 400 + ".png",
    "name-dot-tail": "x/..",
    "name-dots-only": "....",
    "name-tilde": "~root/.ssh/authorized_keys",
    "name-device": "/dev/zero",
    "name-proc": "/proc/self/environ",
    "name-nfd": "Đa\u0300k La\u0302\u0301k.png",
    "name-html": "<img src=x onerror=alert(1)>.png",
}
ROW5 = [
    Case(5, name, filename, lambda _t, n=number: _tiny(20 + n), expect="any", note=filename[:40])
    for number, (name, filename) in enumerate(HOSTILE_NAMES.items())
]

CASES = ROW1 + ROW5
