"""People's captions in the catalog: uploaded WebVTT and SRT become a new published version
of a video, beside the old one, with every language in its master playlist; a faulty file
changes nothing; reprocessing keeps them.

The published version here is a small hand-made HLS tree written with the pipeline's own
master-playlist writer, so these tests need no ffmpeg and take well under a second each.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session

from processing.av.hls import Rendition, write_master
from processing.av.pipeline import subtitle_playlist
from processing.report import describe, sha256
from server.captions import (
    keep_captions,
    list_captions,
    refresh_captions,
    remove_captions,
    review_caption,
    set_captions,
)
from server.cli import main
from server.db import Database
from server.errors import Conflict, NotFound, ValidationError
from server.models import Asset, AssetCaption
from server.settings import Settings
from server.storage import Store

ASSET = "a" * 32
BASE = "av-0123456789abcdef"
DURATION = 12.0
MACHINE_VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nthe gongs begin\n"

SRT_VI = """1
00:00:01,000 --> 00:00:04,000
Tiếng chiêng vang lên

2
00:00:05,000 --> 00:00:08,500
Buôn làng tụ họp {\\an8}quanh ché rượu cần
"""

VTT_EN = """WEBVTT

00:00:01.000 --> 00:00:04.000 line:0 position:500% vertical:up align:start
<script>alert(1)</script>The <b>gongs</b> <c.loud>begin</c>

00:00:05.000 --> 00:00:08.500
The village <span onclick="x">gathers</span>
"""

# Line 6 holds the second subtitle's timing, which ends before it starts.
SRT_BAD_TIMING = """1
00:00:01,000 --> 00:00:02,000
Một

2
00:00:06,000 --> 00:00:05,000
Hai
"""


# A published video, as the pipeline leaves it


def _rendition(name: str, width: int | None, height: int | None, codecs: str) -> Rendition:
    return Rendition(
        name=name,
        playlist=f"{name}/index.m3u8",
        width=width,
        height=height,
        codecs=codecs,
        bytes=1000,
        duration=DURATION,
        peak_bps=200_000,
        average_bps=150_000,
        segments=3,
    )


def write_version(store: Store, version: str, speech: str | None) -> Path:
    """An HLS tree with two rungs, an audio group and, given ``speech``, a machine draft
    in that language; published as ``version``."""
    renditions = [
        _rendition("audio", None, None, "mp4a.40.2"),
        _rendition("480p", 854, 480, "avc1.64001e"),
        _rendition("360p", 640, 360, "avc1.64001e"),
    ]
    with store.publish(ASSET, version) as folder:
        for rendition in renditions:
            (folder / rendition.name).mkdir()
            (folder / rendition.playlist).write_text(f"#EXTM3U\n# {rendition.name}\n")
            (folder / rendition.name / "init.mp4").write_bytes(os.urandom(64))
            for n in range(3):
                (folder / rendition.name / f"seg_{n:05d}.m4s").write_bytes(os.urandom(256))
        (folder / "poster.jpg").write_bytes(os.urandom(128))
        (folder / "thumbnails").mkdir()
        (folder / "thumbnails" / "thumbnails.vtt").write_text("WEBVTT\n")
        tracks = []
        statistics: dict[str, object] = {"duration": DURATION}
        if speech:
            (folder / f"captions.{speech}.vtt").write_text(MACHINE_VTT)
            playlist = subtitle_playlist(f"captions.{speech}.vtt", DURATION)
            (folder / f"captions.{speech}.m3u8").write_text(playlist)
            tracks.append(
                {
                    "name": f"{speech} (machine draft)",
                    "language": speech,
                    "uri": f"captions.{speech}.m3u8",
                }
            )
            statistics["speech"] = {
                "language": speech,
                "model": "tiny.en",
                "captions": f"captions.{speech}.vtt",
                "segments": [{"start": 1.0, "end": 3.0, "text": "the gongs begin"}],
            }
        write_master(folder, renditions, 25.0, tracks)
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        artefacts = [describe(folder, name, "application/octet-stream", "x") for name in files]
        report = {"statistics": statistics, "artefacts": artefacts}
        (folder / "report.json").write_text(json.dumps(report))
    return store.derivative_dir(ASSET, version)


def technical(speech: str | None) -> dict[str, object]:
    """What ``av_summary`` keeps of such a version."""
    languages = [speech] if speech else []
    return {
        "pipeline": "av",
        "kind": "video",
        "duration": DURATION,
        "master": "master.m3u8",
        "captions": languages,
        "caption_drafts": languages,
    }


@pytest.fixture
def store(settings: Settings) -> Store:
    return Store(settings.data_dir)


@pytest.fixture
def video(database: Database, store: Store) -> Path:
    """A processed video whose speech gave an English machine draft; its version folder."""
    folder = write_version(store, BASE, "en")
    database.call(lambda s: s.add(_asset(ASSET, "video", BASE, technical("en"))), write=True)
    return folder


def _asset(asset_id: str, kind: str, version: str | None, about: dict[str, object]) -> Asset:
    return Asset(
        id=asset_id,
        sha256="0" * 64,
        size=1,
        filename=f"{asset_id}.mp4",
        media_type="video/mp4",
        kind=kind,
        technical=about,
        published_version=version,
    )


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def asset_row(database: Database) -> Asset:
    row = database.call(lambda s: s.get(Asset, ASSET))
    assert row is not None
    return row


def subtitle_media(master: str) -> list[dict[str, str]]:
    """The attributes of each SUBTITLES line of a master playlist."""
    return [
        dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line[len("#EXT-X-MEDIA:") :]))
        for line in master.splitlines()
        if line.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES")
    ]


# Publishing


def test_captions_in_two_languages_publish_new_versions_and_keep_the_old(
    database: Database, store: Store, video: Path
) -> None:
    before = files_of(video)
    first = set_captions(database, store, ASSET, "vi", SRT_VI.encode(), "chieng.srt")
    assert re.fullmatch(rf"{BASE}-c[0-9a-f]{{12}}", first)
    master = (store.derivative_dir(ASSET, first) / "master.m3u8").read_text()
    # The machine draft waits for review: never in a published version's files.
    assert [(t["LANGUAGE"], t["NAME"], t["DEFAULT"]) for t in subtitle_media(master)] == [
        ('"vi"', '"Tiếng Việt"', "YES"),
    ]
    assert not (store.derivative_dir(ASSET, first) / "captions.en.vtt").exists()
    assert asset_row(database).technical["captions"] == ["vi"]
    assert asset_row(database).technical["caption_drafts"] == ["en"]

    second = set_captions(
        database, store, ASSET, "EN", VTT_EN.encode(), "gongs.vtt", label="English", author="Hà"
    )
    assert re.fullmatch(rf"{BASE}-c[0-9a-f]{{12}}", second) and second != first
    new = store.derivative_dir(ASSET, second)
    assert files_of(video) == before  # the published folder never changes
    assert store.derivative_dir(ASSET, first).is_dir()  # nor goes: its URLs keep working

    master = (new / "master.m3u8").read_text()
    tracks = subtitle_media(master)
    assert [(t["LANGUAGE"], t["NAME"], t["DEFAULT"], t["URI"]) for t in tracks] == [
        ('"vi"', '"Tiếng Việt"', "YES", '"captions.vi.m3u8"'),
        ('"en"', '"English"', "NO", '"captions.en.m3u8"'),
    ]
    streams = [line for line in master.splitlines() if line.startswith("#EXT-X-STREAM-INF:")]
    assert len(streams) == 2
    assert all(line.count('SUBTITLES="subs"') == 1 for line in streams)
    # Everything but the captions, the master playlist and the report is the old version's
    # bytes, linked rather than copied.
    for name, data in files_of(new).items():
        if name.startswith("captions.") or name in ("master.m3u8", "report.json"):
            continue
        assert before[name] == data, name
        assert (new / name).stat().st_ino == (video / name).stat().st_ino, name

    vi = (new / "captions.vi.vtt").read_text()
    assert vi.startswith("WEBVTT\n") and "Buôn làng tụ họp quanh ché rượu cần" in vi
    assert "00:00:05.000 --> 00:00:08.500" in vi and "{\\an8}" not in vi
    en = (new / "captions.en.vtt").read_text()
    assert "<script" not in en and "<c." not in en and "<span" not in en and "onclick" not in en
    assert "The <b>gongs</b> begin" in en and "The village gathers" in en
    assert "00:00:01.000 --> 00:00:04.000 line:0 align:start\n" in en  # bad settings dropped
    playlist = (new / "captions.en.m3u8").read_text()
    assert "#EXTINF:12.000,\ncaptions.en.vtt\n" in playlist

    row = asset_row(database)
    assert row.published_version == second
    assert row.technical["captions"] == ["vi", "en"] and row.technical["caption_drafts"] == []
    assert row.technical["duration"] == DURATION  # the rest of technical stays
    listed = list_captions(database, ASSET)
    assert [(c.language, c.source, c.status, c.label, c.author) for c in listed] == [
        ("vi", "human", "accepted", "Tiếng Việt", ""),
        ("en", "human", "accepted", "English", "Hà"),
    ]
    assert listed[1].text == en

    # The version's report describes the files it holds, so a fixity check passes.
    report = json.loads((new / "report.json").read_text())
    listed_files = {a["path"]: a for a in report["artefacts"]}
    assert set(listed_files) == set(files_of(new)) - {"report.json"}
    for name, entry in listed_files.items():
        assert (
            entry["sha256"] == sha256(new / name) and entry["bytes"] == (new / name).stat().st_size
        )
    assert listed_files["captions.vi.vtt"]["role"] == "captions"
    assert [(c["language"], c["source"]) for c in report["captions"]] == [
        ("vi", "human"),
        ("en", "human"),
    ]


def test_the_same_captions_always_give_the_same_version(
    database: Database, store: Store, video: Path
) -> None:
    added = set_captions(database, store, ASSET, "vi", SRT_VI.encode(), "chieng.srt")
    without = remove_captions(database, store, ASSET, "vi")
    assert without != added and not without.startswith(f"{added}-")  # built on the base, once
    again = set_captions(database, store, ASSET, "vi", SRT_VI.encode(), "chieng.srt")
    assert again == added and asset_row(database).published_version == added


def test_removing_a_language_publishes_a_version_without_it(
    database: Database, store: Store, video: Path
) -> None:
    set_captions(database, store, ASSET, "vi", SRT_VI.encode(), "chieng.srt")
    version = remove_captions(database, store, ASSET, "en")  # the machine draft
    master = (store.derivative_dir(ASSET, version) / "master.m3u8").read_text()
    assert [t["LANGUAGE"] for t in subtitle_media(master)] == ['"vi"']
    assert not (store.derivative_dir(ASSET, version) / "captions.en.vtt").exists()
    version = remove_captions(database, store, ASSET, "vi")
    folder = store.derivative_dir(ASSET, version)
    master = (folder / "master.m3u8").read_text()
    assert "SUBTITLES" not in master and "#EXT-X-STREAM-INF" in master
    assert not list(folder.glob("captions.*"))
    row = asset_row(database)
    assert (row.published_version, row.technical["captions"]) == (version, [])
    with pytest.raises(NotFound, match="has no captions in vi"):
        remove_captions(database, store, ASSET, "vi")


# Refusals change nothing


def test_a_faulty_caption_file_changes_nothing_and_names_its_line(
    database: Database, store: Store, video: Path
) -> None:
    with pytest.raises(ValidationError) as refused:
        set_captions(database, store, ASSET, "vi", SRT_BAD_TIMING.encode(), "bad.srt")
    assert "Line 6" in str(refused.value) and "ends before it starts" in str(refused.value)
    late = SRT_VI.replace("00:00:08,500", "00:00:13,500").encode()
    with pytest.raises(ValidationError, match=r"00:00:13\.500 ends after the recording"):
        set_captions(database, store, ASSET, "vi", late, "late.srt")
    with pytest.raises(ValidationError, match="Not a language code"):
        set_captions(database, store, ASSET, "vietnamese", SRT_VI.encode(), "chieng.srt")
    with pytest.raises(ValidationError, match="double quotes"):
        set_captions(database, store, ASSET, "vi", SRT_VI.encode(), "c.srt", label='Say "hi"')
    row = asset_row(database)
    assert row.published_version == BASE
    assert [p.name for p in store.derivative_dir(ASSET, BASE).parent.iterdir()] == [BASE]
    assert [c.source for c in list_captions(database, ASSET)] == ["asr"]  # only the draft


def test_only_published_videos_and_recordings_take_captions(
    database: Database, store: Store
) -> None:
    database.call(lambda s: s.add(_asset("b" * 32, "image", "img-1", {})), write=True)
    database.call(lambda s: s.add(_asset("c" * 32, "audio", None, {})), write=True)
    data = SRT_VI.encode()
    with pytest.raises(NotFound, match="No asset with id nope"):
        set_captions(database, store, "nope", "vi", data, "c.srt")
    with pytest.raises(ValidationError, match="not a video or a recording"):
        set_captions(database, store, "b" * 32, "vi", data, "c.srt")
    with pytest.raises(Conflict, match="has not been processed yet"):
        set_captions(database, store, "c" * 32, "vi", data, "c.srt")


# Reprocessing


def test_reprocessing_keeps_peoples_captions(database: Database, store: Store, video: Path) -> None:
    set_captions(database, store, ASSET, "vi", SRT_VI.encode(), "chieng.srt")
    # The pipeline writes a new version (new options), as process_av_job does; people's
    # captions are put on top of it before it is published, the machine draft left out...
    fresh = "av-fedcba9876543210"
    folder = write_version(store, fresh, "en")
    report = json.loads((folder / "report.json").read_text())
    version = keep_captions(database, store, ASSET, fresh, report)
    assert re.fullmatch(rf"{fresh}-c[0-9a-f]{{12}}", version)

    def record(session: Session) -> None:
        row = session.get(Asset, ASSET)
        assert row is not None
        row.published_version, row.technical = version, technical("en") | {"captions": []}

    database.call(record, write=True)
    # ... then published, and the caption lists brought up to date.
    assert refresh_captions(database, store, ASSET) == version
    published = store.derivative_dir(ASSET, version)
    master = (published / "master.m3u8").read_text()
    assert [t["LANGUAGE"] for t in subtitle_media(master)] == ['"vi"']
    assert "Tiếng chiêng vang lên" in (published / "captions.vi.vtt").read_text()
    assert not (published / "captions.en.vtt").exists()
    row = asset_row(database)
    assert row.published_version == version
    assert (row.technical["captions"], row.technical["caption_drafts"]) == (["vi"], ["en"])
    rows = database.call(lambda s: s.query(AssetCaption).order_by(AssetCaption.language).all())
    assert [(r.language, r.source, r.model) for r in rows] == [
        ("en", "asr", "faster-whisper tiny.en"),
        ("vi", "human", ""),
    ]


def test_reprocessing_without_captions_keeps_the_pipeline_version(
    database: Database, store: Store
) -> None:
    folder = write_version(store, BASE, None)
    database.call(lambda s: s.add(_asset(ASSET, "video", BASE, technical(None))), write=True)
    report = json.loads((folder / "report.json").read_text())
    assert keep_captions(database, store, ASSET, BASE, report) == BASE
    assert list_captions(database, ASSET) == []
    assert refresh_captions(database, store, ASSET) == BASE  # nothing built
    assert [p.name for p in store.derivative_dir(ASSET, BASE).parent.iterdir()] == [BASE]


def test_a_machine_draft_never_reaches_a_published_version(
    database: Database, store: Store, video: Path
) -> None:
    """The pipeline's own folder lists its draft; the version to publish does not, until a
    person accepts it."""
    report = json.loads((video / "report.json").read_text())
    version = keep_captions(database, store, ASSET, BASE, report)
    assert version != BASE
    folder = store.derivative_dir(ASSET, version)
    assert "SUBTITLES" not in (folder / "master.m3u8").read_text()
    assert not list(folder.glob("captions.*"))
    written = json.loads((folder / "report.json").read_text())
    assert written["captions"] == [] and "segments" not in written["statistics"]["speech"]
    assert [(c.language, c.status) for c in list_captions(database, ASSET)] == [("en", "draft")]
    database.call(lambda s: setattr(s.get(Asset, ASSET), "published_version", version), write=True)
    accepted = review_caption(database, store, ASSET, "en", reviewer="chi")
    master = (store.derivative_dir(ASSET, accepted) / "master.m3u8").read_text()
    assert [(t["LANGUAGE"], t["NAME"], t["DEFAULT"]) for t in subtitle_media(master)] == [
        ('"en"', '"English"', "YES")
    ]
    (row,) = list_captions(database, ASSET)
    assert (row.status, row.reviewer) == ("accepted", "chi") and row.reviewed_at is not None
    with pytest.raises(Conflict, match="reviewed already"):
        review_caption(database, store, ASSET, "en", reviewer="chi")
    with pytest.raises(Conflict, match="reviewed already"):
        remove_captions(database, store, ASSET, "en", drafts_only=True)
    # Reprocessing keeps the reviewed caption: a new machine draft does not replace it.
    fresh = "av-fedcba9876543210"
    folder = write_version(store, fresh, "en")
    again = keep_captions(
        database, store, ASSET, fresh, json.loads((folder / "report.json").read_text())
    )
    assert (store.derivative_dir(ASSET, again) / "captions.en.vtt").read_text() == MACHINE_VTT
    assert [(c.status, c.reviewer) for c in list_captions(database, ASSET)] == [("accepted", "chi")]


# The command line


def museum(settings: Settings, *args: str, language: str = "en") -> Result:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("MUSEUM_")}
    env |= {"MUSEUM_DATA_DIR": str(settings.data_dir), "MUSEUM_LANGUAGE": language}
    return CliRunner().invoke(main, ["captions", *args], env=env)


def test_the_captions_commands(settings: Settings, video: Path, tmp_path: Path) -> None:
    srt = tmp_path / "chieng.srt"
    srt.write_text(SRT_VI, encoding="utf-8")
    added = museum(settings, "add", ASSET, str(srt), "--lang", "vi", "--label", "Việt")
    assert added.exit_code == 0, added.output
    assert f"asset {ASSET} is now published as version {BASE}-c" in added.stdout

    listed = museum(settings, "list", ASSET)
    assert listed.exit_code == 0
    lines = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [line[:4] for line in lines] == [
        ["vi", "human", "accepted", "Việt"],
        ["en", "asr", "draft", "English"],
    ]
    shown = museum(settings, "show", ASSET, "--lang", "vi")
    assert shown.exit_code == 0 and shown.stdout.startswith("WEBVTT\n\n00:00:01.000 --> ")

    removed = museum(settings, "remove", ASSET, "--lang", "en")
    assert removed.exit_code == 0 and "Captions removed" in removed.stdout
    listed = museum(settings, "list", ASSET)
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["vi"]


def test_refresh_takes_machine_drafts_out_of_versions_published_before_review(
    settings: Settings, database: Database, store: Store, video: Path
) -> None:
    """An upgrade: the version published before review existed lists its machine draft."""
    assert subtitle_media((video / "master.m3u8").read_text())  # the draft track, public
    database.call(
        lambda s: s.add(
            AssetCaption(
                asset_id=ASSET,
                language="en",
                source="asr",
                status="draft",
                label="English",
                text=MACHINE_VTT,
                model="tiny.en",
            )
        ),
        write=True,
    )
    result = museum(settings, "refresh")
    assert result.exit_code == 0, result.output
    assert "1 of 1" in result.output
    version = asset_row(database).published_version
    assert version != BASE
    master = (store.derivative_dir(ASSET, version) / "master.m3u8").read_text()
    assert subtitle_media(master) == []
    assert museum(settings, "refresh").output.startswith("0 of 1")  # nothing left to do


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "nope", "{srt}", "--lang", "vi"), "No asset with id nope."),
        (("add", ASSET, "{bad}", "--lang", "vi"), "Line 6: the cue ends"),
        (("add", ASSET, "{srt}", "--lang", "v1"), "Not a language code: 'v1'"),
        (("add", ASSET, "{missing}", "--lang", "vi"), "Not a readable file"),
        (("show", ASSET, "--lang", "fr"), f"Asset {ASSET} has no captions in fr."),
        (("remove", "nope", "--lang", "vi"), "No asset with id nope."),
        (("list", "nope"), "No asset with id nope."),
    ],
)
def test_the_captions_commands_refuse_bad_input_in_one_line(
    settings: Settings, video: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    (tmp_path / "c.srt").write_text(SRT_VI, encoding="utf-8")
    (tmp_path / "bad.srt").write_text(SRT_BAD_TIMING, encoding="utf-8")
    paths = {
        "srt": str(tmp_path / "c.srt"),
        "bad": str(tmp_path / "bad.srt"),
        "missing": str(tmp_path / "missing.srt"),
    }
    result = museum(settings, *(arg.format(**paths) for arg in args))
    assert result.exit_code == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert asset_row_at(settings) == BASE


def test_the_captions_commands_speak_vietnamese(settings: Settings, video: Path) -> None:
    result = museum(settings, "list", "nope", language="vi")
    assert result.exit_code == 1 and "Không có tư liệu nào mang mã nope." in result.stderr
    result = museum(settings, "show", ASSET, "--lang", "vi", language="vi")
    assert result.exit_code == 1 and "không có phụ đề tiếng vi" in result.stderr


def asset_row_at(settings: Settings) -> str | None:
    database = Database(settings.resolved_database_url)
    try:
        return asset_row(database).published_version
    finally:
        database.dispose()
