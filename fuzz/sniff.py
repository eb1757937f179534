"""The file sniffer (processing/sniff.py: sniff_bytes), which decides which pipeline and
which decoder may see an upload.

Input: a file name length byte, the name, then the file's first bytes. Contract: always a
:class:`Sniffed` with a media type of the form ``type/subtype`` and one of the known
kinds; never an exception, whatever the bytes or the name.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["processing.sniff", "filetype"]):
    from processing.sniff import HEADER_BYTES, Sniffed, sniff_bytes

KINDS = {"image", "video", "audio", "model", "document", "captions", "data", "other"}


def test_one_input(data: bytes) -> None:
    if not data:
        return
    length = data[0] % 40
    name = data[1 : 1 + length].decode("utf-8", "replace")
    header = data[1 + length : 1 + length + HEADER_BYTES]
    found = sniff_bytes(header, name)
    assert isinstance(found, Sniffed), found
    kind, slash, sub = found.media_type.partition("/")
    assert kind and slash and sub, found
    assert found.kind in KINDS, found


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
