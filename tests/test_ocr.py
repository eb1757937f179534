"""OCR of document pages: Tesseract's text, boxes and the IIIF AnnotationPage built from them.

The pages are rendered here with Pillow from known text at 300 dpi, so the test knows every
character and where every line was drawn. DejaVu Sans covers every Vietnamese letter.
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from PIL import Image, ImageDraw, ImageFont

from processing import ocr
from processing.ocr import (
    OcrError,
    OcrLine,
    OcrPage,
    OcrWord,
    annotation_page,
    character_error_rate,
    edit_distance,
    ocr_page,
    parse_hocr,
)
from tests.conftest import SHARED

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
SCHEMA_PATH = SHARED / "validators" / "iiif-presentation-3" / "iiif_3_0.json"
DPI = 300
A4 = (2480, 3508)  # 210 × 297 mm at 300 dpi
MARGIN = 300
MAX_CER = 0.05  # issue 5's acceptance criterion

# About Đắk Lắk's heritage, after the seed catalog (../shared/domain/seed-catalog.csv).
VIETNAMESE = """\
Không gian văn hóa Cồng chiêng Tây Nguyên được UNESCO công nhận là Kiệt tác truyền khẩu và \
phi vật thể của nhân loại năm 2005. Tại Đắk Lắk, cuộc kiểm kê ở 587 buôn làng đã ghi nhận \
khoảng 2.307 bộ cồng chiêng, 2.633 trống H'gơr và hơn 5.520 nghệ nhân biết đánh chiêng và \
chỉnh chiêng.
Sử thi Khan của người Ê Đê được đưa vào Danh mục di sản văn hóa phi vật thể quốc gia năm 2014. \
Những bản sử thi nổi tiếng nhất là Đam San và Xinh Nhã, thường được nghệ nhân kể suốt đêm bên \
bếp lửa trong nhà dài.
Lời nói vần của người Ê Đê là lối nói nối các câu có vần hoặc âm gần nhau, được dùng trong \
truyện cổ, lời khấn, câu đố và luật tục.
Lễ mừng thọ của người M'nông được tổ chức vào tháng Giêng, tháng Hai sau mùa rẫy, khi cha mẹ \
đã ngoài sáu mươi tuổi. Con cháu làm lễ để cảm ơn công sinh thành và nuôi dưỡng.
Nhà đày Buôn Ma Thuột được xếp hạng di tích quốc gia đặc biệt năm 2018. Tháp Yang Prong ở xã \
Ea Rốk là công trình kiến trúc Chăm cổ hiếm hoi trên vùng đất Tây Nguyên.
Nghề săn bắt và thuần dưỡng voi ở Buôn Đôn gắn với đời sống của người Ê Đê, M'nông, Jrai và \
Lào. Bảo tàng Đắk Lắk lưu giữ nhiều bộ chiêng cổ, ghế Kpan, ché cổ và trống H'gơr."""
ENGLISH = """\
The Space of Gong Culture spans five provinces of the Central Highlands. A Dak Lak inventory \
of 587 villages recorded about 2,307 gong sets, 2,633 drums and about 5,520 gong players and \
tuners. The Ede epic tradition (Khan) was listed as national intangible heritage in 2014. The \
longevity celebration of the M'nong is held after the upland harvest, when parents are over 60."""
DIACRITIC_PHRASES = ("Đắk Lắk", "cồng chiêng", "Ê Đê", "H'gơr", "Buôn Ma Thuột", "Xinh Nhã")
DIACRITIC_WORDS = ("Lễ", "mừng", "thọ", "dưỡng", "truyền", "khẩu", "thuần", "rẫy", "Rốk", "đày")


def tesseract_missing() -> str | None:
    """Why the OCR runs cannot happen here, or None."""
    executable = shutil.which("tesseract")
    if executable is None:
        return "tesseract not found: install the Debian packages tesseract-ocr, tesseract-ocr-vie"
    try:
        languages = ocr.installed_languages(executable, None)
    except OcrError as exc:
        return exc.reason
    if not {"vie", "eng"} <= languages:
        return f"tesseract has {sorted(languages)}: install tesseract-ocr-vie and tesseract-ocr-eng"
    return None


TESSERACT_MISSING = tesseract_missing()
needs_tesseract = pytest.mark.skipif(TESSERACT_MISSING is not None, reason=str(TESSERACT_MISSING))
needs_font = pytest.mark.skipif(
    not FONT.is_file(),
    reason=f"{FONT} not found: install the Debian package fonts-dejavu-core",
)


# Rendering known pages


@dataclass(frozen=True)
class Rendered:
    path: Path
    text: str
    lines: list[tuple[str, tuple[int, int, int, int]]]  # drawn text, ink box x, y, w, h
    size: tuple[int, int]


def render_page(
    text: str, path: Path, size: tuple[int, int], font_px: int, margin: int
) -> Rendered:
    """Black on white, word-wrapped, one paragraph per line of ``text``."""
    font = ImageFont.truetype(str(FONT), font_px)
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    drawn: list[tuple[str, tuple[int, int, int, int]]] = []
    y = margin

    def emit(line: str) -> None:
        nonlocal y
        draw.text((margin, y), line, font=font, fill=0)
        x0, y0, x1, y1 = draw.textbbox((margin, y), line, font=font)
        drawn.append((line, (int(x0), int(y0), int(x1 - x0), int(y1 - y0))))
        y += int(font_px * 1.6)

    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if line and font.getlength(candidate) > size[0] - 2 * margin:
                emit(line)
                line = word
            else:
                line = candidate
        emit(line)
        y += font_px // 2
    assert y < size[1] - margin, "the text does not fit the page"
    image.save(path, dpi=(DPI, DPI))
    return Rendered(path, text, drawn, size)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ocr")


@pytest.fixture(scope="module")
def vietnamese(workdir: Path) -> Rendered:
    if not FONT.is_file():
        pytest.skip(f"{FONT} not found: install the Debian package fonts-dejavu-core")
    return render_page(VIETNAMESE, workdir / "vi.png", A4, font_px=50, margin=MARGIN)


@pytest.fixture(scope="module")
def vietnamese_ocr(vietnamese: Rendered, workdir: Path) -> OcrPage:
    if TESSERACT_MISSING is not None:
        pytest.skip(TESSERACT_MISSING)
    return ocr_page(vietnamese.path, workdir / "vi-out")


def folded(text: str) -> str:
    return " ".join(text.split())


# The Vietnamese page


def test_vietnamese_page_meets_the_character_error_rate(
    vietnamese: Rendered, vietnamese_ocr: OcrPage
) -> None:
    assert len(VIETNAMESE.split()) >= 150
    assert character_error_rate(vietnamese.text, vietnamese_ocr.text) <= MAX_CER
    assert vietnamese_ocr.language == "vi"
    assert 0.8 < vietnamese_ocr.mean_confidence <= 1.0


def test_diacritic_heavy_words_come_back_exactly(vietnamese_ocr: OcrPage) -> None:
    text = folded(vietnamese_ocr.text)
    assert unicodedata.is_normalized("NFC", text)
    missing = [phrase for phrase in DIACRITIC_PHRASES if phrase not in text]
    assert missing == []
    words = {word.text.strip(".,()") for word in vietnamese_ocr.words}
    assert [word for word in DIACRITIC_WORDS if word not in words] == []


def test_lines_and_words_agree_with_the_text(vietnamese_ocr: OcrPage) -> None:
    page = vietnamese_ocr
    assert folded(" ".join(line.text for line in page.lines)) == folded(page.text)
    assert " ".join(word.text for word in page.words) == " ".join(line.text for line in page.lines)
    assert all(line.language == "vi" for line in page.lines)


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = min(ax + aw, bx + bw) - max(ax, bx)
    h = min(ay + ah, by + bh) - max(ay, by)
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / (aw * ah + bw * bh - w * h)


def test_line_boxes_cover_the_drawn_lines(vietnamese: Rendered, vietnamese_ocr: OcrPage) -> None:
    assert len(vietnamese_ocr.lines) == len(vietnamese.lines)
    matched = 0
    for (drawn_text, drawn_box), line in zip(vietnamese.lines, vietnamese_ocr.lines, strict=True):
        if iou(drawn_box, line.bbox) > 0.5:
            matched += 1
        assert character_error_rate(drawn_text, line.text) <= 0.2, (drawn_text, line.text)
    assert matched >= 0.9 * len(vietnamese.lines)
    width, height = vietnamese.size
    assert (vietnamese_ocr.width, vietnamese_ocr.height) == (width, height)
    for word in vietnamese_ocr.words:
        x, y, w, h = word.bbox
        assert w > 0 and h > 0
        assert 0 <= x <= width - w and 0 <= y <= height - h


def test_the_three_files_are_kept_and_nothing_else(vietnamese_ocr: OcrPage) -> None:
    out = vietnamese_ocr.hocr.parent
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [ocr.HOCR_NAME, ocr.ALTO_NAME, ocr.TEXT_NAME]
    )
    assert vietnamese_ocr.text_file.read_text(encoding="utf-8").strip() == vietnamese_ocr.text
    # ALTO is a second witness of the same run: as many strings as the hOCR has words.
    alto = etree.parse(str(vietnamese_ocr.alto))
    strings = alto.xpath("//*[local-name()='String']/@CONTENT")
    assert [unicodedata.normalize("NFC", s) for s in strings] == [
        w.text for w in vietnamese_ocr.words
    ]


# The English page


def test_english_page(workdir: Path) -> None:
    if TESSERACT_MISSING is not None:
        pytest.skip(TESSERACT_MISSING)
    if not FONT.is_file():
        pytest.skip(f"{FONT} not found: install the Debian package fonts-dejavu-core")
    rendered = render_page(ENGLISH, workdir / "en.png", (1748, 800), font_px=42, margin=120)
    for languages in ("eng", "vie+eng"):
        page = ocr_page(rendered.path, workdir / f"en-{languages}", languages=languages)
        assert character_error_rate(ENGLISH, page.text) <= MAX_CER, languages
        assert page.language == "en", languages
        assert {line.language for line in page.lines} == {"en"}, languages


# IIIF


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    if not SCHEMA_PATH.is_file():
        pytest.skip(
            f"IIIF Presentation 3.0 schema not found at {SCHEMA_PATH}: it is read from "
            "../shared/validators (no licence to copy it; see tests/data/iiif/README.md)"
        )
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def errors(validator: jsonschema.Draft7Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


BASE = "https://museum.example/iiif/3"
CANVAS = f"{BASE}/manifests/dl-doc-01/canvas/p1"
PAGE_ID = f"{CANVAS}/ocr"
XYWH = re.compile(r"^(?P<canvas>[^#]+)#xywh=(\d+),(\d+),(\d+),(\d+)$")


def manifest_with(annotations: dict[str, Any], width: int, height: int) -> dict[str, Any]:
    image = {
        "id": f"{BASE}/p1/full/max/0/default.jpg",
        "type": "Image",
        "format": "image/jpeg",
        "width": width,
        "height": height,
    }
    return {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "id": f"{BASE}/manifests/dl-doc-01",
        "type": "Manifest",
        "label": {"vi": ["Luật tục Êđê"]},
        "items": [
            {
                "id": CANVAS,
                "type": "Canvas",
                "width": width,
                "height": height,
                "items": [
                    {
                        "id": f"{CANVAS}/page",
                        "type": "AnnotationPage",
                        "items": [
                            {
                                "id": f"{CANVAS}/painting",
                                "type": "Annotation",
                                "motivation": "painting",
                                "body": image,
                                "target": CANVAS,
                            }
                        ],
                    }
                ],
                "annotations": [annotations],
            }
        ],
    }


def test_annotation_page_validates_and_stays_on_the_canvas(
    vietnamese_ocr: OcrPage, validator: jsonschema.Draft7Validator
) -> None:
    scale = 0.5  # the canvas is a 1240 px wide derivative of the 2480 px scan
    document = annotation_page(vietnamese_ocr, CANVAS, PAGE_ID, scale=scale)
    width, height = round(vietnamese_ocr.width * scale), round(vietnamese_ocr.height * scale)
    assert errors(validator, manifest_with(document, width, height)) == []
    standalone = {"@context": "http://iiif.io/api/presentation/3/context.json", **document}
    assert errors(validator, standalone) == []
    items = document["items"]
    assert [item["id"] for item in items] == [
        f"{PAGE_ID}/line/{n}" for n in range(1, len(vietnamese_ocr.lines) + 1)
    ]
    for item, line in zip(items, vietnamese_ocr.lines, strict=True):
        assert item["motivation"] == "supplementing"
        assert item["body"] == {
            "type": "TextualBody",
            "value": line.text,
            "format": "text/plain",
            "language": "vi",
        }
        match = XYWH.match(item["target"])
        assert match is not None and match["canvas"] == CANVAS
        x, y, w, h = (int(v) for v in match.groups()[1:])
        assert 0 <= x <= width - w and 0 <= y <= height - h
        ox, oy, ow, oh = line.bbox
        assert abs(x - ox * scale) <= 1 and abs(x + w - (ox + ow) * scale) <= 1
        assert abs(y - oy * scale) <= 1 and abs(y + h - (oy + oh) * scale) <= 1


def made_page(lines: list[OcrLine], width: int, height: int) -> OcrPage:
    return OcrPage(
        text="\n".join(line.text for line in lines),
        lines=tuple(lines),
        words=(),
        language="vi",
        mean_confidence=0.9,
        width=width,
        height=height,
        hocr=Path("page.hocr"),
        alto=Path("page.alto.xml"),
        text_file=Path("page.txt"),
    )


@pytest.mark.parametrize(
    ("bbox", "size", "scale", "xywh"),
    [
        ((10, 20, 30, 40), (100, 100), 1.0, "10,20,30,40"),
        ((10, 20, 30, 40), (100, 100), 0.5, "5,10,15,20"),
        ((11, 21, 31, 41), (100, 100), 0.5, "5,10,16,21"),  # widened to whole pixels
        ((0, 0, 101, 10), (101, 50), 0.5, "0,0,50,5"),  # kept inside the 50 px canvas
        ((3, 3, 10, 10), (100, 100), 3.0, "9,9,30,30"),
    ],
)
def test_annotation_targets_scale_to_the_canvas(
    bbox: tuple[int, int, int, int], size: tuple[int, int], scale: float, xywh: str
) -> None:
    page = made_page([OcrLine("Đắk Lắk", bbox, 0.9, "vi")], *size)
    (item,) = annotation_page(page, "https://c/1", "https://c/1/ocr", scale)["items"]
    assert item["target"] == f"https://c/1#xywh={xywh}"


def test_annotation_language_follows_the_line() -> None:
    lines = [OcrLine("Đắk Lắk", (0, 0, 5, 5), 0.9, "vi"), OcrLine("gongs", (0, 9, 5, 5), 0.9, "en")]
    document = annotation_page(made_page(lines, 20, 20), "https://c/1", "https://c/1/ocr")
    assert [item["body"]["language"] for item in document["items"]] == ["vi", "en"]
    with pytest.raises(ValueError, match="scale"):
        annotation_page(made_page(lines, 20, 20), "https://c/1", "https://c/1/ocr", scale=0)


# Failures


@needs_tesseract
@needs_font
def test_a_timeout_leaves_no_files(vietnamese: Rendered, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(OcrError) as caught:
        ocr_page(vietnamese.path, out, timeout=0.01)
    assert caught.value.code == "ocr_timeout"
    assert "0.01 s" in caught.value.reason
    assert list(out.iterdir()) == []


@needs_tesseract
def test_a_text_file_is_refused_before_tesseract_reads_it(tmp_path: Path) -> None:
    # Tesseract would take this for a list of images to open, one path per line.
    listing = tmp_path / "page.png"
    listing.write_text("/etc/passwd\n", encoding="utf-8")
    with pytest.raises(OcrError) as caught:
        ocr_page(listing, tmp_path / "out")
    assert caught.value.code == "ocr_failed"
    assert "page.png is not an image" in caught.value.reason
    assert not (tmp_path / "out").exists()


@needs_tesseract
@needs_font
def test_a_truncated_image_fails_with_tesseracts_reason(
    vietnamese: Rendered, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(vietnamese.path.read_bytes()[:200])
    with pytest.raises(OcrError) as caught:
        ocr_page(broken, tmp_path / "out")
    assert caught.value.code == "ocr_failed"
    assert caught.value.reason.startswith("Tesseract failed on broken.png (exit status 1): ")
    assert list((tmp_path / "out").iterdir()) == []


@needs_tesseract
@pytest.mark.parametrize("languages", ["xyz", "vie+xyz"])
def test_a_missing_language_is_named(languages: str, tmp_path: Path) -> None:
    # Tesseract itself would run "vie+xyz" as plain "vie" and exit 0.
    image = tmp_path / "blank.png"
    Image.new("L", (64, 64), 255).save(image)
    with pytest.raises(OcrError) as caught:
        ocr_page(image, tmp_path / "out", languages=languages)
    assert caught.value.code == "ocr_unavailable"
    assert "language xyz" in caught.value.reason
    assert "tesseract-ocr-xyz" in caught.value.reason
    assert not (tmp_path / "out").exists()


def test_missing_tesseract_is_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(OcrError) as caught:
        ocr_page(tmp_path / "page.png", tmp_path / "out")
    assert caught.value.code == "ocr_unavailable"
    assert "tesseract-ocr" in caught.value.reason


@needs_tesseract
def test_a_blank_page_has_no_text(tmp_path: Path) -> None:
    image = tmp_path / "blank.png"
    Image.new("L", (600, 800), 255).save(image, dpi=(DPI, DPI))
    page = ocr_page(image, tmp_path / "out")
    assert (page.text, page.lines, page.words, page.mean_confidence) == ("", (), (), 0.0)
    assert (page.width, page.height) == (600, 800)
    assert page.text_file.read_text(encoding="utf-8") == ""


def test_errors_survive_pickling() -> None:
    error = pickle.loads(pickle.dumps(OcrError("ocr_timeout", "Too slow.")))
    assert (type(error), error.code, error.reason) == (OcrError, "ocr_timeout", "Too slow.")


def test_tesseract_gets_one_thread_and_no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("MUSEUM_SECRET_KEY", "not for tesseract")
    env = ocr.tesseract_env()
    assert env["OMP_THREAD_LIMIT"] == "1"
    assert not {"https_proxy", "HTTP_PROXY", "MUSEUM_SECRET_KEY"} & set(env)


def test_plain_text_is_nfc_without_form_feeds() -> None:
    raw = unicodedata.normalize("NFD", "Đắk Lắk  \r\ncồng chiêng\n\f")
    assert ocr.normalize_text(raw) == "Đắk Lắk\ncồng chiêng"


# hOCR parsing


def hocr(body: str, page_bbox: str = "0 0 1000 800") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en"><body>'
        f"<div class='ocr_page' title='image \"-\"; bbox {page_bbox}; ppageno 0'>{body}</div>"
        "</body></html>"
    ).encode()


def span(cls: str, bbox: str, content: str, extra: str = "") -> str:
    return f"<span class='{cls}' title='bbox {bbox}{extra}'>{content}</span>"


def test_hocr_words_are_nfc_with_boxes_and_confidences() -> None:
    decomposed = unicodedata.normalize("NFD", "Đắk")
    assert decomposed != "Đắk"
    words = span("ocrx_word", "10 20 60 50", decomposed, "; x_wconf 91") + span(
        "ocrx_word", "70 20 120 50", unicodedata.normalize("NFD", "Lắk"), "; x_wconf 80"
    )
    body = f"<p class='ocr_par' lang='vie'>{span('ocr_line', '10 18 120 52', words)}</p>"
    layout = parse_hocr(hocr(body))
    assert (layout.width, layout.height) == (1000, 800)
    assert layout.words == (
        OcrWord("Đắk", (10, 20, 50, 30), 0.91, "vi"),
        OcrWord("Lắk", (70, 20, 50, 30), 0.80, "vi"),
    )
    (line,) = layout.lines
    assert (line.text, line.bbox, line.language) == ("Đắk Lắk", (10, 18, 110, 34), "vi")
    assert line.confidence == pytest.approx((0.91 + 0.80) / 2)


def test_hocr_headers_and_captions_are_lines_and_empty_words_are_dropped() -> None:
    header = span("ocr_header", "0 0 100 40", span("ocrx_word", "0 0 100 40", "Khan"))
    caption = span("ocr_caption", "0 50 100 90", span("ocrx_word", "0 50 100 90", "<em>Hình</em>"))
    empty = span("ocr_line", "0 100 100 140", span("ocrx_word", "0 100 100 140", " "))
    layout = parse_hocr(hocr(header + caption + empty), "vie")
    assert [line.text for line in layout.lines] == ["Khan", "Hình"]


@pytest.mark.parametrize(
    ("line_words", "languages", "expected"),
    [
        # Tesseract credits Vietnamese with words both models read alike.
        ([("The", "vie"), ("gong", "vie"), ("players", "eng")], "vie+eng", "en"),
        ([("người", "vie"), ("Ê", "eng"), ("Đê", "vie"), ("Jrai", "vie")], "vie+eng", "vi"),
        ([("Jrai", "vie"), ("và", "vie"), ("Lào", "vie")], "vie+eng", "vi"),
        # French shares à and é, so only letters French lacks count when French was asked for.
        (
            [("Recueil", "vie"), ("des", "vie"), ("coutumes", "fra"), ("rhadées", "fra")],
            "vie+fra",
            "fr",
        ),
        ([("Jrai", "vie"), ("Lào", "vie"), ("người", "vie")], "vie+fra", "vi"),
        ([("gongs", "eng")], "vie", "vi"),
        ([("2005.", "eng")], "vie+eng", "vi"),  # no letters: the page's language
    ],
)
def test_line_language(line_words: list[tuple[str, str]], languages: str, expected: str) -> None:
    words = "".join(
        f"<span class='ocrx_word' title='bbox 0 0 9 9' lang='{lang}'>{text}</span>"
        for text, lang in line_words
    )
    vietnamese_line = span("ocr_line", "0 20 9 29", span("ocrx_word", "0 20 9 29", "người"))
    layout = parse_hocr(hocr(span("ocr_line", "0 0 9 9", words) + vietnamese_line), languages)
    assert layout.lines[0].language == expected


TWO_PAGES = hocr("").replace(
    b"</body>", b"<div class='ocr_page' title='bbox 0 0 10 10'></div></body>"
)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"<html><body><div class='ocr_page'", "does not parse"),
        (TWO_PAGES, "holds 2 pages"),
        (b"<html><body><p>no page</p></body></html>", "holds 0 pages"),
    ],
)
def test_hocr_that_is_not_one_page_is_refused(document: bytes, reason: str) -> None:
    with pytest.raises(OcrError) as caught:
        parse_hocr(document)
    assert caught.value.code == "ocr_failed"
    assert reason in caught.value.reason


# Character error rate


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("kitten", "sitting", 3 / 6),
        ("Đắk Lắk", "Đắk Lắk", 0.0),
        ("Đắk Lắk", "Dak Lak", 3 / 7),  # a lost mark is a wrong letter
        (unicodedata.normalize("NFD", "Đắk Lắk"), "Đắk Lắk", 0.0),  # NFC before comparing
        ("cồng  chiêng\n\nTây Nguyên", "cồng chiêng Tây Nguyên", 0.0),  # whitespace folded
        ("Ê Đê", "ÊĐê", 1 / 4),
        ("abc", "", 1.0),
        ("ab", "abcd", 1.0),
        ("", "", 0.0),
        ("", "x", 1.0),
    ],
)
def test_character_error_rate(reference: str, hypothesis: str, expected: float) -> None:
    assert character_error_rate(reference, hypothesis) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "", 0),
        ("", "abc", 3),
        ("flaw", "lawn", 2),
        ("intention", "execution", 5),
        ("abcdef", "azcdxf", 2),
        ("same prefix X same suffix", "same prefix YY same suffix", 2),
    ],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance
    assert edit_distance(b, a) == distance


def full_table_distance(a: str, b: str) -> int:
    """The textbook table, without the shortcuts edit_distance takes."""
    table = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = min(
                table[i - 1][j] + 1,
                table[i][j - 1] + 1,
                table[i - 1][j - 1] + (a[i - 1] != b[j - 1]),
            )
    return table[len(a)][len(b)]


@given(st.text("aăâbđ ", max_size=12), st.text("aăâbđ ", max_size=12))
def test_edit_distance_matches_the_full_table(a: str, b: str) -> None:
    assert edit_distance(a, b) == full_table_distance(a, b)
