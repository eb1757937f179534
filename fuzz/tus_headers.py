"""tus request headers (server/tus.py): Upload-Metadata, Upload-Checksum, the offsets.

Input: ``<header>:<value>`` where header is ``metadata``, ``checksum``, ``number`` or
``filename`` (anything else: metadata), the value as latin-1 text, as HTTP headers arrive.
Contract: a :class:`~server.errors.MuseumError` (400, 412, 415 answers) or a valid value:
metadata that encodes and parses back to itself and yields an UploadMeta or a 400, a
checksum of the algorithm's digest length, a number of at most 19 digits, a file name with no
folder and no control character.
"""

from __future__ import annotations

import sys
import unicodedata

import atheris

with atheris.instrument_imports(include=["server.tus"]):
    from server.errors import MuseumError
    from server.tus import (
        CHECKSUM_ALGORITHMS,
        MAX_FILENAME,
        clean_filename,
        encode_metadata,
        parse_checksum,
        parse_metadata,
        parse_number,
        parse_upload_meta,
    )


def _metadata(value: str) -> None:
    parsed = parse_metadata(value)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.items())
    assert parse_metadata(encode_metadata(parsed)) == parsed, parsed
    try:
        meta = parse_upload_meta(parsed)
    except MuseumError:
        return
    assert len(meta.sha256) == 64 and meta.filename, meta


def _checksum(value: str) -> None:
    checksum = parse_checksum(value)
    assert checksum is not None
    assert len(checksum.digest) == checksum.hasher().digest_size
    assert checksum.algorithm in CHECKSUM_ALGORITHMS


def _number(value: str) -> None:
    number = parse_number(value, "Upload-Offset")
    assert 0 <= number < 10**19, number  # at most 19 digits


def _filename(value: str) -> None:
    name = clean_filename(value)
    assert name and name not in {".", ".."} and len(name) <= MAX_FILENAME
    assert "/" not in name and "\\" not in name, name
    assert all(unicodedata.category(c)[0] != "C" for c in name), name


CHECKS = {"metadata": _metadata, "checksum": _checksum, "number": _number, "filename": _filename}


def test_one_input(data: bytes) -> None:
    text = data.decode("latin-1")
    kind, colon, value = text.partition(":")
    check = CHECKS.get(kind) if colon else None
    if check is None:
        check, value = _metadata, text
    try:
        check(value)
    except MuseumError:
        return


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
