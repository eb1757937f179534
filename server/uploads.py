"""tus 1.0.0 resumable uploads at ``/uploads/`` (creation, checksum, termination, expiration).

Headers are parsed by :mod:`server.tus`; the catalog side is :mod:`server.upload_service`,
the bytes :mod:`server.upload_files`, the last step :mod:`server.upload_ingest`. Here:
the endpoints, and one PATCH at a time per upload — an in-process registry (a new PATCH
stops a stalled one, as tusd's lock does, so a client reconnecting after a network drop
is not locked out), a ``flock`` on the part file across processes, and an offset UPDATE
guarded by the offset it expects.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from server.audit import Actor
from server.auth import current_user
from server.errors import N_, Conflict, MuseumError, PayloadTooLarge, disk_full_error
from server.handlers import handle_museum_error
from server.models import Upload, utcnow
from server.state import Museum, get_museum
from server.tus import (
    CHECKSUM_ALGORITHMS,
    TUS_EXTENSIONS,
    TUS_VERSION,
    Checksum,
    ChecksumMismatch,
    Locked,
    PreconditionFailed,
    check_content_type,
    check_version,
    http_date,
    parse_checksum,
    parse_metadata,
    parse_number,
    parse_upload_meta,
)
from server.upload_files import PartFiles, PartWriter, new_upload_id
from server.upload_ingest import complete_upload
from server.upload_service import (
    Owner,
    advance,
    any_expired,
    check_disk,
    check_open,
    create_upload,
    get_upload,
    status_of,
    sweep,
    terminate,
)

log = logging.getLogger(__name__)

WRITE_SIZE = 1024 * 1024  # bytes gathered from the socket before one write to the file
PERSIST_EVERY = 16 * 1024 * 1024  # a long PATCH records its progress this often
LOCK_WAIT = 5.0  # seconds a PATCH waits for an earlier one on the same upload to stop
NO_STORE = {"cache-control": "no-store"}

Endpoint = Callable[[Request], Awaitable[Response]]


def tus_endpoint(endpoint: Endpoint) -> Endpoint:
    """Every answer, errors too, carries ``Tus-Resumable`` (and a 412 our ``Tus-Version``)."""

    @wraps(endpoint)
    async def wrapped(request: Request) -> Response:
        try:
            try:
                response = await endpoint(request)
            except OSError as exc:  # the disk filled up while receiving: 507, not 500
                if (full := disk_full_error(exc)) is None:
                    raise
                log.error("disk full while receiving %s: %s", request.url.path, exc)
                raise full from exc
        except MuseumError as exc:
            response = await handle_museum_error(request, exc)
            if isinstance(exc, PreconditionFailed):
                response.headers["tus-version"] = TUS_VERSION
        response.headers["tus-resumable"] = TUS_VERSION
        return response

    return wrapped


def _files(museum: Museum) -> PartFiles:
    return PartFiles(museum.store)


def _owner(request: Request) -> Owner:
    user = current_user(request)
    assert user is not None  # the route's rule needs a signed-in user
    return Owner(user.id, user.role)


def _gettext(request: Request) -> Any:
    museum = get_museum(request)
    return museum.translations(getattr(request.state, "lang", museum.settings.language)).gettext


async def _load(request: Request, upload_id: str, check: bool = True) -> Upload:
    """The upload the requester may reach (404 otherwise); with ``check``, 410 when gone."""
    museum = get_museum(request)
    owner = _owner(request)
    upload = await museum.db.run(lambda s: get_upload(s, upload_id[:64], owner))
    if check:
        check_open(upload, utcnow())
    return upload


def _upload_headers(upload: Upload) -> dict[str, str]:
    return {
        "upload-offset": str(upload.offset),
        "upload-length": str(upload.length),
        "upload-expires": http_date(upload.expires_at),
        **NO_STORE,
    }


# One writer per upload in this process ------------------------------------------


@dataclass
class _Active:
    done: anyio.Event = field(default_factory=anyio.Event)
    scope: anyio.CancelScope | None = None  # set while the body is being read


_ACTIVE: dict[str, _Active] = {}


@asynccontextmanager
async def exclusive(upload_id: str) -> AsyncIterator[_Active]:
    """Hold ``upload_id`` for one request. An earlier PATCH still reading a body (its client
    probably gone) is stopped — it keeps what it durably received — rather than making the
    reconnecting client wait; one busy for longer than :data:`LOCK_WAIT` gives 423."""
    with anyio.move_on_after(LOCK_WAIT):
        while (current := _ACTIVE.get(upload_id)) is not None:
            if current.scope is not None:
                current.scope.cancel()
            await current.done.wait()
    if upload_id in _ACTIVE:
        raise Locked(N_("This upload is receiving bytes in another request; retry shortly."))
    entry = _Active()
    _ACTIVE[upload_id] = entry
    try:
        yield entry
    finally:
        entry.done.set()
        if _ACTIVE.get(upload_id) is entry:
            del _ACTIVE[upload_id]


# Endpoints -----------------------------------------------------------------------


@tus_endpoint
async def options(request: Request) -> Response:
    """``OPTIONS /uploads/``: what this server supports."""
    settings = get_museum(request).settings
    return Response(
        status_code=204,
        headers={
            "tus-version": TUS_VERSION,
            "tus-extension": TUS_EXTENSIONS,
            "tus-max-size": str(settings.max_upload_size),
            "tus-checksum-algorithm": ",".join(CHECKSUM_ALGORITHMS),
        },
    )


@tus_endpoint
async def create(request: Request) -> Response:
    """``POST /uploads/`` (creation): Upload-Length and metadata filename + sha256."""
    museum = get_museum(request)
    settings = museum.settings
    check_version(request.headers.get("tus-resumable"))
    length = parse_number(request.headers.get("upload-length"), "Upload-Length")
    if length > settings.max_upload_size:
        raise PayloadTooLarge(
            N_("The file is larger than the limit of {limit} bytes."),
            parameter="Upload-Length",
            limit=settings.max_upload_size,
        )
    meta = parse_upload_meta(parse_metadata(request.headers.get("upload-metadata")))
    files = _files(museum)
    if await museum.db.run(any_expired):  # the write lock only when there is work
        await museum.db.run(lambda s: sweep(s, files), write=True)
    # The part file and, at the end, the original: twice the length while both exist.
    await anyio.to_thread.run_sync(check_disk, settings, files, 2 * length)
    upload_id = new_upload_id()
    actor = Actor.from_request(request)
    owner = _owner(request)
    await anyio.to_thread.run_sync(files.create, upload_id)
    upload = None
    try:
        upload = await museum.db.run(
            lambda s: create_upload(s, settings, actor, owner, upload_id, length, meta),
            write=True,
        )
    finally:
        if upload is None:  # refused (quota, record): no file without its row
            files.remove(upload_id)
    location = request.url_for("upload_head", upload_id=upload_id).path
    return Response(
        status_code=201,
        headers={"location": location, "upload-expires": http_date(upload.expires_at)},
    )


@tus_endpoint
async def head(request: Request) -> Response:
    """``HEAD /uploads/{id}``: the bytes the server holds (Upload-Offset)."""
    upload = await _load(request, request.path_params["upload_id"], check=False)
    check_version(request.headers.get("tus-resumable"))
    check_open(upload, utcnow())
    return Response(status_code=200, headers=_upload_headers(upload))


@tus_endpoint
async def status(request: Request) -> Response:
    """``GET /uploads/{id}/status``: state, bytes, asset and job, for the uploader page."""
    museum = get_museum(request)
    upload = await _load(request, request.path_params["upload_id"], check=False)
    gettext = _gettext(request)
    data = await museum.db.run(lambda s: status_of(s, upload, gettext))
    return JSONResponse(data, headers=NO_STORE)


@tus_endpoint
async def delete(request: Request) -> Response:
    """``DELETE /uploads/{id}`` (termination): the bytes go, the row stays as terminated."""
    museum = get_museum(request)
    upload = await _load(request, request.path_params["upload_id"], check=False)
    check_version(request.headers.get("tus-resumable"))
    if upload.state not in ("receiving", "failed"):
        check_open(upload, utcnow())
        raise Conflict(
            N_("Upload {id} is already complete and cannot be cancelled."),
            parameter="upload_id",
            id=upload.id,
        )
    files = _files(museum)
    actor = Actor.from_request(request)
    async with exclusive(upload.id):
        await museum.db.run(lambda s: terminate(s, upload.id, actor), write=True)
        await anyio.to_thread.run_sync(files.remove, upload.id)
    return Response(status_code=204)


@tus_endpoint
async def patch(request: Request) -> Response:
    """``PATCH /uploads/{id}``: append the body at Upload-Offset."""
    museum = get_museum(request)
    upload = await _load(request, request.path_params["upload_id"], check=False)  # 404 first
    check_version(request.headers.get("tus-resumable"))
    check_content_type(request.headers.get("content-type"))
    offset = parse_number(request.headers.get("upload-offset"), "Upload-Offset")
    checksum = parse_checksum(request.headers.get("upload-checksum"))
    check_open(upload, utcnow())
    _check_offset(upload, offset)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and offset + int(declared) > upload.length:
        raise _too_long(upload)
    async with exclusive(upload.id) as active:
        upload = await _load(request, upload.id)  # an earlier PATCH may have just recorded more
        _check_offset(upload, offset)
        files = _files(museum)
        if upload.offset == upload.length:  # nothing to add (a repeated last PATCH)
            if upload.state == "verifying":  # its completion stopped with a killed server
                upload = await _finish_stranded(request, museum, files, upload)
            return Response(status_code=204, headers=_upload_headers(upload))
        await anyio.to_thread.run_sync(
            check_disk, museum.settings, files, 2 * upload.length - offset
        )
        writer = await anyio.to_thread.run_sync(files.open_writer, upload.id, offset)
        try:
            upload = await _receive(request, museum, files, upload, writer, checksum, active)
            if upload.state == "verifying":
                await _complete(request, museum, files, upload)
                upload = await _load(request, upload.id, check=False)
        finally:
            await anyio.to_thread.run_sync(writer.close)
    return Response(status_code=204, headers=_upload_headers(upload))


def _check_offset(upload: Upload, offset: int) -> None:
    if offset != upload.offset:
        raise Conflict(
            N_("Upload-Offset is {sent}, but the server holds {held} bytes; resume from there."),
            parameter="Upload-Offset",
            sent=offset,
            held=upload.offset,
        )


def _too_long(upload: Upload) -> PayloadTooLarge:
    return PayloadTooLarge(
        N_("The body goes beyond the upload's length of {length} bytes; nothing was kept."),
        parameter="Upload-Length",
        length=upload.length,
    )


@dataclass
class _Body:
    """What one PATCH has read so far."""

    received: int = 0
    overflow: bool = False
    complete: bool = False  # the client sent the whole body
    buffer: bytearray = field(default_factory=bytearray)


async def _read_body(
    request: Request, limit: int, target: PartWriter, body: _Body, on_write: Any
) -> None:
    """Copy the request body to ``target`` in :data:`WRITE_SIZE` writes, at most ``limit``
    bytes; stops early (keeping what was read) when the client goes away."""
    try:
        async for chunk in request.stream():
            body.received += len(chunk)
            if body.received > limit:
                body.overflow = True
                return
            body.buffer += chunk
            if len(body.buffer) >= WRITE_SIZE:
                data, body.buffer = bytes(body.buffer), bytearray()
                await anyio.to_thread.run_sync(target.write, data)
                await on_write()
        body.complete = True
    except ClientDisconnect:
        return


async def _receive(
    request: Request,
    museum: Museum,
    files: PartFiles,
    upload: Upload,
    writer: PartWriter,
    checksum: Checksum | None,
    active: _Active,
) -> Upload:
    """Read the PATCH body into the part file (or, with a checksum, a side file verified
    first), make it durable, then record the new offset. Returns the updated row."""
    start = upload.offset
    limit = upload.length - start
    actor = Actor.from_request(request)
    settings = museum.settings
    body = _Body()
    side: PartWriter | None = None
    if checksum is not None:
        side_path = files.side_path(upload.id)
        side = PartWriter(side_path.open("w+b"))
    target = side or writer
    recorded = start

    async def persist_partial() -> None:
        # Long PATCHes without a checksum record progress as they go: a kill loses little.
        nonlocal recorded
        if side is None and writer.size - recorded >= PERSIST_EVERY:
            size = await anyio.to_thread.run_sync(writer.sync)
            state = await museum.db.run(
                lambda s: advance(s, settings, upload.id, recorded, size, None), write=True
            )
            if state is None:
                raise Conflict(N_("The upload changed while it was receiving bytes; resume it."))
            recorded = size

    try:
        with anyio.CancelScope() as scope:
            active.scope = scope
            await _read_body(request, limit, target, body, persist_partial)
        active.scope = None
        if body.buffer and not body.overflow:
            await anyio.to_thread.run_sync(target.write, bytes(body.buffer))
        if body.overflow:
            await anyio.to_thread.run_sync(writer.truncate, recorded)
            raise _too_long(upload)
        if side is not None:
            if not body.complete:  # a partial chunk cannot be verified: keep nothing
                return upload
            assert checksum is not None
            await anyio.to_thread.run_sync(side.handle.flush)
            if not await anyio.to_thread.run_sync(writer.append_verified, side_path, checksum):
                raise ChecksumMismatch(
                    N_(
                        "The chunk does not match its Upload-Checksum ({algorithm}); "
                        "it was discarded. Send it again."
                    ),
                    parameter="Upload-Checksum",
                    algorithm=checksum.algorithm,
                )
        size = await anyio.to_thread.run_sync(writer.sync)
    finally:
        if side is not None:
            side.close()
            files.side_path(upload.id).unlink(missing_ok=True)
    if size == recorded:
        return upload if recorded == start else await _load(request, upload.id, check=False)

    # The last bytes' request is audited by its outcome (upload.complete or upload.fail).
    audited = actor if size < upload.length else None

    def record(session: Session) -> Upload | None:
        if advance(session, settings, upload.id, recorded, size, audited) is None:
            return None
        return session.get(Upload, upload.id)

    updated = await museum.db.run(record, write=True)
    if updated is None:
        raise Conflict(N_("The upload changed while it was receiving bytes; resume it."))
    return updated


async def _complete(request: Request, museum: Museum, files: PartFiles, upload: Upload) -> None:
    """The last byte arrived: verify and ingest (in a thread; the request waits for it)."""
    actor = Actor.from_request(request)
    await anyio.to_thread.run_sync(complete_upload, museum.jobs, files, upload.id, actor)


async def _finish_stranded(
    request: Request, museum: Museum, files: PartFiles, upload: Upload
) -> Upload:
    """Verify and store an upload whose last bytes were recorded but whose completion never
    ended (a server killed meanwhile): the client's repeated last PATCH resumes it, holding
    the part file's lock (423 if another process is completing it right now)."""
    writer = await anyio.to_thread.run_sync(files.open_writer, upload.id, upload.length)
    try:
        await _complete(request, museum, files, upload)
    finally:
        await anyio.to_thread.run_sync(writer.close)
    return await _load(request, upload.id, check=False)


def sha256_hex(data: bytes) -> str:
    """The digest the uploader sends in its metadata (for clients and tests)."""
    return hashlib.sha256(data).hexdigest()
