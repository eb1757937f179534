"""Hostile uploads that are about the protocol, not the file: lengths and bodies that
overflow (threat row 1), storage exhaustion — quotas and the free-space reserve
(row 12) — and partial or unverified uploads (row 22). Each is a short scenario against the
live museum; its assertions are the promise (4xx, offset unchanged, no asset).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import update

from server.models import Upload, User, utcnow
from server.tus import encode_metadata
from tests.hostile.harness import OCTET, TUS, assets_with, upload_row
from tests.hostile.live import MIB, LiveMuseum


@dataclass
class Session:
    """A scenario's view of the museum: a signed-in client that records every status."""

    museum: LiveMuseum
    client: httpx.Client
    ballast: Path
    statuses: list[int] = field(default_factory=list)

    def create(
        self, data: bytes, length: int | None = None, sha: str | None = None
    ) -> httpx.Response:
        meta = {"filename": "protocol.bin", "sha256": sha or hashlib.sha256(data).hexdigest()}
        headers = {
            **TUS,
            "upload-length": str(len(data) if length is None else length),
            "upload-metadata": encode_metadata(meta),
        }
        return self._record(self.client.post("/uploads/", headers=headers))

    def url(self, data: bytes, **extra: object) -> str:
        response = self.create(data, **extra)  # type: ignore[arg-type]
        assert response.status_code == 201, response.text
        return str(response.headers["location"])

    def patch(self, url: str, offset: int, body: object, **headers: str) -> httpx.Response:
        sent = {**OCTET, "upload-offset": str(offset), **headers}
        return self._record(self.client.patch(url, content=body, headers=sent))  # type: ignore[arg-type]

    def offset(self, url: str) -> int:
        response = self._record(self.client.head(url, headers=TUS))
        return int(response.headers.get("upload-offset", -1))

    def _record(self, response: httpx.Response) -> httpx.Response:
        self.statuses.append(response.status_code)
        return response

    @contextmanager
    def full_disk(self, headroom: int) -> Iterator[None]:
        """Fill the disk (a fallocated ballast file outside the data dir) until only
        ``headroom`` bytes are left above the museum's free-space reserve."""
        free = shutil.disk_usage(self.ballast.parent).free
        size = free - self.museum.reserve - headroom
        assert size > 0, "the disk's free space fell below the run's reserve"
        with self.ballast.open("wb") as handle:
            os.posix_fallocate(handle.fileno(), 0, size)
        try:
            yield
        finally:
            self.ballast.unlink()

    def set_quota(self, username: str, quota: int) -> None:
        def apply(session):  # type: ignore[no-untyped-def]
            change = update(User).where(User.username == username).values(upload_quota=quota)
            session.execute(change)

        self.museum.db.call(apply, write=True)

    def expire(self, url: str) -> None:
        upload_id = url.rsplit("/", 1)[1]

        def apply(session):  # type: ignore[no-untyped-def]
            past = utcnow() - timedelta(seconds=1)
            session.execute(update(Upload).where(Upload.id == upload_id).values(expires_at=past))

        self.museum.db.call(apply, write=True)

    def no_asset(self, data: bytes) -> None:
        assert assets_with(self.museum, hashlib.sha256(data).hexdigest()) == 0

    def part_exists(self, url: str) -> bool:
        return (self.museum.data / "uploads" / f"{url.rsplit('/', 1)[1]}.part").exists()


@dataclass(frozen=True)
class Scenario:
    row: int
    name: str
    run: Callable[[Session], None]
    note: str = ""


QUOTA_USER = "hostile-quota"


def payload(size: int) -> bytes:
    """Random bytes (unique per call; no pipeline reads them, so no job is queued)."""
    return secrets.token_bytes(size)


def digest(algorithm: str, data: bytes) -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


# Row 1: bodies and headers that overflow ---------------------------------------------


def chunked_over_length(s: Session) -> None:
    data = payload(4096)
    url = s.url(data)

    def body() -> Iterator[bytes]:
        for _ in range(64):
            yield data  # 256 kB without a Content-Length, to a 4 kB upload

    assert s.patch(url, 0, body()).status_code == 413
    assert s.offset(url) == 0
    s.no_asset(data)


def content_length_over(s: Session) -> None:
    data = payload(1000)
    url = s.url(data)
    assert s.patch(url, 0, data + b"x").status_code == 413
    assert s.offset(url) == 0


def metadata_flood(s: Session) -> None:
    meta = encode_metadata({f"k{n}": "v" * 200 for n in range(60)})
    headers = {**TUS, "upload-length": "10", "upload-metadata": meta}
    assert s._record(s.client.post("/uploads/", headers=headers)).status_code == 400


def length_not_a_number(s: Session) -> None:
    for value in ("-1", "1e9", "0x10", "99999999999999999999", "5.0", "+5", ""):
        headers = {
            **TUS,
            "upload-length": value,
            "upload-metadata": encode_metadata({"filename": "x", "sha256": "0" * 64}),
        }
        assert s._record(s.client.post("/uploads/", headers=headers)).status_code in (400, 413)


ROW1 = [
    Scenario(1, "chunked-body-over-length", chunked_over_length, "no Content-Length, 64x over"),
    Scenario(1, "content-length-over", content_length_over, "Content-Length past the end"),
    Scenario(1, "metadata-header-flood", metadata_flood, "12 kB of Upload-Metadata"),
    Scenario(1, "length-not-a-number", length_not_a_number, "-1, 1e9, 0x10, 20 digits…"),
]


# Row 12: storage exhaustion -------------------------------------------------------------


def reserve_refuses_creation(s: Session) -> None:
    data = payload(MIB)
    with s.full_disk(headroom=MIB // 2):
        assert s.create(data).status_code == 507
    assert s.create(data).status_code == 201  # space freed: accepted again, no restart


def reserve_counts_both_copies(s: Session) -> None:
    data = payload(MIB)
    with s.full_disk(headroom=3 * MIB // 2):  # the part file fits, part + original do not
        assert s.create(data).status_code == 507


def reserve_refuses_patch_then_resumes(s: Session) -> None:
    data = payload(MIB)
    url = s.url(data)
    with s.full_disk(headroom=MIB // 2):
        assert s.patch(url, 0, data).status_code == 507
        assert s.offset(url) == 0
    assert s.patch(url, 0, data).status_code == 204  # resumes once space is back
    assert assets_with(s.museum, hashlib.sha256(data).hexdigest()) == 1


def reserve_big_refused_small_passes(s: Session) -> None:
    with s.full_disk(headroom=100 * MIB):
        assert s.create(payload(16), length=60 * MIB).status_code == 507
        data = payload(2048)
        url = s.url(data)
        assert s.patch(url, 0, data).status_code == 204


def quota(limit: int) -> Callable[[Callable[[Session], None]], Callable[[Session], None]]:
    """Run the scenario as a user of its own whose quota is ``limit`` bytes."""

    def wrap(scenario: Callable[[Session], None]) -> Callable[[Session], None]:
        username = f"{QUOTA_USER}-{scenario.__name__}"

        def run(s: Session) -> None:
            with s.museum.client(username, "editor") as client:
                inner = Session(s.museum, client, s.ballast, s.statuses)
                inner.set_quota(username, limit)
                scenario(inner)

        return run

    return wrap


@quota(10_000)
def quota_minus_one(s: Session) -> None:
    first = payload(9_999)
    url = s.url(first)
    assert s.create(payload(2)).status_code == 413
    assert s.patch(url, 0, first).status_code == 204
    assert s.create(payload(2)).status_code == 413  # finished uploads still count


@quota(10_000)
def quota_counts_unfinished(s: Session) -> None:
    s.url(payload(6_000))
    assert s.create(payload(6_000)).status_code == 413


@quota(10_000)
def quota_freed_by_cancel(s: Session) -> None:
    url = s.url(payload(6_000))
    assert s.create(payload(6_000)).status_code == 413
    assert s._record(s.client.delete(url, headers=TUS)).status_code == 204
    assert not s.part_exists(url)
    assert s.create(payload(6_000)).status_code == 201


@quota(10_000)
def quota_freed_by_expiry(s: Session) -> None:
    url = s.url(payload(6_000))
    s.expire(url)
    assert s.create(payload(6_000)).status_code == 201
    assert s.offset(url) == -1 and s.statuses[-1] == 410
    assert not s.part_exists(url)  # swept


@quota(10_000)
def quota_flood(s: Session) -> None:
    for _ in range(50):
        assert s.create(payload(200)).status_code == 201
    assert s.create(payload(1)).status_code == 413


@quota(10_000)
def quota_lying_length(s: Session) -> None:
    assert s.create(payload(10), length=10_001).status_code == 413  # the claim counts


ROW12 = [
    Scenario(12, "reserve-refuses-creation", reserve_refuses_creation, "507, then 201 once freed"),
    Scenario(12, "reserve-counts-both-copies", reserve_counts_both_copies, "part + original"),
    Scenario(12, "reserve-refuses-patch", reserve_refuses_patch_then_resumes, "507 mid-upload"),
    Scenario(12, "reserve-big-refused", reserve_big_refused_small_passes, "60 MiB vs 100 MiB"),
    Scenario(12, "quota-minus-one", quota_minus_one, "at quota-1, 2 more bytes"),
    Scenario(12, "quota-counts-unfinished", quota_counts_unfinished, "open uploads count"),
    Scenario(12, "quota-freed-by-cancel", quota_freed_by_cancel, "DELETE frees"),
    Scenario(12, "quota-freed-by-expiry", quota_freed_by_expiry, "expiry frees"),
    Scenario(12, "quota-flood", quota_flood, "50 open uploads, then 413"),
    Scenario(12, "quota-lying-length", quota_lying_length, "Upload-Length counts"),
]


# Row 22: partial or unverified uploads -------------------------------------------------


def wrong_chunk_checksum(algorithm: str) -> Callable[[Session], None]:
    def run(s: Session) -> None:
        data = payload(3000)
        url = s.url(data)
        wrong = digest(algorithm, data[:-1] + b"!")
        assert s.patch(url, 0, data, **{"upload-checksum": wrong}).status_code == 460
        assert s.offset(url) == 0
        s.no_asset(data)

    return run


def bad_checksum_header(header: str) -> Callable[[Session], None]:
    def run(s: Session) -> None:
        data = payload(100)
        url = s.url(data)
        assert s.patch(url, 0, data, **{"upload-checksum": header}).status_code == 400
        assert s.offset(url) == 0

    return run


def whole_file_mismatch(s: Session) -> None:
    data = payload(5000)
    other = payload(5000)
    url = s.url(data, sha=hashlib.sha256(other).hexdigest())
    assert s.patch(url, 0, data, **{"upload-checksum": digest("sha256", data)}).status_code == 460
    s.no_asset(data)
    assert not s.part_exists(url)
    assert upload_row(s.museum, url.rsplit("/", 1)[1]).state == "failed"  # type: ignore[union-attr]


def flipped_in_transit(s: Session) -> None:
    data = payload(5000)
    url = s.url(data)
    damaged = bytearray(data)
    damaged[2500] ^= 0x01
    assert s.patch(url, 0, bytes(damaged)).status_code == 460
    s.no_asset(data)
    s.no_asset(bytes(damaged))


def abort_at_99(s: Session) -> None:
    data = payload(10_000)
    url = s.url(data)
    assert s.patch(url, 0, data[:9_900]).status_code == 204
    assert s.offset(url) == 9_900
    s.no_asset(data)
    assert s._record(s.client.delete(url, headers=TUS)).status_code == 204
    assert not s.part_exists(url)
    s.no_asset(data)


def disconnect_mid_body(s: Session) -> None:
    data = payload(200_000)
    url = s.url(data)
    request = (
        f"PATCH {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(data)}\r\n"
        f"Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Upload-Offset: 0\r\nCookie: {s.client.headers['cookie']}\r\n"
        f"X-CSRF-Token: {s.client.headers['x-csrf-token']}\r\n"
        f"Origin: {s.client.headers['origin']}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", s.museum.port), timeout=10) as raw:
        raw.sendall(request + data[:100_000])
    held = s.offset(url)
    assert 0 <= held <= 100_000
    s.no_asset(data)


def expired_then_finished(s: Session) -> None:
    data = payload(4000)
    url = s.url(data)
    assert s.patch(url, 0, data[:2000]).status_code == 204
    s.expire(url)
    assert s.patch(url, 2000, data[2000:]).status_code == 410
    s.no_asset(data)


def wrong_offset(s: Session) -> None:
    data = payload(4000)
    url = s.url(data)
    assert s.patch(url, 100, data[100:]).status_code == 409
    assert s.offset(url) == 0
    s.no_asset(data)


def replayed_last_chunk(s: Session) -> None:
    data = payload(4000)
    url = s.url(data)
    assert s.patch(url, 0, data[:3000]).status_code == 204
    assert s.patch(url, 3000, data[3000:]).status_code == 204
    assert s.patch(url, 3000, data[3000:]).status_code in (204, 409, 410)
    assert assets_with(s.museum, hashlib.sha256(data).hexdigest()) == 1


def patch_after_cancel(s: Session) -> None:
    data = payload(4000)
    url = s.url(data)
    assert s._record(s.client.delete(url, headers=TUS)).status_code == 204
    assert s.patch(url, 0, data).status_code in (404, 410)
    s.no_asset(data)


def bad_last_chunk_then_good(s: Session) -> None:
    data = payload(6000)
    url = s.url(data)
    assert (
        s.patch(url, 0, data[:3000], **{"upload-checksum": digest("sha1", data[:3000])}).status_code
        == 204
    )
    bad = digest("sha1", data[3000:] + b"x")
    assert s.patch(url, 3000, data[3000:], **{"upload-checksum": bad}).status_code == 460
    s.no_asset(data)
    good = digest("sha1", data[3000:])
    assert s.patch(url, 3000, data[3000:], **{"upload-checksum": good}).status_code == 204
    assert assets_with(s.museum, hashlib.sha256(data).hexdigest()) == 1


ROW22 = [
    Scenario(22, "chunk-checksum-sha1-wrong", wrong_chunk_checksum("sha1"), "460, offset kept"),
    Scenario(22, "chunk-checksum-sha256-wrong", wrong_chunk_checksum("sha256")),
    Scenario(22, "chunk-checksum-md5-wrong", wrong_chunk_checksum("md5")),
    Scenario(22, "checksum-unknown-algorithm", bad_checksum_header("crc32 AAAAAA==")),
    Scenario(22, "checksum-not-base64", bad_checksum_header("sha1 !!!not-base64!!!")),
    Scenario(22, "whole-file-sha-mismatch", whole_file_mismatch, "right chunks, wrong file"),
    Scenario(22, "byte-flipped-in-transit", flipped_in_transit, "one bit changed"),
    Scenario(22, "abort-at-99-percent", abort_at_99, "then cancelled"),
    Scenario(22, "disconnect-mid-body", disconnect_mid_body, "socket closed half-way"),
    Scenario(22, "expired-then-finished", expired_then_finished, "410"),
    Scenario(22, "wrong-offset", wrong_offset, "409"),
    Scenario(22, "replayed-last-chunk", replayed_last_chunk, "one asset only"),
    Scenario(22, "patch-after-cancel", patch_after_cancel, "410"),
    Scenario(22, "bad-last-chunk-then-good", bad_last_chunk_then_good, "460, then resumes"),
]

SCENARIOS = ROW1 + ROW12 + ROW22
