"""The demo's sample media: licence-clean files from ``assets/samples`` as clearly marked sample
records, processed like any upload and shown together in the ``sample-media`` exhibition.

We have no real Đắk Lắk scans yet (DESIGN.md, "Honest demo content"). So that the 3D viewer,
deep zoom, the document viewer and the player have something real to show, ``museum demo``
loads six files made by others under open licences (``assets/samples/README.md``): each one a
record whose title starts "Tư liệu mẫu" / "Sample media", whose rights fields carry the file's
licence and holder, and which belongs to the ``sample-media`` collection. :func:`is_sample` is
the SQL condition on that membership: the progress report leaves those records out, and any
list of the province's heritage should too.

Loading is idempotent: records are updated in place, a file already stored is the same asset,
and a file is queued for processing only while it has neither a published version nor a job
waiting (so a job that failed is queued again by the next load). Human captions of the video
are kept in the catalog before its job is queued, so the pipeline publishes them with it; when
the video is already published, changed captions are published as a new version at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from server.errors import N_, NotFound
from server.models import CollectionRecord, Record, utcnow

if TYPE_CHECKING:
    from server.catalog import ImportSummary
    from server.cli_common import Ui
    from server.jobs import JobService

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "samples"
SAMPLE_COLLECTION = "sample-media"  # the collection that marks sample records
EXHIBITION_ID = "sample-media"
PENDING_JOBS = ("queued", "running")
PROJECT = "Đắk Lắk digital heritage museum developers"

CC0 = "http://creativecommons.org/publicdomain/zero/1.0/"
CC_BY_4 = "http://creativecommons.org/licenses/by/4.0/"
PUBLIC_DOMAIN_MARK = "http://creativecommons.org/publicdomain/mark/1.0/"
MIT = "https://opensource.org/license/mit"
APACHE_2 = "https://www.apache.org/licenses/LICENSE-2.0"

Text = dict[str, str]


@dataclass(frozen=True)
class CaptionFile:
    """People's captions of a sample recording in one language (a WebVTT file beside it)."""

    language: str
    file: str


@dataclass(frozen=True)
class Sample:
    """One sample file and the record that presents it."""

    record_id: str
    file: str  # in assets/samples
    media_kind: str  # what processes it: model, image, document, video, audio
    kind: str  # the record's kind (server.vocab.KINDS)
    subtype: str
    title: Text
    description: Text
    rights: str  # the licence's URI
    rights_holder: str
    credit: Text
    provenance: str
    sources: tuple[str, ...]
    dating: str
    stop_title: Text
    stop_text: Text
    captions: tuple[CaptionFile, ...] = ()


SAMPLES = (
    Sample(
        record_id="SAMPLE-3D-01",
        file="esp32cam-rig-scan.zip",
        media_kind="model",
        kind="hien_vat",
        subtype="",
        title={
            "vi": "Tư liệu mẫu — bản quét 3D quang trắc: đế giàn máy ảnh ESP32-CAM",
            "en": "Sample media — photogrammetry 3D scan: base of an ESP32-CAM camera rig",
        },
        description={
            "vi": "Tư liệu mẫu để trình diễn trình xem 3D, không phải hiện vật của tỉnh Đắk Lắk. "
            "Bản quét quang trắc (AliceVision) phần đế của một giàn máy ảnh tự chế dùng mô-đun "
            "ESP32-CAM: khối xốp tròn, bàn cờ hiệu chuẩn, giá dụng cụ; 53.364 tam giác, ảnh bề "
            "mặt 4096 × 4096 điểm ảnh. Tác giả: Magnus Haw (2022), kho mã nguồn "
            "magnus-haw/esp32cam-rig, giấy phép MIT. Ảnh bề mặt PNG gốc được chuyển sang JPEG "
            "để gói tệp nhỏ hơn.",
            "en": "Sample media to show the 3D viewer, not an artefact of Đắk Lắk province. A "
            "photogrammetry scan (AliceVision) of the base of a home-made camera rig built on "
            "ESP32-CAM modules: a foam cylinder, a calibration checkerboard, a tool holder; "
            "53,364 triangles, a 4096 × 4096 pixel texture. By Magnus Haw (2022), repository "
            "magnus-haw/esp32cam-rig, MIT License. The original PNG texture was re-encoded as "
            "JPEG to keep the bundle small.",
        },
        rights=MIT,
        rights_holder="Magnus Haw",
        credit={
            "vi": "Bản quét: Magnus Haw, 2022 (giấy phép MIT)",
            "en": "Scan: Magnus Haw, 2022 (MIT License)",
        },
        provenance="github.com/magnus-haw/esp32cam-rig @ 654002e13a18: texturedMesh.obj, "
        "texturedMesh.mtl, texture_1001.png (re-encoded as JPEG), LICENSE",
        sources=("https://github.com/magnus-haw/esp32cam-rig",),
        dating="2022",
        stop_title={"vi": "Bản quét 3D", "en": "3D scan"},
        stop_text={
            "vi": "Một bản quét quang trắc: xoay, phóng to và đo mô hình.",
            "en": "A photogrammetry scan: turn, zoom and measure the model.",
        },
    ),
    Sample(
        record_id="SAMPLE-IMG-01",
        file="natural-earth-2-world.jpg",
        media_kind="image",
        kind="di_san_tu_lieu",
        subtype="",
        title={
            "vi": "Tư liệu mẫu — ảnh lớn: bản đồ thế giới Natural Earth II",
            "en": "Sample media — large image: the Natural Earth II world map",
        },
        description={
            "vi": "Tư liệu mẫu để trình diễn ảnh phóng to (IIIF), không phải di sản của tỉnh "
            "Đắk Lắk. Bản đồ thế giới Natural Earth II: địa hình bóng đổ, mặt nước và đáy đại "
            "dương, 4000 × 2000 điểm ảnh. Thuộc phạm vi công cộng (Natural Earth, "
            "naturalearthdata.com); tệp lấy từ kho pyvista/vtk-data.",
            "en": "Sample media to show deep zoom (IIIF), not heritage of Đắk Lắk province. The "
            "Natural Earth II world map: shaded relief, water and ocean bottom, 4000 × 2000 "
            "pixels. Public domain (Natural Earth, naturalearthdata.com); the file comes from "
            "the pyvista/vtk-data repository.",
        },
        rights=PUBLIC_DOMAIN_MARK,
        rights_holder="Natural Earth (public domain)",
        credit={
            "vi": "Bản đồ: Natural Earth II, naturalearthdata.com (phạm vi công cộng)",
            "en": "Map: Natural Earth II, naturalearthdata.com (public domain)",
        },
        provenance="github.com/pyvista/vtk-data @ 126ee906165a: "
        "Data/Infovis/Images/NE2_ps_bath.jpg",
        sources=("https://www.naturalearthdata.com/", "https://github.com/pyvista/vtk-data"),
        dating="",
        stop_title={"vi": "Ảnh lớn", "en": "Large image"},
        stop_text={
            "vi": "Một ảnh 8 megapixel được chia ô IIIF: phóng to đến từng điểm ảnh.",
            "en": "An 8-megapixel image cut into IIIF tiles: zoom in to single pixels.",
        },
    ),
    Sample(
        record_id="SAMPLE-DOC-01",
        file="sample-collection.pdf",
        media_kind="document",
        kind="di_san_tu_lieu",
        subtype="tai_lieu",
        title={
            "vi": "Tư liệu mẫu — tài liệu: giới thiệu bộ tư liệu mẫu (tiếng Việt và tiếng Anh)",
            "en": "Sample media — document: about the sample media (Vietnamese and English)",
        },
        description={
            "vi": "Tư liệu mẫu để trình diễn tài liệu nhiều trang và nhận dạng chữ (OCR), không "
            "phải di sản của tỉnh Đắk Lắk. Hai trang do nhóm phát triển bảo tàng số viết, giới "
            "thiệu bộ tư liệu mẫu bằng tiếng Việt và tiếng Anh; tạo bởi "
            "scripts/make_sample_media.py, giấy phép Apache 2.0 như phần mềm.",
            "en": "Sample media to show multi-page documents and text recognition (OCR), not "
            "heritage of Đắk Lắk province. Two pages by the museum software's developers about "
            "the sample media, in Vietnamese and in English; made by "
            "scripts/make_sample_media.py, Apache License 2.0 like the software.",
        },
        rights=APACHE_2,
        rights_holder=PROJECT,
        credit={
            "vi": "Văn bản: nhóm phát triển Bảo tàng số di sản Đắk Lắk (Apache 2.0)",
            "en": f"Text: the {PROJECT} (Apache 2.0)",
        },
        provenance="Written for this project; generated by scripts/make_sample_media.py",
        sources=(),
        dating="2026",
        stop_title={"vi": "Tài liệu", "en": "Document"},
        stop_text={
            "vi": "Hai trang văn bản: chữ được máy đọc (OCR) và có thể tìm kiếm.",
            "en": "Two pages of text, read by OCR and searchable.",
        },
    ),
    Sample(
        record_id="SAMPLE-VID-01",
        file="flower.mp4",
        media_kind="video",
        kind="di_san_tu_lieu",
        subtype="anh_phim",
        title={
            "vi": "Tư liệu mẫu — phim: một bông hoa nở (quay nhanh)",
            "en": "Sample media — film: a flower opening (time-lapse)",
        },
        description={
            "vi": "Tư liệu mẫu để trình diễn trình phát phim và phụ đề, không phải di sản của "
            "tỉnh Đắk Lắk. Phim quay nhanh 5 giây, 960 × 540, không có tiếng: một nụ hoa đỏ nở. "
            "Của MDN Web Docs (Mozilla), dâng hiến vào phạm vi công cộng theo CC0 1.0. Phụ đề "
            "tiếng Việt và tiếng Anh do nhóm phát triển bảo tàng số viết.",
            "en": "Sample media to show the video player and captions, not heritage of Đắk Lắk "
            "province. A 5-second silent time-lapse, 960 × 540: a red flower bud opens. From MDN "
            "Web Docs (Mozilla), dedicated to the public domain under CC0 1.0. Vietnamese and "
            "English captions written by the museum software's developers.",
        },
        rights=CC0,
        rights_holder="MDN Web Docs (Mozilla), CC0",
        credit={
            "vi": "Phim: MDN Web Docs (CC0); phụ đề: nhóm phát triển bảo tàng số",
            "en": "Film: MDN Web Docs (CC0); captions: the museum software's developers",
        },
        provenance="github.com/mdn/interactive-examples @ 13024db581b0: "
        "live-examples/media/cc0-videos/flower.mp4 (also mdn/shared-assets videos/flower.mp4)",
        sources=("https://github.com/mdn/interactive-examples",),
        dating="2018",
        stop_title={"vi": "Phim", "en": "Film"},
        stop_text={
            "vi": "Phim truyền theo luồng HLS, có phụ đề tiếng Việt và tiếng Anh.",
            "en": "A film streamed over HLS, with Vietnamese and English captions.",
        },
        captions=(CaptionFile("vi", "flower.vi.vtt"), CaptionFile("en", "flower.en.vtt")),
    ),
    Sample(
        record_id="SAMPLE-AUD-01",
        file="tabla-loop.flac",
        media_kind="audio",
        kind="di_san_tu_lieu",
        subtype="",
        title={
            "vi": "Tư liệu mẫu — âm thanh: một nhịp trống tabla",
            "en": "Sample media — sound: a tabla rhythm",
        },
        description={
            "vi": "Tư liệu mẫu để trình diễn trình phát âm thanh, không phải di sản của tỉnh Đắk "
            "Lắk. Một nhịp trống tabla (Ấn Độ) dài 11 giây, FLAC. Tác giả: lezaarth "
            "(freesound.org), CC0 1.0; tệp lấy từ gói Debian sonic-pi-samples.",
            "en": "Sample media to show the audio player, not heritage of Đắk Lắk province. An "
            "11-second tabla (Indian drum) rhythm, FLAC. By lezaarth (freesound.org), CC0 1.0; "
            "the file comes from the Debian package sonic-pi-samples.",
        },
        rights=CC0,
        rights_holder="lezaarth (freesound.org), CC0",
        credit={
            "vi": "Âm thanh: lezaarth, freesound.org (CC0)",
            "en": "Sound: lezaarth, freesound.org (CC0)",
        },
        provenance="Debian package sonic-pi-samples 3.2.2~repack-8: samples/loop_tabla.flac "
        "(freesound.org sound 242591)",
        sources=("http://freesound.org/people/lezaarth/sounds/242591/",),
        dating="2015",
        stop_title={"vi": "Âm thanh", "en": "Sound"},
        stop_text={
            "vi": "Một bản ghi âm nhạc cụ, kèm dạng sóng để nhìn.",
            "en": "A recording of an instrument, with a waveform to look at.",
        },
    ),
    Sample(
        record_id="SAMPLE-AUD-02",
        file="librispeech-198-209-0000.ogg",
        media_kind="audio",
        kind="di_san_tu_lieu",
        subtype="",
        title={
            "vi": "Tư liệu mẫu — giọng đọc tiếng Anh: một đoạn văn của Jane Austen",
            "en": "Sample media — English speech: a passage of Jane Austen",
        },
        description={
            "vi": "Tư liệu mẫu để trình diễn phụ đề nháp do máy nghe và chép lời, chờ người "
            "duyệt; không phải di sản của tỉnh Đắk Lắk. Heather Barnett đọc một đoạn tiểu "
            "thuyết Tu viện Northanger của Jane Austen (14 giây, bản ghi LibriVox), đoạn "
            "198-209-0000 của bộ dữ liệu LibriSpeech, giấy phép CC BY 4.0.",
            "en": "Sample media to show machine-drafted captions awaiting review, not heritage "
            "of Đắk Lắk province. Heather Barnett reads a passage of Jane Austen's Northanger "
            "Abbey (14 seconds, a LibriVox recording), utterance 198-209-0000 of the LibriSpeech "
            "corpus, CC BY 4.0.",
        },
        rights=CC_BY_4,
        rights_holder="LibriSpeech (V. Panayotov, G. Chen, D. Povey, S. Khudanpur); "
        "read by Heather Barnett for LibriVox",
        credit={
            "vi": "Giọng đọc: Heather Barnett (LibriVox), từ LibriSpeech, openslr.org/12 "
            "(CC BY 4.0)",
            "en": "Reading: Heather Barnett (LibriVox), from LibriSpeech, openslr.org/12 "
            "(CC BY 4.0)",
        },
        provenance="github.com/librosa/data @ 450cdd8a002c: audio/198-209-0000.hq.ogg "
        "(LibriSpeech SLR12)",
        sources=("https://www.openslr.org/12/", "https://github.com/librosa/data"),
        dating="",
        stop_title={"vi": "Giọng đọc", "en": "Speech"},
        stop_text={
            "vi": "Lời đọc tiếng Anh; phụ đề nháp do máy chép, đợi người duyệt.",
            "en": "English speech; captions drafted by a machine, awaiting review.",
        },
    ),
)

COLLECTION_TITLE = {"vi": "Tư liệu mẫu", "en": "Sample media"}
COLLECTION_DESCRIPTION = {
    "vi": "Tệp mẫu có giấy phép mở, do người khác tạo ra, để trình diễn phần mềm. Không phải di "
    "sản của tỉnh Đắk Lắk; báo cáo tiến độ số hóa không tính chúng.",
    "en": "Openly licensed files made by others, to show the software. Not heritage of Đắk Lắk "
    "province; the digitization progress report does not count them.",
}
EXHIBITION_TITLE = COLLECTION_TITLE
EXHIBITION_SUMMARY = {
    "vi": "Những tệp mẫu có giấy phép mở, do người khác tạo ra, cho thấy bảo tàng số xử lý và "
    "trưng bày bản quét 3D, ảnh, tài liệu, phim và âm thanh như thế nào. Đây không phải là hiện "
    "vật hay di sản của tỉnh Đắk Lắk.",
    "en": "Openly licensed files made by others, showing how the digital museum processes and "
    "presents 3D scans, images, documents, film and sound. They are not artefacts or heritage "
    "of Đắk Lắk province.",
}


def is_sample() -> ColumnElement[bool]:
    """SQL condition: the record is sample media (in the ``sample-media`` collection), not the
    province's heritage."""
    members = select(CollectionRecord.record_id).where(
        CollectionRecord.collection_id == SAMPLE_COLLECTION
    )
    return Record.id.in_(members)


@dataclass(frozen=True)
class SampleSummary:
    """What a load did: records and files (how many were new), jobs and guides queued."""

    records: ImportSummary
    files: int
    new_files: int
    jobs: int
    captions: int
    guides: int

    def render(self, gettext: Callable[[str], str]) -> str:
        return gettext(
            N_(
                "Sample media (exhibition {exhibition}): {records} records, {created} new; "
                "{files} files, {new_files} new in the store; {jobs} processing job(s) and "
                "{guides} audio guide(s) queued."
            )
        ).format(
            exhibition=EXHIBITION_ID,
            records=self.records.total,
            created=self.records.created,
            files=self.files,
            new_files=self.new_files,
            jobs=self.jobs,
            guides=self.guides,
        )


def load_samples(
    jobs: JobService, samples: Sequence[Sample] = SAMPLES, folder: Path = SAMPLES_DIR
) -> SampleSummary:
    """Create or refresh the sample records, store their files, queue what is unprocessed,
    and save the ``sample-media`` exhibition; safe to run any number of times.

    ``jobs`` brings the catalog, the file store and the settings (``MUSEUM_AUDIO_GUIDES``
    decides whether the sample records get audio guides, as imported records do).
    """
    from server.guides import enqueue_guides

    _check_files(samples, folder)
    records = jobs.db.call(lambda session: _save_records(session, samples), write=True)
    files = new_files = queued = captions = 0
    assets: list[str] = []
    for sample in samples:
        asset_id, created = _store(jobs, sample, folder)
        captions += _keep_captions(jobs, asset_id, sample, folder)
        queued += _queue_unprocessed(jobs, asset_id, sample.media_kind)
        files, new_files = files + 1, new_files + created
        assets.append(asset_id)
    jobs.db.call(lambda session: _save_exhibition(session, samples, assets), write=True)
    record_ids = [sample.record_id for sample in samples]
    guides = enqueue_guides(jobs.db, jobs, record_ids) if jobs.settings.audio_guides else 0
    return SampleSummary(records, files, new_files, queued, captions, guides)


def samples_after_import(ui: Ui) -> None:
    """``museum demo``: load the sample media after the seed catalog, unless
    ``MUSEUM_DEMO_SAMPLES`` is off, and say in one line what was done."""
    from server.cli_common import err_console, reported_errors
    from server.worker import build_job_service

    if not ui.settings.demo_samples:
        return
    with reported_errors(ui):
        jobs = build_job_service(ui.settings)
        try:
            summary = load_samples(jobs)
        finally:
            jobs.db.dispose()
    err_console.print(summary.render(ui.gettext), markup=False)


# Steps


def _check_files(samples: Sequence[Sample], folder: Path) -> None:
    """Refuse before writing anything when a sample file is missing (an install without
    ``assets/``): say which, and how to go on without them."""
    wanted = [folder / s.file for s in samples] + [
        folder / c.file for s in samples for c in s.captions
    ]
    missing = next((path for path in wanted if not path.is_file()), None)
    if missing is not None:
        raise NotFound(
            N_(
                "The sample media file {path} is missing. Restore assets/samples from the "
                "source distribution, or set MUSEUM_DEMO_SAMPLES=false."
            ),
            parameter="file",
            path=str(missing),
        )


def _record(sample: Sample) -> Record:
    return Record(
        id=sample.record_id,
        kind=sample.kind,
        subtype=sample.subtype,
        title=dict(sample.title),
        description=dict(sample.description),
        category="Tư liệu mẫu",
        designation="chua_xep_hang",
        rights=sample.rights,
        rights_holder=sample.rights_holder,
        credit_line=dict(sample.credit),
        provenance=sample.provenance,
        sources=list(sample.sources),
        dating=sample.dating,
        access_level="public",
        status="published",  # licence-clean samples, shown as such: the demo shows them
        digitization_status="digitized",
        published_at=utcnow(),
    )


def _save_records(session: Session, samples: Sequence[Sample]) -> ImportSummary:
    """The sample records (through the catalog import, which indexes them for search) and
    their membership of the ``sample-media`` collection."""
    from server.catalog import import_records
    from server.models import Collection

    summary = import_records(session, [_record(sample) for sample in samples])
    for sample in samples:
        record = session.get(Record, sample.record_id)
        assert record is not None
        if record.credit_line != sample.credit:  # not an imported column: kept up to date here
            record.credit_line = dict(sample.credit)
    collection = session.get(Collection, SAMPLE_COLLECTION) or Collection(id=SAMPLE_COLLECTION)
    # Equal values are no change to SQLAlchemy: loading again writes nothing.
    collection.title, collection.description = dict(COLLECTION_TITLE), dict(COLLECTION_DESCRIPTION)
    collection.access_level = "public"
    session.add(collection)
    for position, sample in enumerate(samples, 1):
        key = (SAMPLE_COLLECTION, sample.record_id)
        member = session.get(CollectionRecord, key) or CollectionRecord(
            collection_id=SAMPLE_COLLECTION, record_id=sample.record_id
        )
        member.position = position
        session.add(member)
    return summary


def _store(jobs: JobService, sample: Sample, folder: Path) -> tuple[str, bool]:
    """The file as an original and an asset of its record, as ``museum ingest`` stores it
    (nothing queued yet); the asset id and whether the bytes were new to the store."""
    from processing.sniff import Sniffed, sniff_file
    from server.cli import ingest_file

    path = folder / sample.file
    # The 3D scan is a ZIP bundle, which sniffing alone calls "other": the sample says what it is.
    sniffed = Sniffed(sniff_file(path).media_type, sample.media_kind)
    asset_id, stored = ingest_file(jobs, path, sample.record_id, sniffed, queue=False)
    jobs.db.call(partial(_credit, asset_id=asset_id, sample=sample), write=True)
    return asset_id, stored.created


def _credit(session: Session, asset_id: str, sample: Sample) -> None:
    """The file's own licence and credit (server.media_rights); its original may be
    downloaded, where the licence is open."""
    from server.models import Asset

    asset = session.get(Asset, asset_id)
    if asset is not None and (asset.license, asset.attribution) != (
        sample.rights,
        sample.rights_holder,
    ):
        asset.license, asset.attribution = sample.rights, sample.rights_holder
        asset.original_downloadable = True


def _keep_captions(jobs: JobService, asset_id: str, sample: Sample, folder: Path) -> int:
    """People's captions of the sample in the catalog (published with the next version the
    pipeline makes, or at once when the recording is already published); how many changed."""
    from processing.av.captions import cues_to_webvtt
    from server.captions import default_label, parse_captions, set_captions
    from server.models import Asset, AssetCaption

    changed = 0
    for track in sample.captions:
        data = (folder / track.file).read_bytes()
        text = cues_to_webvtt(parse_captions(data, track.file))

        def current(session: Session, language: str = track.language) -> tuple[Any, Any]:
            asset = session.get(Asset, asset_id)
            row = session.get(AssetCaption, (asset_id, language))
            version = asset.published_version if asset else None
            return version, (row.source, row.text) if row else None

        version, stored = jobs.db.call(current)
        if stored == ("human", text):
            continue
        if version is not None:
            set_captions(
                jobs.db, jobs.store, asset_id, track.language, data, track.file, author=PROJECT
            )
        else:
            row = AssetCaption(
                asset_id=asset_id,
                language=track.language,
                source="human",
                status="accepted",
                label=default_label(track.language),
                text=text,
                author=PROJECT,
            )
            jobs.db.call(partial(_merge, row=row), write=True)
        changed += 1
    return changed


def _merge(session: Session, row: Any) -> None:
    session.merge(row)


def _queue_unprocessed(jobs: JobService, asset_id: str, media_kind: str) -> int:
    """Queue the asset's pipeline unless it is published or a job for it is waiting; 1 if
    queued."""
    from processing.registry import pipeline_for
    from server.models import Asset, Job

    def needs_job(session: Session) -> bool:
        asset = session.get(Asset, asset_id)
        if asset is None or asset.published_version is not None:
            return False
        waiting = session.scalars(
            select(Job.id).where(Job.asset_id == asset_id, Job.state.in_(PENDING_JOBS))
        ).first()
        return waiting is None

    pipeline = pipeline_for(media_kind)
    if pipeline is None or not jobs.db.call(needs_job):
        return 0
    jobs.submit(pipeline, {"asset_id": asset_id}, asset_id=asset_id)
    return 1


def _save_exhibition(session: Session, samples: Sequence[Sample], assets: Sequence[str]) -> None:
    """The published ``sample-media`` exhibition, one stop per sample in order; rewritten
    only when it differs, so loading again changes nothing."""
    from server.exhibitions import save_exhibition

    wanted = {
        "id": EXHIBITION_ID,
        "title": EXHIBITION_TITLE,
        "summary": EXHIBITION_SUMMARY,
        "access_level": "public",
        "published": True,
        "stops": [
            {
                "record_id": sample.record_id,
                "asset_id": asset_id,
                "title": sample.stop_title,
                "text": sample.stop_text,
            }
            for sample, asset_id in zip(samples, assets, strict=True)
        ],
    }
    if _saved_exhibition(session) != wanted:
        save_exhibition(session, wanted)


def _saved_exhibition(session: Session) -> dict[str, Any] | None:
    """The stored exhibition in the shape :func:`server.exhibitions.save_exhibition` takes."""
    from server.models import Exhibition, ExhibitionStop

    exhibition = session.get(Exhibition, EXHIBITION_ID)
    if exhibition is None:
        return None
    stops = session.scalars(
        select(ExhibitionStop)
        .where(ExhibitionStop.exhibition_id == EXHIBITION_ID)
        .order_by(ExhibitionStop.position)
    )
    return {
        "id": exhibition.id,
        "title": exhibition.title,
        "summary": exhibition.summary,
        "access_level": exhibition.access_level,
        "published": exhibition.published,
        "stops": [
            {"record_id": s.record_id, "asset_id": s.asset_id, "title": s.title, "text": s.text}
            for s in stops
        ],
    }
