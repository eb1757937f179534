"""EXIF, IPTC and XMP: read into the report, stripped from public derivatives except rights.

libvips hands over the raw blocks (``exif-data``, ``iptc-data``, ``xmp-data``)
but only pre-formatted strings for EXIF fields, and it neither reads TIFF's
Artist/Copyright tags nor writes non-ASCII EXIF text (it transliterates
"Nguyễn" to "Nguyen"). So Pillow parses EXIF (and TIFF tags), a short
IIM parser reads IPTC, lxml reads XMP, and the rights travel in public
derivatives as an XMP packet (``dc:rights``, ``dc:creator``) that keeps
Vietnamese names intact. Everything else — camera, GPS position, dates,
editing history, thumbnails, ICC profile — is removed.
"""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pyvips
from lxml import etree
from PIL import ExifTags, Image, TiffImagePlugin

MAX_VALUE_CHARS = 1000
MAX_ENTRIES = 400
MAX_XMP_CHARS = 64_000
MAX_BLOB_BYTES = 4 * 1024 * 1024
# Header fields every libvips image has; anything else is metadata.
BASIC_FIELDS = frozenset(
    {
        "width",
        "height",
        "bands",
        "format",
        "coding",
        "interpretation",
        "xoffset",
        "yoffset",
        "xres",
        "yres",
        "filename",
    }
)
SKIPPED_EXIF_TAGS = {0x927C, 0x8769, 0x8825, 0xA005, 0x02BC, 0x83BB, 0x8773}  # blobs, pointers
TIFF_TAGS = {270: "ImageDescription", 271: "Make", 272: "Model", 305: "Software", 306: "DateTime"}
TIFF_TAGS |= {315: "Artist", 33432: "Copyright"}
IPTC_NAMES = {
    5: "ObjectName",
    25: "Keywords",
    40: "SpecialInstructions",
    55: "DateCreated",
    80: "By-line",
    85: "By-lineTitle",
    90: "City",
    95: "Province-State",
    101: "Country-PrimaryLocationName",
    105: "Headline",
    110: "Credit",
    115: "Source",
    116: "CopyrightNotice",
    120: "Caption-Abstract",
    122: "Writer-Editor",
}
PHOTOSHOP_SIGNATURE = b"Photoshop 3.0\x00"
PHOTOSHOP_IPTC_RESOURCE = 0x0404
NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
}


def read_metadata(image: pyvips.Image, path: Path, file_format: str) -> dict[str, Any]:
    """EXIF, IPTC, XMP and text chunks as JSON-safe, size-capped values, plus the rights."""
    exif = _read_exif(image)
    if file_format == "tiff":
        exif = {**_read_tiff_tags(path), **exif}
    iptc = _read_iptc(_blob(image, "iptc-data"))
    xmp_text = _text(_blob(image, "xmp-data"))
    text = {
        field.removeprefix("png-comment-"): _cap(str(image.get(field)))
        for field in sorted(image.get_fields())
        if field.startswith("png-comment-")
    }
    result: dict[str, Any] = {
        "exif": exif,
        "iptc": iptc,
        "xmp": xmp_text[:MAX_XMP_CHARS] if xmp_text else None,
        "rights": rights(exif, iptc, xmp_text),
    }
    if text:
        result["text"] = text
    if xmp_text and len(xmp_text) > MAX_XMP_CHARS:
        result["xmp_truncated"] = True
    return result


def rights(exif: dict[str, Any], iptc: dict[str, Any], xmp_text: str | None) -> dict[str, str]:
    """Copyright and creator, preferring XMP (Unicode), then EXIF, then IPTC."""
    xmp = _xmp_rights(xmp_text) if xmp_text else {}
    found = {
        "copyright": xmp.get("copyright")
        or _first(exif.get("Copyright"))
        or _first(iptc.get("CopyrightNotice")),
        "artist": xmp.get("artist") or _first(exif.get("Artist")) or _first(iptc.get("By-line")),
    }
    return {key: value.strip() for key, value in found.items() if value and value.strip()}


def rights_xmp(found: dict[str, str]) -> bytes | None:
    """A minimal XMP packet with ``dc:rights`` and ``dc:creator``, or None without rights."""
    if not found:
        return None
    parts = []
    if "copyright" in found:
        value = escape(found["copyright"])
        item = f'<rdf:li xml:lang="x-default">{value}</rdf:li>'
        parts.append(f"<dc:rights><rdf:Alt>{item}</rdf:Alt></dc:rights>")
    if "artist" in found:
        value = escape(found["artist"])
        parts.append(f"<dc:creator><rdf:Seq><rdf:li>{value}</rdf:li></rdf:Seq></dc:creator>")
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        f'<rdf:RDF xmlns:rdf="{NS["rdf"]}">'
        f'<rdf:Description rdf:about="" xmlns:dc="{NS["dc"]}">'
        + "".join(parts)
        + '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="r"?>'
    ).encode("utf-8")


def public_copy(image: pyvips.Image, xmp: bytes | None) -> pyvips.Image:
    """The image with every metadata field removed, then the rights packet (if any) set."""
    clean = image.copy()
    for field in clean.get_fields():
        if field not in BASIC_FIELDS:
            clean.remove(field)
    if xmp is not None:
        clean.set_type(pyvips.GValue.blob_type, "xmp-data", xmp)
    return clean


# EXIF and TIFF tags


def _read_exif(image: pyvips.Image) -> dict[str, Any]:
    blob = _blob(image, "exif-data")
    if not blob:
        return {}
    exif = Image.Exif()
    try:
        exif.load(blob)
        entries = _exif_entries(exif, ExifTags.TAGS)
        for ifd in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo):
            names = ExifTags.GPSTAGS if ifd == ExifTags.IFD.GPSInfo else ExifTags.TAGS
            entries.update(_exif_entries(exif.get_ifd(ifd), names))
    except (SyntaxError, ValueError, TypeError, KeyError, OSError, IndexError) as exc:
        return {"error": f"The EXIF block could not be parsed ({type(exc).__name__})."}
    return dict(sorted(entries.items())[:MAX_ENTRIES])


def _exif_entries(tags: Any, names: dict[int, str]) -> dict[str, Any]:
    return {
        names.get(tag, f"0x{tag:04X}"): _json_value(value)
        for tag, value in tags.items()
        if tag not in SKIPPED_EXIF_TAGS
    }


def _read_tiff_tags(path: Path) -> dict[str, Any]:
    """TIFF's own text tags, which libvips does not read (Pillow reads the first IFD only)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Tags only, no pixels: the bomb warning (ignored above) cannot cost memory here,
            # and a museum scan is often far larger than Pillow's default pixel limit.
            with Image.open(path, formats=["TIFF"]) as opened:
                tags = getattr(opened, "tag_v2", {})
                return {
                    name: _json_value(tags[tag]) for tag, name in TIFF_TAGS.items() if tag in tags
                }
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return {}


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.rstrip(b"\x00")
        try:
            return _cap(value.decode("utf-8"))
        except UnicodeDecodeError:
            return f"<{len(value)} bytes>"
    if isinstance(value, TiffImagePlugin.IFDRational | Fraction):
        return float(value) if value.denominator else None
    if isinstance(value, tuple | list):
        return [_json_value(item) for item in value[:64]]
    if isinstance(value, int | float | bool) or value is None:
        return value
    if isinstance(value, str):
        return _cap(_repair(value))
    return _cap(str(value))


def _repair(text: str) -> str:
    """UTF-8 in an EXIF "ASCII" field, which Pillow decodes as Latin-1, back to UTF-8.

    Cameras and editors commonly write UTF-8 there; genuine Latin-1 text is
    left alone (its high bytes are not valid UTF-8).
    """
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


# IPTC (IIM, possibly wrapped in a Photoshop resource block)


def _read_iptc(blob: bytes | None) -> dict[str, list[str]]:
    if not blob:
        return {}
    data = (
        _photoshop_resource(blob, PHOTOSHOP_IPTC_RESOURCE)
        if blob.startswith(PHOTOSHOP_SIGNATURE)
        else blob
    )
    entries: dict[str, list[str]] = {}
    position = 0
    while position + 5 <= len(data) and data[position] == 0x1C:
        record, dataset = data[position + 1], data[position + 2]
        length = int.from_bytes(data[position + 3 : position + 5], "big")
        position += 5
        if length & 0x8000:  # extended dataset: the next (length & 0x7FFF) bytes hold the length
            size = length & 0x7FFF
            length = int.from_bytes(data[position : position + size], "big")
            position += size
        value = data[position : position + length]
        position += length
        if record == 2 and dataset != 0 and len(entries) < MAX_ENTRIES:
            name = IPTC_NAMES.get(dataset, f"2:{dataset}")
            entries.setdefault(name, []).append(_cap(_decode(value)))
    return entries


def _photoshop_resource(blob: bytes, wanted: int) -> bytes:
    """One resource's data from a Photoshop "8BIM" image-resource block."""
    data = blob[len(PHOTOSHOP_SIGNATURE) :]
    position = 0
    while position + 12 <= len(data) and data[position : position + 4] == b"8BIM":
        resource = int.from_bytes(data[position + 4 : position + 6], "big")
        name_length = data[position + 6]
        position += 6 + ((name_length + 2) & ~1)  # Pascal name padded to even
        size = int.from_bytes(data[position : position + 4], "big")
        position += 4
        if resource == wanted:
            return data[position : position + size]
        position += size + (size & 1)
    return b""


# XMP


def _xmp_rights(text: str) -> dict[str, str]:
    """dc:rights and dc:creator from an XMP packet; entities and DTDs are never expanded."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError:
        return {}
    found = {}
    for key, element in (("copyright", "dc:rights"), ("artist", "dc:creator")):
        values = root.xpath(f"//{element}//rdf:li/text()", namespaces=NS)
        if values:
            found[key] = "; ".join(str(value).strip() for value in values if str(value).strip())
    return found


# Helpers


def _blob(image: pyvips.Image, field: str) -> bytes | None:
    if not image.get_typeof(field):
        return None
    value = image.get(field)
    return bytes(value[:MAX_BLOB_BYTES]) if isinstance(value, bytes | bytearray) else None


def _text(blob: bytes | None) -> str | None:
    if not blob:
        return None
    return _decode(blob.rstrip(b"\x00")).strip() or None


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _cap(text: str) -> str:
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None
