"""Build ``assets/samples/``, the demo's sample media, from the shared corpus (docs/demo.md).

Four files are copied byte for byte, each checked against the SHA-256 its origin gave it.
Two are made here, the same bytes on every run:

- ``esp32cam-rig-scan.zip``: the MIT-licensed photogrammetry scan (OBJ + MTL + texture, with
  the repository's LICENSE) as the ZIP bundle ``museum process`` and the 3D pipeline accept.
  Its 4096 x 4096 PNG texture (2.8 MB, 90 % black atlas background) is re-encoded as a JPEG
  (quality 90, 4:4:4 chroma: about 0.8 MB) and the MTL's ``map_Kd`` names the JPEG instead;
  the pipeline re-encodes every texture as JPEG for the web in any case. The OBJ is unchanged.
- ``sample-collection.pdf``: two A4 pages of the project's own text about the sample
  collection, in Vietnamese and in English, for OCR (Tesseract ``vie+eng``) to read.

The caption files ``flower.vi.vtt`` and ``flower.en.vtt`` are written by hand, not here.

    .venv/bin/python scripts/make_sample_media.py [--corpus ../shared/corpus] [--out assets/samples]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
OUT = ROOT / "assets" / "samples"


@dataclass(frozen=True)
class Copied:
    """A corpus file shipped unchanged, under a clearer name."""

    source: str  # inside the corpus
    target: str  # inside assets/samples
    sha256: str


COPIED = (
    Copied(
        "images/large/natural_earth_NE2_4000x2000.jpg",
        "natural-earth-2-world.jpg",
        "b12c7470f77679110fee16a653dbe9e808f8ec0d75e6359225ad481924406791",
    ),
    Copied(
        "av/mdn/flower.mp4",
        "flower.mp4",
        "0cd83d944a6ca7822b4a8306cecc60a36e859b041f6702c6a1ad9ead78924451",
    ),
    Copied(
        "av/percussion_cc0/loop_tabla.flac",
        "tabla-loop.flac",
        "7dbb7d6e216aece300700453c9734ecd6f56ec75dd56a5365c6a12194ed3ebab",
    ),
    Copied(
        "av/speech/librispeech_198-209-0000.hq.ogg",
        "librispeech-198-209-0000.ogg",
        "6a8d2c16e56dcb27b7f5fe5aa99bfd26b4722a6dabca1968eff951b456936514",
    ),
)

SCAN_FOLDER = "3d/photogrammetry_obj_esp32rig"
SCAN_BUNDLE = "esp32cam-rig-scan.zip"
SCAN_SHA256 = {
    "texturedMesh.obj": "d80b739d99c19caf794e5d787188cbacd40b7918efea76d6ea81db980287c154",
    "texturedMesh.mtl": "a5167106f665452f83905d54f809a8fb97f521e61dcb389573844f67332b7732",
    "texture_1001.png": "a6d67c6ff604735dfcb3f0ae0444a59b975da41eed4ee7ba93bb3e8b62edc20d",
    "LICENSE": "bc8c0cc487b3c57a024d825ee13cbe276d085f7ad565dd72d1c064b3b96f6c8c",
}
TEXTURE_PNG, TEXTURE_JPEG = "texture_1001.png", "texture_1001.jpg"
TEXTURE_QUALITY = 90
# ZIP entries carry a timestamp: a fixed one (the scan's year) keeps the bundle's bytes stable.
ZIP_TIME = (2022, 1, 1, 0, 0, 0)

DOCUMENT = "sample-collection.pdf"
DOCUMENT_DATE = datetime(2026, 1, 1, tzinfo=UTC)
FONT_DIR = Path("/usr/share/fonts/truetype/noto")  # Debian fonts-noto-core, as the PDF report
FONT = "NotoSans"

PAGES = (
    (
        "Tư liệu mẫu của Bảo tàng số di sản Đắk Lắk",
        (
            "Tài liệu này thuộc bộ tư liệu mẫu đi kèm phần mềm Bảo tàng số di sản văn hóa tỉnh "
            "Đắk Lắk. Bộ tư liệu mẫu gồm một bản quét 3D, một bản đồ, tài liệu này, một đoạn "
            "phim và hai bản ghi âm.",
            "Đây không phải là di sản của tỉnh Đắk Lắk. Đó là những tư liệu do người khác tạo "
            "ra, được phép dùng lại và phân phối lại, dùng để trình diễn cách phần mềm lưu "
            "giữ, xử lý và trưng bày tư liệu số.",
            "Mỗi tệp được lưu nguyên gốc với mã kiểm tra SHA-256, rồi được xử lý: bản quét 3D "
            "thành mô hình glTF với nhiều mức chi tiết; ảnh và tài liệu thành ảnh phóng to "
            "theo chuẩn IIIF, chữ trong tài liệu được nhận dạng tự động (OCR); phim và âm "
            "thanh thành luồng HLS có phụ đề.",
            "Báo cáo tiến độ số hóa gửi Ủy ban nhân dân tỉnh không tính các tư liệu mẫu này. "
            "Khi bảo tàng có bản số hóa thật của di sản Đắk Lắk, có thể gỡ bỏ chúng.",
            "Nguồn gốc và giấy phép của từng tệp được ghi trong tệp assets/samples/README.md.",
        ),
    ),
    (
        "Sample media of the Đắk Lắk digital heritage museum",
        (
            "This document belongs to the sample media that come with the Đắk Lắk digital "
            "heritage museum software. The samples are a 3D scan, a map, this document, a "
            "short film and two sound recordings.",
            "They are not heritage of Đắk Lắk province. They were made by others, under "
            "licences that allow reuse and redistribution, and they show how the software "
            "keeps, processes and presents digital media.",
            "Each file is stored unchanged with its SHA-256 checksum, then processed: the 3D "
            "scan into glTF models at several levels of detail; the image and this document "
            "into IIIF deep-zoom images, the document's words read by OCR; the film and the "
            "recordings into HLS streams with captions.",
            "The digitization progress report to the Provincial People's Committee does not "
            "count these samples. Once the museum has real digitized Đắk Lắk heritage, they "
            "can be removed.",
            "The origin and licence of every file are listed in assets/samples/README.md.",
        ),
    ),
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_checked(path: Path, expected: str) -> bytes:
    """The file's bytes, refused when they are not the ones the corpus recorded."""
    data = path.read_bytes()
    if sha256(data) != expected:
        raise SystemExit(f"{path}: SHA-256 {sha256(data)} is not the expected {expected}")
    return data


def copy_files(corpus: Path, out: Path) -> None:
    for item in COPIED:
        read_checked(corpus / item.source, item.sha256)
        shutil.copyfile(corpus / item.source, out / item.target)


def texture_jpeg(png: bytes) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        buffer = io.BytesIO()
        image.convert("RGB").save(
            buffer, "JPEG", quality=TEXTURE_QUALITY, subsampling=0, optimize=True
        )
    return buffer.getvalue()


def scan_bundle(corpus: Path) -> bytes:
    """The ZIP bundle of the scan, its texture as JPEG and the MTL pointing at it."""
    folder = corpus / SCAN_FOLDER
    files = {name: read_checked(folder / name, digest) for name, digest in SCAN_SHA256.items()}
    mtl = files.pop("texturedMesh.mtl").decode("utf-8")
    if f"map_Kd {TEXTURE_PNG}" not in mtl:
        raise SystemExit(f"texturedMesh.mtl no longer names {TEXTURE_PNG}")
    files["texturedMesh.mtl"] = mtl.replace(TEXTURE_PNG, TEXTURE_JPEG).encode("utf-8")
    files[TEXTURE_JPEG] = texture_jpeg(files.pop(TEXTURE_PNG))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            entry = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, files[name], zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getvalue()


def document() -> bytes:
    """Two A4 pages of text, Vietnamese then English, in Noto Sans (Vietnamese glyphs)."""
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_creation_date(DOCUMENT_DATE)
    pdf.set_title("Tư liệu mẫu / Sample media")
    pdf.set_author("Đắk Lắk digital heritage museum developers")
    pdf.set_margins(25, 25, 25)
    pdf.add_font(FONT, "", str(FONT_DIR / "NotoSans-Regular.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "NotoSans-Bold.ttf"))
    for heading, paragraphs in PAGES:
        pdf.add_page()
        pdf.set_font(FONT, "B", 18)
        pdf.multi_cell(0, 10, heading, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(6)
        pdf.set_font(FONT, "", 13)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 7.5, paragraph, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
    return bytes(pdf.output())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    copy_files(args.corpus, args.out)
    (args.out / SCAN_BUNDLE).write_bytes(scan_bundle(args.corpus))
    (args.out / DOCUMENT).write_bytes(document())
    for path in sorted(args.out.iterdir()):
        print(f"{sha256(path.read_bytes())}  {path.stat().st_size:>9}  {path.name}")


if __name__ == "__main__":
    main()
