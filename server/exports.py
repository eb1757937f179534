"""Open-data exports of the public catalog: CSV, JSON and a BagIt archive.

Only what an anonymous visitor may see is exported: records are read through
:func:`server.records.visible` and :func:`~server.records.bundle_for`, and every
format is built from the same :func:`~server.records.record_json` documents, so
the formats always agree. Catalog data is CC0; each record's ``rights`` states
the rights of its media. CSV cells that a spreadsheet would run as a formula
are neutralised with a leading apostrophe. Files are written beside their
target and renamed into place, so a reader never sees half an export.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.to_thread
import bagit
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.types import Receive, Scope, Send

from server import __version__
from server.cells import FORMULA_TRIGGERS, is_plain_number
from server.errors import N_, NotFound, ValidationError
from server.models import Record, utcnow
from server.records import bundle_for, iso, record_json, visible
from server.responses import if_none_match
from server.state import get_museum
from server.storage import atomic_file
from server.vocab import CONTENT_LANGUAGES, PUBLIC_ACCESS

CATALOG_LICENCE = "https://creativecommons.org/publicdomain/zero/1.0/"
CATALOG_LICENCE_ID = "CC0-1.0"
SOURCE_ORGANIZATION = "Bảo tàng Di sản số Đắk Lắk (Đắk Lắk Digital Heritage Museum)"
EXPORT_NAME = "danh-mục-di-sản-đắk-lắk"
EXPORT_CACHE = "public, max-age=300"
LIST_JOIN = "; "
BAGIT_VERSION = "1.0"
BAG_ALGORITHM = "sha256"
COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class CsvColumn:
    """A column of catalog.csv, with its data-dictionary entry (Vietnamese, English)."""

    name: str
    value: Callable[[dict[str, Any]], Any]
    vi: str
    en: str


def _field(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda record: record.get(name)


def _language(name: str, lang: str) -> Callable[[dict[str, Any]], Any]:
    return lambda record: (record.get(name) or {}).get(lang, "")


def _ids(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda record: [item["id"] if isinstance(item, dict) else item for item in record[name]]


_LANGUAGE_NAMES = {
    "vi": ("tiếng Việt", "Vietnamese"),
    "en": ("tiếng Anh", "English"),
    "rad": ("tiếng Êđê", "Êđê"),
    "mng": ("tiếng M'nông", "M'nông"),
    "jra": ("tiếng Jrai", "Jarai"),
}

CSV_COLUMNS: tuple[CsvColumn, ...] = (
    CsvColumn("id", _field("id"), "Mã định danh", "Identifier"),
    CsvColumn("kind", _field("kind"), "Loại di sản (mã)", "Kind of heritage (code)"),
    *(
        CsvColumn(
            f"title_{lang}",
            _language("title", lang),
            f"Tên ({_LANGUAGE_NAMES[lang][0]})",
            f"Title ({_LANGUAGE_NAMES[lang][1]})",
        )
        for lang in CONTENT_LANGUAGES
    ),
    *(
        CsvColumn(
            f"description_{lang}",
            _language("description", lang),
            f"Mô tả ({_LANGUAGE_NAMES[lang][0]})",
            f"Description ({_LANGUAGE_NAMES[lang][1]})",
        )
        for lang in CONTENT_LANGUAGES
    ),
    CsvColumn("category", _field("category"), "Loại hình (như nguồn ghi)", "Category, as stated"),
    CsvColumn("subtype", _field("subtype"), "Loại hình (mã)", "Subtype (code)"),
    CsvColumn("designation", _field("designation"), "Cấp xếp hạng (mã)", "Ranking (code)"),
    CsvColumn("ranking", _field("ranking"), "Xếp hạng (như nguồn ghi)", "Ranking, as stated"),
    CsvColumn("ranking_year", _field("ranking_year"), "Năm xếp hạng", "Year of ranking"),
    CsvColumn(
        "decisions",
        lambda record: [d.get("text", "") for d in record["decisions"]],
        "Quyết định công nhận",
        "Recognition decisions",
    ),
    CsvColumn(
        "registration_number",
        _field("registration_number"),
        "Số đăng ký hiện vật",
        "Registration number",
    ),
    CsvColumn("materials", _field("materials"), "Chất liệu", "Materials"),
    CsvColumn("techniques", _field("techniques"), "Kỹ thuật chế tác", "Techniques"),
    CsvColumn("dimensions", _field("dimensions"), "Kích thước", "Dimensions"),
    CsvColumn("dating", _field("dating"), "Niên đại (như ghi)", "Dating, as stated"),
    CsvColumn(
        "date_earliest",
        _field("date_earliest"),
        "Năm sớm nhất (âm: TCN)",
        "Earliest year (BCE < 0)",
    ),
    CsvColumn(
        "date_latest", _field("date_latest"), "Năm muộn nhất (âm: TCN)", "Latest year (BCE < 0)"
    ),
    CsvColumn("period", _field("period"), "Thời kỳ", "Period"),
    CsvColumn("condition", _field("condition"), "Tình trạng bảo quản", "Condition"),
    CsvColumn("provenance", _field("provenance"), "Nguồn gốc", "Provenance"),
    CsvColumn("ethnic_groups", _field("ethnic_groups"), "Dân tộc", "Ethnic groups"),
    CsvColumn(
        "location_current",
        lambda record: record["location"]["current"],
        "Địa điểm (địa giới hiện nay)",
        "Location (current units)",
    ),
    CsvColumn(
        "location_historical",
        lambda record: record["location"]["historical"],
        "Địa điểm (trước 1/7/2025)",
        "Location (before 1 July 2025)",
    ),
    CsvColumn("places", _ids("places"), "Địa danh (mã)", "Places (ids)"),
    CsvColumn("agents", _ids("agents"), "Người, cộng đồng (mã)", "People, communities (ids)"),
    CsvColumn("collections", _ids("collections"), "Sưu tập (mã)", "Collections (ids)"),
    CsvColumn(
        "media_count", lambda record: len(record["media"]), "Số tư liệu số", "Number of media"
    ),
    CsvColumn("rights", _field("rights"), "Quyền đối với tư liệu số (URI)", "Rights of the media"),
    CsvColumn("rights_holder", _field("rights_holder"), "Chủ sở hữu quyền", "Rights holder"),
    CsvColumn(
        "digitization_status",
        lambda record: record["digitization"]["status"],
        "Trạng thái số hóa",
        "Digitization status",
    ),
    CsvColumn(
        "digitization_priority",
        lambda record: record["digitization"]["priority"],
        "Mức ưu tiên số hóa (1–5)",
        "Digitization priority (1–5)",
    ),
    CsvColumn("sources", _field("sources"), "Nguồn tham khảo", "Sources"),
    CsvColumn("needs_verify", _field("needs_verify"), "Cần kiểm chứng", "Still to be verified"),
    CsvColumn("updated_at", _field("updated_at"), "Cập nhật lúc (UTC)", "Last updated (UTC)"),
)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    count: int
    digest: str


# Cells and names


def neutralise_cell(value: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would run (``=``, ``+``, ``-``, ``@``, tab, CR).

    Plain numbers such as ``-500`` (a year BCE) stay as they are.
    """
    if value and value.startswith(FORMULA_TRIGGERS) and not is_plain_number(value):
        return "'" + value
    return value


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return LIST_JOIN.join(str(item) for item in value)
    return str(value)


def ascii_filename(name: str) -> str:
    """The file name without marks (đ→d), for clients that do not read ``filename*``."""
    folded = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in plain)


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """RFC 6266: a quoted ASCII fallback and the exact name as RFC 8187 ``filename*``."""
    return (
        f'{disposition}; filename="{ascii_filename(filename)}"; '
        f"filename*=UTF-8''{quote(filename, safe='')}"
    )


def export_filename(extension: str, generated_at: datetime) -> str:
    return f"{EXPORT_NAME}-{generated_at:%Y%m%d}.{extension}"


# Atomic output


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """A temporary directory beside ``target``, renamed to it when the block succeeds."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValidationError(
            N_("{path} already exists; choose another path or remove it first."),
            parameter="out",
            path=str(target),
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield temporary
        temporary.replace(target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


# Reading the public catalog


def public_records(
    session: Session, access_levels: Sequence[str] = PUBLIC_ACCESS
) -> list[dict[str, Any]]:
    """``record_json`` of every record the public may see, by id."""
    records = session.scalars(visible(select(Record), access_levels).order_by(Record.id)).all()
    return [record_json(bundle_for(session, record, access_levels)) for record in records]


def catalog_digest(records: Sequence[dict[str, Any]]) -> str:
    """SHA-256 of the records' canonical JSON: equal digests, equal data in every format."""
    canonical = json.dumps(records, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# Writers: records -> file


def write_csv(records: Sequence[dict[str, Any]], path: Path) -> None:
    """UTF-8 with BOM (Excel reads it as UTF-8), CRLF rows, lists joined with "; "."""
    with (
        atomic_file(path) as temporary,
        temporary.open("w", encoding="utf-8-sig", newline="") as out,
    ):
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([column.name for column in CSV_COLUMNS])
        for record in records:
            writer.writerow(
                [neutralise_cell(csv_cell(column.value(record))) for column in CSV_COLUMNS]
            )


def catalog_document(records: Sequence[dict[str, Any]], generated_at: datetime) -> dict[str, Any]:
    return {
        "generated_at": iso(generated_at),
        "source": {"organization": SOURCE_ORGANIZATION, "software": f"daklak-museum {__version__}"},
        "licence": {
            "catalog": {"id": CATALOG_LICENCE_ID, "url": CATALOG_LICENCE},
            "media": "Each record's `rights` states the rights of its media.",
        },
        "count": len(records),
        "records": list(records),
    }


def write_json(records: Sequence[dict[str, Any]], path: Path, generated_at: datetime) -> None:
    with atomic_file(path) as temporary, temporary.open("w", encoding="utf-8") as out:
        json.dump(catalog_document(records, generated_at), out, ensure_ascii=False, indent=2)
        out.write("\n")


def write_bag(records: Sequence[dict[str, Any]], target: Path, generated_at: datetime) -> None:
    """A BagIt bag at ``target``, or a zip holding one when ``target`` ends in ``.zip``."""
    if target.suffix.lower() != ".zip":
        with atomic_directory(target) as bag:
            build_bag(records, bag, generated_at)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".bag-") as work:
        bag = Path(work) / f"daklak-catalog-{generated_at:%Y%m%d}"
        bag.mkdir()
        build_bag(records, bag, generated_at)
        with atomic_file(target) as temporary:
            zip_directory(bag, temporary, generated_at)


def build_bag(records: Sequence[dict[str, Any]], bag: Path, generated_at: datetime) -> None:
    """Fill the empty directory ``bag`` with a BagIt 1.0 bag (SHA-256), then validate it.

    The bag is written here rather than by ``bagit.make_bag``, which changes the
    process's working directory and so is unsafe in a server's worker threads;
    the bagit library validates the result.
    """
    data = bag / "data"
    data.mkdir()
    write_csv(records, data / "catalog.csv")
    write_json(records, data / "catalog.json", generated_at)
    (data / "README.md").write_text(readme(len(records), generated_at), encoding="utf-8")
    payload = sorted(path for path in data.rglob("*") if path.is_file())
    (bag / "bagit.txt").write_text(
        f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: UTF-8\n", encoding="utf-8"
    )
    _write_manifest(bag, f"manifest-{BAG_ALGORITHM}.txt", payload)
    size = sum(path.stat().st_size for path in payload)
    _write_bag_info(bag, size, len(payload), generated_at)
    tags = [bag / "bagit.txt", bag / "bag-info.txt", bag / f"manifest-{BAG_ALGORITHM}.txt"]
    _write_manifest(bag, f"tagmanifest-{BAG_ALGORITHM}.txt", tags)
    bagit.Bag(str(bag)).validate()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_manifest(bag: Path, name: str, files: Sequence[Path]) -> None:
    lines = [f"{_sha256(path)}  {path.relative_to(bag).as_posix()}\n" for path in files]
    (bag / name).write_text("".join(lines), encoding="utf-8")


def _write_bag_info(bag: Path, size: int, count: int, generated_at: datetime) -> None:
    info = {
        "Source-Organization": SOURCE_ORGANIZATION,
        "External-Description": (
            "Danh mục di sản văn hóa công khai của tỉnh Đắk Lắk (dữ liệu mở). "
            "The public heritage catalog of Đắk Lắk province (open data)."
        ),
        "Bagging-Date": f"{generated_at:%Y-%m-%d}",
        "Bag-Software-Agent": f"daklak-museum {__version__}",
        "Payload-Oxum": f"{size}.{count}",
        "Bag-Size": f"{size} bytes",
        "Rights": f"Catalog data: {CATALOG_LICENCE_ID} ({CATALOG_LICENCE}); media: see each record",
    }
    text = "".join(f"{label}: {value}\n" for label, value in info.items())
    (bag / "bag-info.txt").write_text(text, encoding="utf-8")


def zip_directory(directory: Path, target: Path, generated_at: datetime) -> None:
    """Zip ``directory`` (as its own top-level folder) with fixed timestamps."""
    stamp = generated_at.timetuple()[:6]
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if not path.is_file():
                continue
            name = f"{directory.name}/{path.relative_to(directory).as_posix()}"
            entry = zipfile.ZipInfo(name, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            with path.open("rb") as source, archive.open(entry, "w") as sink:
                shutil.copyfileobj(source, sink, COPY_CHUNK)


def readme(count: int, generated_at: datetime) -> str:
    """data/README.md of the bag: what the files are, the data dictionary, the licence."""
    rows = "\n".join(f"| `{c.name}` | {c.vi} | {c.en} |" for c in CSV_COLUMNS)
    return f"""# Danh mục di sản Đắk Lắk · Đắk Lắk heritage catalog

{SOURCE_ORGANIZATION}. Tạo lúc / generated at {iso(generated_at)}; {count} hồ sơ / records.

- `catalog.json`: mỗi hồ sơ đầy đủ, đa ngôn ngữ (dạng chuẩn). Every record in full, multilingual
  (the authoritative form), with `generated_at`, `licence` and `count`.
- `catalog.csv`: một dòng một hồ sơ, UTF-8 có BOM; danh sách nối bằng "; ". One row per record,
  UTF-8 with BOM; lists joined with "; ". A cell that begins with `=`, `+`, `-` or `@` (and is
  not a number) starts with an apostrophe `'` so that spreadsheets show it instead of running it.

Chỉ gồm các hồ sơ công khai. Only records open to the public are included.

## Giấy phép · Licence

Dữ liệu danh mục: CC0 1.0 ({CATALOG_LICENCE}). Catalog data: CC0 1.0, no rights reserved.
Quyền đối với ảnh, mô hình 3D, âm thanh và video: xem trường `rights` của từng hồ sơ.
Rights in the media (photos, 3D models, audio, video): see each record's `rights`.

## Từ điển dữ liệu · Data dictionary (catalog.csv)

| cột / column | ý nghĩa | meaning |
|---|---|---|
{rows}
"""


# Exports from a session (the command line)


def export_csv(session: Session, out_path: Path) -> ExportResult:
    records = public_records(session)
    write_csv(records, out_path)
    return ExportResult(out_path, len(records), catalog_digest(records))


def export_json(session: Session, out_path: Path) -> ExportResult:
    records = public_records(session)
    write_json(records, out_path, utcnow())
    return ExportResult(out_path, len(records), catalog_digest(records))


def export_bagit(session: Session, out_dir_or_zip: Path) -> ExportResult:
    """A bag directory, or a zip of it when the path ends in ``.zip``."""
    records = public_records(session)
    write_bag(records, out_dir_or_zip, utcnow())
    return ExportResult(out_dir_or_zip, len(records), catalog_digest(records))


# The HTTP endpoint


@dataclass(frozen=True)
class ExportFormat:
    extension: str
    media_type: str
    write: Callable[[Sequence[dict[str, Any]], Path, datetime], None]


FORMATS = {
    "csv": ExportFormat(
        "csv", "text/csv; charset=utf-8; header=present", lambda r, p, _: write_csv(r, p)
    ),
    "json": ExportFormat("json", "application/json", write_json),
    "bagit.zip": ExportFormat("bagit.zip", "application/zip", write_bag),
}


def parse_export_format(fmt: str) -> ExportFormat:
    try:
        return FORMATS[fmt]
    except KeyError:
        raise NotFound(
            N_(
                "There is no catalog export as {format}; "
                "use catalog.csv, catalog.json or catalog.bagit.zip."
            ),
            parameter="fmt",
            format=fmt,
        ) from None


class BuiltFileResponse(FileResponse):
    """A file built for this request: always sent whole, since a range of one build must
    not be joined to a range of another (their ``generated_at`` differ)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(name, value) for name, value in scope["headers"] if name != b"range"]
        await super().__call__({**scope, "headers": headers}, receive, send)


async def catalog_export(request: Request) -> Response:
    """The public catalog as catalog.csv, catalog.json or catalog.bagit.zip (open data)."""
    export = parse_export_format(request.path_params["fmt"])
    museum = get_museum(request)
    records = await museum.db.run(public_records)
    tag = f'"{export.extension}-{catalog_digest(records)[:32]}"'
    headers = {
        # Weak: equal data, but each build stamps its own generated_at.
        "etag": f"W/{tag}",
        "cache-control": EXPORT_CACHE,
        "access-control-allow-origin": "*",
        "accept-ranges": "none",
    }
    if if_none_match(request, tag):
        return Response(status_code=304, headers=headers)
    generated_at = utcnow()
    filename = export_filename(export.extension, generated_at)
    workdir = await anyio.to_thread.run_sync(_workdir, museum.store.tmp)
    try:
        await anyio.to_thread.run_sync(export.write, records, workdir / filename, generated_at)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    headers["content-disposition"] = content_disposition(filename)
    return BuiltFileResponse(
        workdir / filename,
        media_type=export.media_type,
        headers=headers,
        background=BackgroundTask(partial(shutil.rmtree, workdir, ignore_errors=True)),
    )


def _workdir(tmp: Path) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="export-", dir=tmp))
