"""tus 1.0.0 headers, parsed by pure functions into plain values (protocol only, no storage).

Every parser raises a :class:`server.errors.MuseumError` naming the bad header, with the
status the protocol asks for: 412 for another ``Tus-Resumable``, 400 for a malformed
value or an unsupported checksum algorithm, 415 for a PATCH that is not
``application/offset+octet-stream``. :mod:`server.uploads` only translates. See
https://tus.io/protocols/resumable-upload (core, creation, checksum, termination,
expiration).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from server.errors import N_, BadRequest, MuseumError

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,checksum,termination,expiration"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
# Algorithm name (as in Upload-Checksum) -> hashlib name. sha1 is the protocol's must.
CHECKSUM_ALGORITHMS = {"sha1": "sha1", "sha256": "sha256", "md5": "md5"}
MAX_METADATA_HEADER = 8192
MAX_METADATA_PAIRS = 32
MAX_FILENAME = 255
# Upload-Length and Upload-Offset are decimal digits; 19 of them fit in a signed 64-bit int.
_NUMBER_RE = re.compile(r"^[0-9]{1,19}$")
_KEY_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_RECORD_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# The "kind" hint accepted in metadata: what `museum process --kind` accepts.
UPLOAD_KINDS = ("mesh", "pointcloud", "image", "document", "video", "audio")


class PreconditionFailed(MuseumError):
    """The client speaks another tus version (the response lists ours in Tus-Version)."""

    status = 412
    code = "precondition_failed"


class UnsupportedMediaType(MuseumError):
    status = 415
    code = "unsupported_media_type"


class Gone(MuseumError):
    """The upload expired or was terminated: its bytes are no longer kept."""

    status = 410
    code = "gone"


class Locked(MuseumError):
    """Another request is writing to this upload right now; clients retry (tus-js-client does)."""

    status = 423
    code = "locked"


class ChecksumMismatch(MuseumError):
    """tus checksum extension: the bytes do not match their declared digest."""

    status = 460
    code = "checksum_mismatch"


@dataclass(frozen=True)
class Checksum:
    algorithm: str  # a key of CHECKSUM_ALGORITHMS
    digest: bytes

    def hasher(self) -> Any:
        return hashlib.new(CHECKSUM_ALGORITHMS[self.algorithm])


@dataclass(frozen=True)
class UploadMeta:
    """What the museum reads from Upload-Metadata."""

    filename: str
    sha256: str  # lower-case hex of the whole file, checked before it becomes an original
    record: str | None = None
    kind: str | None = None
    filetype: str = ""

    def as_dict(self) -> dict[str, str]:
        data = {"filename": self.filename, "sha256": self.sha256, "filetype": self.filetype}
        if self.record:
            data["record"] = self.record
        if self.kind:
            data["kind"] = self.kind
        return data


def check_version(value: str | None) -> None:
    """``Tus-Resumable`` must be exactly 1.0.0 (412 otherwise)."""
    if value != TUS_VERSION:
        raise PreconditionFailed(
            N_("This server speaks tus {version}; the request's Tus-Resumable is {value}."),
            parameter="Tus-Resumable",
            version=TUS_VERSION,
            value=value or "-",
        )


def parse_number(value: str | None, header: str) -> int:
    """A non-negative decimal header value (Upload-Length, Upload-Offset)."""
    if value is None:
        raise BadRequest(N_("The {header} header is missing."), parameter=header, header=header)
    if not _NUMBER_RE.match(value.strip()):
        raise BadRequest(
            N_("The {header} header must be a whole number of bytes, not {value!r}."),
            parameter=header,
            header=header,
            value=value[:40],
        )
    return int(value.strip())


def check_content_type(value: str | None) -> None:
    """A PATCH body must be ``application/offset+octet-stream`` (415 otherwise)."""
    media_type = (value or "").split(";", 1)[0].strip().lower()
    if media_type != OFFSET_CONTENT_TYPE:
        raise UnsupportedMediaType(
            N_("A PATCH must have Content-Type {expected}, not {value}."),
            parameter="Content-Type",
            expected=OFFSET_CONTENT_TYPE,
            value=media_type or "-",
        )


def _decode_base64(value: str, header: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(
            N_("The {header} header holds a value that is not Base64."),
            parameter=header,
            header=header,
        ) from exc


def parse_metadata(value: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64(value)`` pairs (the value may be
    absent). Keys are unique ASCII; values are UTF-8, returned NFC-normalised."""
    header = "Upload-Metadata"
    if value is None or not value.strip():
        return {}
    if len(value) > MAX_METADATA_HEADER:
        raise BadRequest(
            N_("The {header} header is longer than {limit} characters."),
            parameter=header,
            header=header,
            limit=MAX_METADATA_HEADER,
        )
    pairs = value.split(",")
    if len(pairs) > MAX_METADATA_PAIRS:
        raise BadRequest(
            N_("The {header} header has more than {limit} entries."),
            parameter=header,
            header=header,
            limit=MAX_METADATA_PAIRS,
        )
    result: dict[str, str] = {}
    for pair in pairs:
        parts = pair.strip().split(" ")
        key = parts[0]
        if len(parts) > 2 or not _KEY_RE.match(key) or key in result:
            raise BadRequest(
                N_("The {header} header has a malformed or repeated key {key!r}."),
                parameter=header,
                header=header,
                key=key[:64],
            )
        raw = _decode_base64(parts[1], header) if len(parts) == 2 else b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(
                N_("The metadata value of {key} is not UTF-8 text."), parameter=header, key=key
            ) from exc
        result[key] = unicodedata.normalize("NFC", text)
    return result


def parse_checksum(value: str | None) -> Checksum | None:
    """``Upload-Checksum: <algorithm> <base64 digest>``; 400 for an unknown algorithm."""
    header = "Upload-Checksum"
    if value is None:
        return None
    parts = value.strip().split(" ")
    if len(parts) != 2:
        raise BadRequest(
            N_("The {header} header must be an algorithm and a Base64 digest."),
            parameter=header,
            header=header,
        )
    algorithm = parts[0].lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise BadRequest(
            N_("The checksum algorithm {algorithm} is not supported; use one of {supported}."),
            parameter=header,
            algorithm=parts[0][:32],
            supported=", ".join(CHECKSUM_ALGORITHMS),
        )
    digest = _decode_base64(parts[1], header)
    if len(digest) != hashlib.new(CHECKSUM_ALGORITHMS[algorithm]).digest_size:
        raise BadRequest(
            N_("The {algorithm} digest in {header} has the wrong length."),
            parameter=header,
            algorithm=algorithm,
            header=header,
        )
    return Checksum(algorithm, digest)


def clean_filename(name: str) -> str:
    """The file's own name (no folders), NFC, without control characters."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    if not name or name in {".", ".."}:
        raise BadRequest(
            N_("The upload needs a file name (metadata filename)."), parameter="filename"
        )
    return name[:MAX_FILENAME]


def parse_upload_meta(metadata: Mapping[str, str]) -> UploadMeta:
    """The museum's required and optional metadata: filename and sha256 (required), record,
    kind and filetype (optional)."""
    filename = clean_filename(metadata.get("filename") or metadata.get("name") or "")
    sha256 = metadata.get("sha256", "").strip().lower()
    if not sha256:
        raise BadRequest(
            N_(
                "The upload needs the SHA-256 of the whole file (metadata sha256), "
                "so the museum can check it before keeping it."
            ),
            parameter="sha256",
        )
    if not _SHA256_RE.match(sha256):
        raise BadRequest(
            N_("The metadata sha256 must be 64 hexadecimal characters."), parameter="sha256"
        )
    record = metadata.get("record", "").strip() or None
    if record is not None and not _RECORD_RE.match(record):
        raise BadRequest(N_("The metadata record is not a record id."), parameter="record")
    kind = metadata.get("kind", "").strip().lower() or None
    if kind is not None and kind not in UPLOAD_KINDS:
        raise BadRequest(
            N_("The metadata kind must be one of {kinds}."),
            parameter="kind",
            kinds=", ".join(UPLOAD_KINDS),
        )
    filetype = metadata.get("filetype", "").strip()[:128]
    return UploadMeta(filename, sha256, record, kind, filetype)


def http_date(moment: datetime) -> str:
    """RFC 7231 IMF-fixdate of a naive UTC datetime (Upload-Expires)."""
    return format_datetime(moment.replace(tzinfo=UTC), usegmt=True)


def encode_metadata(metadata: Mapping[str, str]) -> str:
    """The inverse of :func:`parse_metadata` (clients and tests)."""
    return ",".join(
        f"{key} {base64.b64encode(value.encode('utf-8')).decode('ascii')}" if value else key
        for key, value in metadata.items()
    )
