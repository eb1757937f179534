"""What one hostile case is, shared by the case generators and the harness.

A case is a file a hostile uploader sends: the name it claims, the bytes, and what the museum
must do with it. The bytes are built at run time from the :class:`Traps` of the run, so a case
can point at the planted canary file or the listening trap socket (those differ per run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

# What the museum must do with the file:
#   "refused"  — the upload is refused (4xx) or its job ends rejected/failed; never an asset
#                with published derivatives.
#   "any"      — processing may succeed (e.g. an external reference simply dropped) or refuse;
#                either way no trap is touched, nothing escapes the data dir, the job ends in time.
Expect = Literal["refused", "any"]


@dataclass(frozen=True)
class Traps:
    """Per-run bait. Touching any of it is a failure of the whole suite."""

    canary_path: str  # absolute path of a secret file outside the data dir (must never be opened)
    trap_url: str  # http://127.0.0.1:PORT/… of a listening socket (must never be connected to)
    trap_host: str  # "127.0.0.1"
    trap_port: int


@dataclass(frozen=True)
class Case:
    """One hostile upload.

    ``row`` is the threat row of SECURITY-RESEARCH.md §2 the case belongs to (1–12, 22).
    ``name`` is unique across the suite (kebab-case, used as the test id).
    ``filename`` is the name the uploader claims in Upload-Metadata (it may itself be hostile).
    ``build(traps)`` returns the file's bytes; keep it cheap (the suite builds hundreds).
    ``kind`` is the optional "kind" hint an uploader may send ("mesh", "pointcloud", "image",
    "document", "audio", "video"); None sends none.
    ``declared_length`` overrides the Upload-Length the client announces (None: the real length),
    for oversize/lying-length cases.
    """

    row: int
    name: str
    filename: str
    build: Callable[[Traps], bytes]
    expect: Expect = "refused"
    kind: str | None = None
    declared_length: int | None = None
    note: str = field(default="", compare=False)
