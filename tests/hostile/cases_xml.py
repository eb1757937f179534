"""Hostile cases for delegates (threat row 7: formats ImageMagick or Ghostscript would
handle), XML entities (row 10: XXE, billion laughs, external DTDs) and active content in
images and documents (row 11).

The museum's defence: no ImageMagick or Ghostscript is called (libvips loaders are an
allow-list, ``processing/images/probe.py``; Pillow in the 3D readers decodes plain image
formats only); no pipeline reads COLLADA, 3MF, X3D or SVG; the one XML the pipelines parse
(XMP packets in images) goes through lxml with entities, DTDs and the network off; public
image derivatives are re-encoded without the source's metadata.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.hostile.media_bytes import LEAK_MARK, SCRIPT, jpeg, png, tiff, xmp_packet, zip_of
from tests.hostile.model import Case, Expect, Traps

Build = Callable[[Traps], bytes]


def _case(
    row: int,
    name: str,
    filename: str,
    build: Build,
    note: str,
    *,
    expect: Expect = "refused",
    kind: str | None = None,
) -> Case:
    return Case(row, name, filename, build, expect=expect, kind=kind, note=note)


def _laughs(root: str, levels: int = 10) -> str:
    """The billion-laughs DTD: 10 entities each ten times the one before."""
    lines = ['<!ENTITY lol0 "lollollollollollollollollollol">']
    for level in range(1, levels):
        refs = f"&lol{level - 1};" * 10
        lines.append(f'<!ENTITY lol{level} "{refs}">')
    return f"<!DOCTYPE {root} [\n" + "\n".join(lines) + "\n]>\n"


def _quadratic(root: str) -> tuple[str, str]:
    """One 50 kB entity referenced 50,000 times: 2.5 GB once expanded."""
    return f'<!DOCTYPE {root} [<!ENTITY a "{"a" * 50_000}">]>\n', "&a;" * 50_000


def _system(root: str, url: str) -> str:
    return f'<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "{url}">]>\n'


def _dae(doctype: str, body: str = "&xxe;") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        + doctype
        + '<COLLADA xmlns="http://www.collada.org/2005/11/COLLADASchema" version="1.4.1">'
        + f"<asset><title>{body}</title></asset></COLLADA>\n"
    ).encode()


def _model_3mf(doctype: str, body: str = "&xxe;") -> bytes:
    model = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + doctype
        + '<model unit="millimeter" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">'
        + f'<metadata name="Title">{body}</metadata><resources><object id="1" type="model">'
        + '<mesh><vertices><vertex x="0" y="0" z="0"/><vertex x="1" y="0" z="0"/>'
        + '<vertex x="0" y="1" z="0"/></vertices><triangles><triangle v1="0" v2="1" v3="2"/>'
        + '</triangles></mesh></object></resources><build><item objectid="1"/></build></model>'
    )
    return zip_of(
        {
            "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.'
            b'openxmlformats.org/package/2006/content-types"><Default Extension="model" '
            b'ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/></Types>',
            "_rels/.rels": b'<?xml version="1.0"?><Relationships xmlns="http://schemas.'
            b'openxmlformats.org/package/2006/relationships"><Relationship Target='
            b'"/3D/3dmodel.model" Id="rel0" Type="http://schemas.microsoft.com/3dmanufacturing/'
            b'2013/01/3dmodel"/></Relationships>',
            "3D/3dmodel.model": model.encode(),
        }
    )


def _svg(doctype: str = "", body: str = "") -> bytes:
    return (
        '<?xml version="1.0"?>\n' + doctype + '<svg xmlns="http://www.w3.org/2000/svg" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" width="16" height="16">' + body + "</svg>\n"
    ).encode()


def _x3d(doctype: str, body: str = "&xxe;") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + doctype + '<X3D profile="Interchange" '
        f'version="3.3"><head><meta name="title" content="x"/></head><Scene>{body}</Scene></X3D>\n'
    ).encode()


def _mvg(draw: str) -> bytes:
    return f"push graphic-context\nviewbox 0 0 64 64\n{draw}\npop graphic-context\n".encode()


def _pdf(*objects: str) -> bytes:
    """A small PDF: a catalog (object 1) plus ``objects`` (numbered from 2), with an xref."""
    body = b"%PDF-1.4\n"
    offsets = []
    for number, text in enumerate(objects, start=1):
        offsets.append(len(body))
        body += f"{number} 0 obj\n{text}\nendobj\n".encode()
    xref = len(body)
    body += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    body += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    body += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return body


def _pdf_with(action: str) -> bytes:
    return _pdf(
        f"<< /Type /Catalog /Pages 2 0 R /OpenAction {action} >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] >>",
    )


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n"
DOS_EPS = b"\xc5\xd0\xd3\xc6" + b"\x20\x00\x00\x00" + b"\x00" * 24 + EPS

ROW7 = [
    _case(7, "eps-as-jpg", "photo.jpg",
          lambda t: EPS + f"({t.canary_path}) (r) file\nshowpage\n".encode(),
          "EPS named .jpg that reads the canary if Ghostscript ran", kind="image"),
    _case(7, "ps-pipe-as-pdf", "scan.pdf",
          lambda t: b"%!PS\n(%pipe%touch /tmp/hostile-gs-ran) (w) file\nshowpage\n",
          "PostScript with Ghostscript's %pipe% device, named .pdf", kind="document"),
    _case(7, "dos-eps-as-tif", "scan.tif",
          lambda t: DOS_EPS + f"({t.canary_path}) (r) file\n".encode(),
          "DOS EPS binary header (C5D0D3C6) named .tif", kind="image"),
    _case(7, "mvg-url-trap", "photo.jpg",
          lambda t: _mvg(f"fill 'url({t.trap_url}/x.png)'\nrectangle 0,0 64,64"),
          "ImageTragick MVG fetching from the trap listener (CVE-2016-3714)", kind="image"),
    _case(7, "mvg-image-over-canary", "photo.png",
          lambda t: _mvg(f"image over 0,0 0,0 '{t.canary_path}'"),
          "MVG compositing the canary into the picture", kind="image"),
    _case(7, "mvg-ephemeral-canary", "photo.gif",
          lambda t: _mvg(f"image over 0,0 0,0 'ephemeral:{t.canary_path}'"),
          "MVG with ephemeral: (deletes the file it reads)", kind="image"),
    _case(7, "mvg-text-delegate", "photo.jpg",
          lambda t: _mvg(f"image over 0,0 0,0 'text:{t.canary_path}'"),
          "MVG with the TEXT: coder rendering the canary into pixels", kind="image"),
    _case(7, "msl-read-write", "photo.png",
          lambda t: (f'<?xml version="1.0"?><image><read filename="{t.canary_path}"/>'
                     '<write filename="/tmp/hostile-msl.png"/></image>').encode(),
          "MSL script reading the canary and writing a file", kind="image"),
    _case(7, "svg-image-file-canary", "photo.svg",
          lambda t: _svg(body=f'<image xlink:href="file://{t.canary_path}" width="16" '
                              'height="16"/>'),
          "SVG whose image is the canary", kind="image"),
    _case(7, "svg-image-trap-as-png", "photo.png",
          lambda t: _svg(body=f'<image xlink:href="{t.trap_url}/i.png" width="9" height="9"/>'),
          "SVG named .png whose image is on the trap listener", kind="image"),
    _case(7, "svg-msl-href", "photo.jpg",
          lambda t: _svg(body=f'<image xlink:href="msl:{t.canary_path}" width="9" height="9"/>'),
          "SVG named .jpg referencing an msl: script", kind="image"),
    _case(7, "xcf-as-png", "photo.png", lambda t: b"gimp xcf v011\x00" + b"\x00" * 64,
          "GIMP XCF (ImageMagick-only) named .png", kind="image"),
    _case(7, "psd-as-jpg", "photo.jpg",
          lambda t: b"8BPS\x00\x01" + b"\x00" * 6 + b"\x00\x03\x00\x00\x00\x10\x00\x00\x00\x10"
          + b"\x00\x08\x00\x03" + b"\x00" * 64,
          "Photoshop PSD named .jpg (libvips marks its loader untrusted)", kind="image"),
    _case(7, "fits-as-tif", "scan.tif",
          lambda t: (b"SIMPLE  =                    T" + b" " * 50 + b"BITPIX  =  8" + b" " * 68
                     + b"NAXIS   =  0" + b" " * 68 + b"END" + b" " * 77).ljust(2880, b" "),
          "FITS (untrusted libvips loader, Pillow's FITS gzip bomb) named .tif", kind="image"),
    _case(7, "text-coder-filename", "text:..%2F..%2Fetc%2Fpasswd.jpg", lambda t: jpeg(),
          "a real JPEG whose name is an ImageMagick coder prefix", expect="any", kind="image"),
    _case(7, "pdf-launch-and-uri", "scan.pdf",
          lambda t: _pdf_with(f"<< /S /Launch /F ({t.canary_path}) /Next << /S /URI "
                              f"/URI ({t.trap_url}/pdf) >> >>"),
          "PDF whose open action launches the canary and opens a URL (poppler renders only)",
          expect="any", kind="document"),
]  # fmt: skip


def _xmp_image(make: Callable[[bytes], bytes], doctype: str, body: str) -> Callable[[Traps], bytes]:
    return lambda traps: make(xmp_packet(body, doctype))


ROW10 = [
    _case(10, "dae-xxe-file-canary", "scan.dae",
          lambda t: _dae(_system("COLLADA", f"file://{t.canary_path}")),
          "COLLADA with an external entity on the canary", kind="mesh"),
    _case(10, "dae-xxe-trap", "scan.dae", lambda t: _dae(_system("COLLADA", t.trap_url)),
          "COLLADA with an external entity on the trap listener", kind="mesh"),
    _case(10, "dae-billion-laughs", "scan.dae", lambda t: _dae(_laughs("COLLADA"), "&lol9;"),
          "billion laughs in COLLADA", kind="mesh"),
    _case(10, "dae-quadratic", "scan.dae", lambda t: _dae(*_quadratic("COLLADA")),
          "quadratic blow-up in COLLADA", kind="mesh"),
    _case(10, "dae-external-dtd-trap", "scan.dae",
          lambda t: _dae(f'<!DOCTYPE COLLADA SYSTEM "{t.trap_url}/c.dtd">\n', "x"),
          "COLLADA whose DTD is on the trap listener", kind="mesh"),
    _case(10, "dae-renamed-obj", "scan.obj",
          lambda t: _dae(_system("COLLADA", f"file://{t.canary_path}")),
          "COLLADA with XXE named .obj", kind="mesh"),
    _case(10, "3mf-xxe-file-canary", "print.3mf",
          lambda t: _model_3mf(_system("model", f"file://{t.canary_path}")),
          "3MF whose 3D/3dmodel.model has an external entity on the canary", kind="mesh"),
    _case(10, "3mf-billion-laughs", "print.3mf",
          lambda t: _model_3mf(_laughs("model"), "&lol9;"), "billion laughs in 3MF",
          kind="mesh"),
    _case(10, "3mf-external-dtd-trap", "print.3mf",
          lambda t: _model_3mf(f'<!DOCTYPE model SYSTEM "{t.trap_url}/m.dtd">\n', "x"),
          "3MF whose model has an external DTD on the trap listener", kind="mesh"),
    _case(10, "3mf-renamed-zip", "scan.zip",
          lambda t: _model_3mf(_system("model", t.trap_url)),
          "3MF (XXE to the trap) named .zip", kind="mesh"),
    _case(10, "x3d-xxe-file-canary", "scene.x3d",
          lambda t: _x3d(_system("X3D", f"file://{t.canary_path}")),
          "X3D with an external entity on the canary", kind="mesh"),
    _case(10, "x3d-billion-laughs", "scene.x3d", lambda t: _x3d(_laughs("X3D"), "&lol9;"),
          "billion laughs in X3D", kind="mesh"),
    _case(10, "svg-xxe-file-canary", "drawing.svg",
          lambda t: _svg(_system("svg", f"file://{t.canary_path}"), "<text>&xxe;</text>"),
          "SVG with an external entity on the canary", kind="image"),
    _case(10, "svg-billion-laughs", "drawing.svg",
          lambda t: _svg(_laughs("svg"), "<text>&lol9;</text>"), "billion laughs in SVG",
          kind="image"),
    _case(10, "jpeg-xmp-xxe-canary", "photo.jpg",
          lambda t: jpeg(xmp=xmp_packet("&xxe;", _system("x:xmpmeta", f"file://{t.canary_path}"))),
          "JPEG whose XMP packet has an external entity on the canary", expect="any",
          kind="image"),
    _case(10, "jpeg-xmp-billion-laughs", "photo.jpg",
          lambda t: jpeg(xmp=xmp_packet("&lol9;", _laughs("x:xmpmeta"))),
          "JPEG whose XMP packet is a billion laughs", expect="any", kind="image"),
    _case(10, "jpeg-xmp-external-dtd-trap", "photo.jpg",
          lambda t: jpeg(xmp=xmp_packet("x", f'<!DOCTYPE x:xmpmeta SYSTEM "{t.trap_url}/x.dtd">')),
          "JPEG whose XMP packet loads a DTD from the trap listener", expect="any",
          kind="image"),
    _case(10, "jpeg-xmp-xinclude-canary", "photo.jpg",
          lambda t: jpeg(xmp=xmp_packet(
              f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
              f'href="file://{t.canary_path}" parse="text"/>')),
          "JPEG whose XMP packet XIncludes the canary", expect="any", kind="image"),
    _case(10, "png-xmp-xxe-trap", "photo.png",
          lambda t: png(itxt={"XML:com.adobe.xmp": xmp_packet(
              "&xxe;", _system("x:xmpmeta", t.trap_url)).decode()}),
          "PNG whose iTXt XMP has an external entity on the trap listener", expect="any",
          kind="image"),
    _case(10, "tiff-xmp-xxe-canary", "scan.tif",
          lambda t: tiff(xmp=xmp_packet("&xxe;", _system("x:xmpmeta", f"file://{t.canary_path}"))),
          "TIFF whose XMP tag has an external entity on the canary", expect="any",
          kind="image"),
]  # fmt: skip

# ImageDescription must not reach public copies; Artist and Copyright do (the rights travel
# with every copy), so they carry no leak mark, only markup that must arrive escaped.
_EXIF_TEXT = {0x010E: SCRIPT, 0x013B: "<script>alert(1)</script>", 0x8298: "© <b>Bảo tàng</b>"}
_HTML = f"<!doctype html><html><body>{SCRIPT}<img src=x onerror=alert(1)></body></html>"

ROW11 = [
    _case(11, "svg-script", "drawing.svg", lambda t: _svg(body=f"{SCRIPT}<rect/>"),
          "SVG with a script element", kind="image"),
    _case(11, "svg-onload-as-jpg", "photo.jpg",
          lambda t: _svg(body='<rect width="9" height="9" onload="alert(1)"/>'),
          "SVG with an onload handler named .jpg", kind="image"),
    _case(11, "svg-foreignobject-html", "drawing.svg",
          lambda t: _svg(body=f'<foreignObject width="9" height="9"><body '
                              f'xmlns="http://www.w3.org/1999/xhtml">{SCRIPT}</body>'
                              "</foreignObject>"),
          "SVG embedding an HTML body with a script", kind="image"),
    _case(11, "html-as-jpg", "photo.jpg", lambda t: _HTML.encode(),
          "HTML page named .jpg", kind="image"),
    _case(11, "html-as-pdf", "scan.pdf", lambda t: _HTML.encode(),
          "HTML page named .pdf", kind="document"),
    _case(11, "html-no-hint", "index.html", lambda t: _HTML.encode(),
          "HTML page with no kind hint: no pipeline takes it"),
    _case(11, "jpeg-exif-script", "photo.jpg", lambda t: jpeg(exif=_EXIF_TEXT),
          "JPEG with HTML in EXIF description, artist and copyright", expect="any",
          kind="image"),
    _case(11, "jpeg-comment-script", "photo.jpg",
          lambda t: jpeg(comment=f"{SCRIPT}{LEAK_MARK}".encode()),
          "JPEG with HTML in its COM segment", expect="any", kind="image"),
    _case(11, "png-text-script", "photo.png",
          lambda t: png(text={"Comment": SCRIPT, "Description": _HTML}),
          "PNG with HTML in tEXt chunks", expect="any", kind="image"),
    _case(11, "jpeg-xmp-rights-script", "photo.jpg",
          lambda t: jpeg(xmp=xmp_packet("&lt;script&gt;alert(1)&lt;/script&gt;")),
          "JPEG whose XMP rights (kept in public copies) are HTML", expect="any",
          kind="image"),
    _case(11, "tiff-description-script", "scan.tif", lambda t: tiff(description=_HTML),
          "TIFF whose ImageDescription is HTML", expect="any", kind="image"),
    _case(11, "pdf-javascript", "scan.pdf",
          lambda t: _pdf_with(f"<< /S /JavaScript /JS (app.alert('{LEAK_MARK}')) >>"),
          "PDF running JavaScript when opened", expect="any", kind="document"),
    _case(11, "html-filename", '<img src=x onerror="alert(1)">.jpg', lambda t: jpeg(),
          "a real JPEG whose claimed name is HTML", expect="any", kind="image"),
]  # fmt: skip

CASES = ROW7 + ROW10 + ROW11
