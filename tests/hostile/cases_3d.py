"""Hostile cases for the 3D pipeline: malformed meshes and point clouds (threat row 8) and
references to files or servers outside the upload (row 9).

The museum's defence (``processing/threed``): the format comes from the bytes, counts are
checked against the limits from headers before anything is parsed, every reference a
model makes (``mtllib``, ``map_Kd``, glTF ``uri``, PLY ``TextureFile``) is resolved inside
the upload or refused, trimesh only reads through a resolver that knows the approved files,
and Pillow may only decode plain image formats (never EPS through Ghostscript).
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable

from tests.hostile.media_bytes import (
    SCRIPT,
    binary_stl,
    glb,
    gltf_json,
    gltf_tree,
    obj,
    png,
    textured_gltf,
    triangle_buffer,
    zip_of,
)
from tests.hostile.model import Case, Expect, Traps

Build = Callable[[Traps], bytes]
PLY_HEAD = "ply\nformat ascii 1.0\n"
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n(%pipe%id) (r) file\nshowpage\n"


def _case(
    row: int,
    name: str,
    filename: str,
    build: Build,
    note: str,
    *,
    expect: Expect = "refused",
    kind: str | None = "mesh",
) -> Case:
    return Case(row, name, filename, build, expect=expect, kind=kind, note=note)


def _fixed(data: bytes) -> Build:
    return lambda traps: data


def _ply(header: str, body: bytes = b"") -> bytes:
    return (PLY_HEAD + header + "end_header\n").encode() + body


def _binary_ply(header: str, body: bytes) -> bytes:
    text = "ply\nformat binary_little_endian 1.0\n" + header + "end_header\n"
    return text.encode() + body


def _gltf_with(**changes: object) -> bytes:
    return gltf_json(gltf_tree(**changes))


def _deep_nodes(depth: int) -> dict[str, object]:
    """Nodes where each has two children one level down, all on one mesh: 2**depth
    instances from a few hundred bytes of JSON."""
    nodes: list[dict[str, object]] = [{"children": [1, 1]} for _ in range(depth)]
    for index in range(depth - 1):
        nodes[index] = {"children": [index + 1, index + 1]}
    nodes.append({"mesh": 0})
    nodes[depth - 1] = {"children": [depth, depth]}
    return {"nodes": nodes, "scenes": [{"nodes": [0]}]}


def _accessor_lie() -> bytes:
    tree = gltf_tree()
    tree["accessors"][0]["count"] = 50_000_000  # positions in a 36-byte view
    tree["accessors"][1]["count"] = 3
    return gltf_json(tree)


def _glb_bin_lie() -> bytes:
    """A GLB whose BIN chunk header (the 8 bytes before its 44 bytes) claims 2 GiB."""
    tree = gltf_tree()
    del tree["buffers"][0]["uri"]
    data = glb(tree, triangle_buffer())
    return data[:-52] + struct.pack("<I4s", 0x7FFFFFF0, b"BIN\x00") + data[-44:]


def _glb_embedded(image: bytes) -> bytes:
    """A textured GLB whose image lives in the BIN chunk after the geometry."""
    tree = textured_gltf({"mimeType": "image/png", "bufferView": 3})
    geometry = base64.b64decode(tree["buffers"][0]["uri"].split(",", 1)[1])
    del tree["buffers"][0]["uri"]
    tree["bufferViews"].append({"buffer": 0, "byteOffset": len(geometry), "byteLength": len(image)})
    tree["buffers"][0]["byteLength"] = len(geometry) + len(image)
    return glb(tree, geometry + image)


ROW8 = [
    _case(8, "obj-index-overflow", "m.obj", _fixed(obj(faces="f 1 2 4294967296\n")),
          "OBJ face index past 2**32", expect="any"),
    _case(8, "obj-negative-index", "m.obj", _fixed(obj(faces="f -5 -6 -7\n")),
          "relative indices before the first vertex", expect="any"),
    _case(8, "obj-garbage-index", "m.obj", _fixed(obj(faces="f nan inf -0\nf 1/a/b 2// 3\n")),
          "non-numeric face indices", expect="any"),
    _case(8, "obj-all-nan", "m.obj", _fixed(b"v nan nan nan\nv inf 0 0\nv 0 -inf 0\nf 1 2 3\n"),
          "every vertex non-finite: refused as having no geometry"),
    _case(8, "obj-faces-no-vertices", "m.obj", _fixed(b"f 1 2 3\n" * 2000),
          "faces that name vertices never defined"),
    _case(8, "ply-vertex-count-lie", "m.ply",
          _fixed(_ply("element vertex 4294967295\nproperty float x\nproperty float y\n"
                      "property float z\n", b"0 0 0\n1 0 0\n0 1 0\n")),
          "ASCII PLY declaring 2**32-1 vertices over three lines"),
    _case(8, "ply-negative-count", "m.ply",
          _fixed(_ply("element vertex -1\nproperty float x\nproperty float y\n"
                      "property float z\n", b"0 0 0\n")),
          "negative element count"),
    _case(8, "ply-binary-truncated", "m.ply",
          _fixed(_binary_ply("element vertex 1000000\nproperty float x\nproperty float y\n"
                             "property float z\n", b"\x00" * 10)),
          "binary PLY declaring a million vertices, ten bytes of body"),
    _case(8, "ply-face-list-huge", "m.ply",
          _fixed(_binary_ply("element vertex 3\nproperty float x\nproperty float y\n"
                             "property float z\nelement face 1\n"
                             "property list uint int vertex_indices\n",
                             struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
                             + struct.pack("<I", 0xFFFFFFFF) + b"\x00" * 12)),
          "a face list whose length field says 4 billion indices"),
    _case(8, "ply-unknown-property-type", "m.ply",
          _fixed(_ply("element vertex 3\nproperty quux x\nproperty float y\nproperty float z\n",
                      b"0 0 0\n1 0 0\n0 1 0\n")),
          "a property type that does not exist"),
    _case(8, "stl-count-lie", "m.stl", _fixed(binary_stl(0xFFFFFFFF, 1)),
          "binary STL declaring 2**32-1 triangles, holding one"),
    _case(8, "stl-ascii-nan", "m.stl",
          _fixed(b"solid x\nfacet normal 0 0 1\nouter loop\nvertex nan nan nan\n"
                 b"vertex inf 0 0\nvertex 0 0 nan\nendloop\nendfacet\nendsolid x\n"),
          "ASCII STL whose only facet is non-finite"),
    _case(8, "glb-json-length-lie", "m.glb", lambda t: glb(gltf_tree(), json_length=0x7FFFFFF0),
          "GLB whose JSON chunk claims 2 GiB"),
    _case(8, "glb-bin-length-lie", "m.glb", lambda t: _glb_bin_lie(),
          "GLB whose BIN chunk claims 2 GiB", expect="any"),
    _case(8, "gltf-accessor-out-of-bounds", "m.gltf", lambda t: _accessor_lie(),
          "accessor of 50 million positions over a 36-byte buffer view"),
    _case(8, "gltf-node-self-parent", "m.gltf",
          lambda t: _gltf_with(nodes=[{"mesh": 0, "children": [0]}]),
          "a node that is its own child (trimesh froze on these before PR #1729)"),
    _case(8, "gltf-node-cycle", "m.gltf",
          lambda t: _gltf_with(nodes=[{"children": [1]}, {"mesh": 0, "children": [0]}]),
          "two nodes that are each other's parent"),
    _case(8, "gltf-instance-explosion", "m.gltf", lambda t: _gltf_with(**_deep_nodes(40)),
          "40 levels of two children each: 2**40 instances of one triangle"),
    _case(8, "gltf-bad-indices", "m.gltf",
          lambda t: _gltf_with(meshes=[{"primitives": [{"attributes": {"POSITION": 7}}]}]),
          "a primitive naming an accessor that does not exist"),
    _case(8, "pcd-huge-points", "m.pcd",
          _fixed(b"# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\n"
                 b"COUNT 1 1 1\nWIDTH 99999999999\nHEIGHT 1\nPOINTS 99999999999\n"
                 b"DATA binary\n" + b"\x00" * 24),
          "PCD header declaring 10**11 binary points", kind="pointcloud"),
    _case(8, "las-broken-header", "m.las", _fixed(b"LASF" + b"\xff" * 400),
          "LAS signature then garbage", kind="pointcloud"),
    _case(8, "e57-broken-header", "m.e57", _fixed(b"ASTM-E57" + b"\xff" * 2048),
          "E57 signature then garbage", kind="pointcloud"),
    _case(8, "draco-garbage", "m.drc", _fixed(b"DRACO\x02\x02\x01\x01\x00" + b"\xff" * 200),
          "Draco header then garbage"),
]  # fmt: skip


def _obj_bundle(mtl: str, extra: dict[str, bytes] | None = None) -> bytes:
    files = {"m.obj": obj("mtllib m.mtl\n", usemtl="a"), "m.mtl": mtl.encode()}
    return zip_of(files | (extra or {}))


def _textured(uri: str) -> bytes:
    return gltf_json(textured_gltf({"uri": uri}))


ROW9 = [
    _case(9, "gltf-buffer-uri-canary", "m.gltf", lambda t: _gltf_with(**_buffer(t.canary_path)),
          "glTF buffer at the canary's absolute path"),
    _case(9, "gltf-buffer-file-url", "m.gltf",
          lambda t: _gltf_with(**_buffer(f"file://{t.canary_path}")), "buffer as a file:// URL"),
    _case(9, "gltf-buffer-trap-url", "m.gltf",
          lambda t: _gltf_with(**_buffer(f"{t.trap_url}/b.bin")), "buffer on the trap listener"),
    _case(9, "gltf-buffer-dotdot", "m.gltf",
          lambda t: _gltf_with(**_buffer("../" * 12 + t.canary_path.lstrip("/"))),
          "buffer climbing out with ../ to the canary"),
    _case(9, "gltf-image-uri-canary", "m.gltf", lambda t: _textured(t.canary_path),
          "texture at the canary's absolute path", expect="any"),
    _case(9, "gltf-image-file-url", "m.gltf", lambda t: _textured(f"file://{t.canary_path}"),
          "texture as a file:// URL", expect="any"),
    _case(9, "gltf-image-trap-url", "m.gltf", lambda t: _textured(f"{t.trap_url}/t.png"),
          "texture on the trap listener (SSRF)", expect="any"),
    _case(9, "gltf-image-percent-dotdot", "m.gltf",
          lambda t: _textured("%2e%2e/" * 12 + t.canary_path.lstrip("/")),
          "texture climbing out with percent-encoded dots", expect="any"),
    _case(9, "gltf-image-backslash-dotdot", "m.gltf",
          lambda t: _textured("..\\" * 12 + t.canary_path.lstrip("/").replace("/", "\\")),
          "texture climbing out with Windows separators", expect="any"),
    _case(9, "glb-image-uri-canary", "m.glb",
          lambda t: glb(textured_gltf({"uri": t.canary_path})),
          "GLB whose texture is outside the file, at the canary", expect="any"),
    _case(9, "obj-mtllib-dotdot-canary", "m.obj",
          lambda t: obj(f"mtllib ../../../../../../..{t.canary_path}\n", usemtl="a"),
          "OBJ whose material library climbs to the canary", expect="any"),
    _case(9, "obj-mtllib-absolute", "m.obj",
          lambda t: obj(f"mtllib {t.canary_path}\n", usemtl="a"),
          "OBJ whose material library is the canary's absolute path", expect="any"),
    _case(9, "obj-mtllib-trap-url", "m.obj",
          lambda t: obj(f"mtllib {t.trap_url}/m.mtl\n", usemtl="a"),
          "OBJ whose material library is on the trap listener", expect="any"),
    _case(9, "zip-mtl-map-kd-canary", "scan.zip",
          lambda t: _obj_bundle(f"newmtl a\nmap_Kd {t.canary_path}\n"),
          "bundle whose MTL texture is the canary", expect="any"),
    _case(9, "zip-mtl-map-kd-trap-url", "scan.zip",
          lambda t: _obj_bundle(f"newmtl a\nmap_Kd -s 1 1 1 {t.trap_url}/t.png\n"),
          "bundle whose MTL texture (after options) is on the trap listener", expect="any"),
    _case(9, "zip-mtl-map-kd-dotdot", "scan.zip",
          lambda t: _obj_bundle("newmtl a\nmap_Kd ../../../../../../../../etc/passwd\n"),
          "bundle whose MTL texture climbs out of the bundle", expect="any"),
    _case(9, "zip-symlink-texture-canary", "scan.zip",
          lambda t: zip_of({"m.obj": obj("mtllib m.mtl\n", usemtl="a"),
                            "m.mtl": b"newmtl a\nmap_Kd t.png\n"},
                           links={"t.png": t.canary_path}),
          "bundle whose texture is a symbolic link to the canary", expect="any"),
    _case(9, "ply-texturefile-canary", "m.ply",
          lambda t: _ply(f"comment TextureFile {t.canary_path}\nelement vertex 3\n"
                         "property float x\nproperty float y\nproperty float z\nelement face 1\n"
                         "property list uchar int vertex_indices\n",
                         b"0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"),
          "PLY naming the canary as its texture", expect="any"),
]  # fmt: skip


def _buffer(uri: str) -> dict[str, object]:
    return {"buffers": [{"byteLength": 44, "uri": uri}]}


ROW7_3D = [
    _case(7, "zip-obj-eps-texture", "scan.zip",
          lambda t: _obj_bundle("newmtl a\nmap_Kd t.png\n", {"t.png": EPS}),
          "bundle whose texture 't.png' is EPS: Pillow would run Ghostscript to decode it",
          expect="any"),
    _case(7, "glb-embedded-eps-texture", "m.glb", lambda t: _glb_embedded(EPS),
          "GLB whose embedded image is EPS (trimesh decodes embedded images itself)",
          expect="any"),
    _case(7, "gltf-data-uri-eps-texture", "m.gltf",
          lambda t: _textured("data:image/png;base64," + base64.b64encode(EPS).decode()),
          "glTF whose data: URI image is EPS", expect="any"),
]  # fmt: skip

ROW11_3D = [
    _case(11, "html-as-glb", "m.glb",
          _fixed(f"<!doctype html><html><body>{SCRIPT}</body></html>".encode()),
          "HTML page disguised as a GLB"),
    _case(11, "html-as-gltf", "m.gltf",
          _fixed(f'<html><script>var asset = {{"asset": 1}}</script>{SCRIPT}</html>'.encode()),
          "HTML page named .gltf (mentions \"asset\")"),
    _case(11, "gltf-javascript-uris-in-extras", "m.gltf",
          lambda t: _gltf_with(asset={"version": "2.0", "generator": SCRIPT,
                                      "copyright": SCRIPT, "extras": {"href": "javascript:x()"}},
                               extras={"onload": SCRIPT}),
          "glTF carrying HTML and javascript: URIs in asset and extras", expect="any"),
    _case(11, "obj-html-names", "m.obj",
          _fixed(f"o {SCRIPT}\ng {SCRIPT}\n".encode() + obj()),
          "OBJ whose object and group names are HTML", expect="any"),
    _case(11, "gltf-texture-png-script-chunk", "m.gltf",
          lambda t: _textured("data:image/png;base64,"
                              + base64.b64encode(png(text={"Comment": SCRIPT})).decode()),
          "textured glTF whose PNG carries a script in tEXt", expect="any"),
]  # fmt: skip

CASES = ROW8 + ROW9 + ROW7_3D + ROW11_3D
