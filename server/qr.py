"""QR codes for printed labels and kiosks: a record's public address as an SVG."""

from __future__ import annotations

import io

import segno

QR_ERROR_LEVEL = "m"  # survives a scuffed label in a display case
QR_SCALE = 4
QR_BORDER = 2


def qr_svg(url: str) -> bytes:
    """An SVG QR code of ``url``, dark on white, with a title for screen readers."""
    code = segno.make(url, error=QR_ERROR_LEVEL, micro=False)
    out = io.BytesIO()
    code.save(
        out, kind="svg", scale=QR_SCALE, border=QR_BORDER, title=url, xmldecl=False, svgns=True
    )
    return out.getvalue()
