"""The bait of a hostile run and the witnesses that watch it.

* :class:`Canary` — a secret file outside the data dir, watched with inotify from this
  process: any open or read of it by the server, the worker or a sandboxed child (through a
  symlink too: inotify watches the inode) is counted.
* :class:`TrapListener` — a TCP socket on 127.0.0.1 that counts the connections it accepts
  (an SSRF, an ffmpeg ``http://`` input, an XML external entity, …).
* :func:`snapshot` — every path under the run's root, so the run can show it created nothing
  outside the data dir and left no scratch dir behind.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from inotify_simple import INotify, flags

from tests.hostile.model import Traps


class Canary:
    """A file holding a random token; counts every IN_OPEN/IN_ACCESS on it."""

    def __init__(self, root: Path) -> None:
        self.token = "canary-" + secrets.token_hex(16)
        folder = root / f"canary-{secrets.token_hex(4)}"
        folder.mkdir()
        self.path = folder / "secret"
        self.path.write_text(self.token + "\n", encoding="utf-8")
        self.events: list[str] = []
        self._inotify = INotify()
        self._inotify.add_watch(str(self.path), flags.OPEN | flags.ACCESS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="canary", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            for event in self._inotify.read(timeout=200):
                names = "|".join(str(f.name) for f in flags.from_mask(event.mask))
                self.events.append(names)

    @property
    def opens(self) -> int:
        return len(self.events)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._inotify.close()


class TrapListener:
    """A listening socket that accepts, counts and closes every connection."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self._socket.settimeout(0.2)
        self.host, self.port = self._socket.getsockname()
        self.hits = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="trap", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.hits += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()


@dataclass
class Bait:
    """The canary and the trap of one run, and the :class:`Traps` cases see."""

    canary: Canary
    trap: TrapListener
    traps: Traps = field(init=False)

    def __post_init__(self) -> None:
        self.traps = Traps(
            canary_path=str(self.canary.path),
            trap_url=f"http://{self.trap.host}:{self.trap.port}/trap",
            trap_host=self.trap.host,
            trap_port=self.trap.port,
        )

    def close(self) -> None:
        self.canary.close()
        self.trap.close()


def snapshot(root: Path) -> set[str]:
    """Every path under ``root`` (relative, symlinks not followed)."""
    found: set[str] = set()
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            found.add(os.path.relpath(os.path.join(folder, name), root))
    return found


def outside(paths: set[str], *inside: str) -> set[str]:
    """The paths that are not ``inside`` one of the given top-level folders."""
    return {p for p in paths if not any(p == top or p.startswith(top + os.sep) for top in inside)}
