"""Controlled vocabularies of the catalog: codes stored in the database, labels shown to people.

Codes are stable ASCII (they appear in URLs, facets, exports and OAI-PMH
sets); labels are English message ids translated like every other text.
Legal categories follow the 2024 Law on Cultural Heritage and the plan
KH 126/KH-UBND (see ``docs/catalog.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

from server.errors import N_

KINDS = {
    "di_san_phi_vat_the": N_("Intangible cultural heritage"),
    "di_tich": N_("Relic site"),
    "hien_vat": N_("Artefact"),
    "di_san_tu_lieu": N_("Documentary heritage"),
}

# Ranking or listing: the legal status the 100 % digitization targets are counted against.
DESIGNATIONS = {
    "unesco": N_("UNESCO-inscribed"),
    "quoc_gia_dac_biet": N_("Special national relic"),
    "di_tich_quoc_gia": N_("National relic"),
    "cap_tinh": N_("Provincial relic"),
    "danh_muc_quoc_gia": N_("National intangible heritage list"),
    "bao_vat_quoc_gia": N_("National treasure"),
    "hien_vat_bao_tang": N_("Museum artefact"),
    "kiem_ke": N_("Inventory-listed"),
    "chua_xep_hang": N_("Not ranked"),
}

# Which designations make sense for which kind (import validation).
DESIGNATIONS_BY_KIND = {
    "di_san_phi_vat_the": {"unesco", "danh_muc_quoc_gia", "kiem_ke", "chua_xep_hang"},
    "di_tich": {
        "unesco",
        "quoc_gia_dac_biet",
        "di_tich_quoc_gia",
        "cap_tinh",
        "kiem_ke",
        "chua_xep_hang",
    },
    "hien_vat": {"bao_vat_quoc_gia", "hien_vat_bao_tang", "kiem_ke", "chua_xep_hang"},
    "di_san_tu_lieu": {
        "unesco",
        "bao_vat_quoc_gia",
        "danh_muc_quoc_gia",
        "kiem_ke",
        "chua_xep_hang",
    },
}

ACCESS_LEVELS = {
    "public": N_("Public"),
    "registered": N_("Registered users"),
    "staff": N_("Museum staff"),
    "restricted": N_("Restricted (community sign-off needed)"),
}
PUBLIC_ACCESS = ("public",)

DIGITIZATION_STATUSES = {
    "not_digitized": N_("Not yet digitized"),
    "in_progress": N_("Digitization in progress"),
    "digitized": N_("Digitized"),
    "complete": N_("Fully digitized"),
}
DIGITIZED = ("digitized", "complete")

MEDIA_ROLES = {
    "primary": N_("Main view"),
    "detail": N_("Detail"),
    "page": N_("Page"),
    "audio": N_("Audio"),
    "video": N_("Video"),
    "scan": N_("3D scan"),
    "guide": N_("Audio guide"),
}
GUIDE_ROLE = "guide"  # a record's label spoken (server/guides.py), one asset per language

# The media kinds a record can be searched by ("has 3D", "has video" ...).
MEDIA_FACETS = {
    "model": N_("3D model"),
    "image": N_("Image"),
    "video": N_("Video"),
    "audio": N_("Audio"),
    "document": N_("Document"),
}

# Subtypes per kind: relic types (Law 2024 Art. 21), intangible domains (TT 04/2010 Art. 4).
SUBTYPES = {
    "ls_su_kien": N_("Historical relic (event)"),
    "ls_danh_nhan": N_("Historical relic (notable person)"),
    "kien_truc_nghe_thuat": N_("Architectural and artistic relic"),
    "khao_co": N_("Archaeological relic"),
    "danh_lam_thang_canh": N_("Scenic site"),
    "hon_hop": N_("Mixed relic"),
    "tieng_noi_chu_viet": N_("Language and script"),
    "ngu_van_dan_gian": N_("Folk literature"),
    "nghe_thuat_trinh_dien": N_("Folk performing arts"),
    "tap_quan_xa_hoi": N_("Social customs and beliefs"),
    "le_hoi": N_("Traditional festival"),
    "nghe_thu_cong": N_("Traditional craft"),
    "tri_thuc_dan_gian": N_("Folk knowledge"),
    "di_vat": N_("Relic object"),
    "co_vat": N_("Antiquity"),
    "sach": N_("Book"),
    "sac_phong": N_("Royal decree"),
    "anh_phim": N_("Photographs and films"),
    "tai_lieu": N_("Document"),
}

SUBTYPES_BY_KIND = {
    "di_tich": {
        "ls_su_kien",
        "ls_danh_nhan",
        "kien_truc_nghe_thuat",
        "khao_co",
        "danh_lam_thang_canh",
        "hon_hop",
    },
    "di_san_phi_vat_the": {
        "tieng_noi_chu_viet",
        "ngu_van_dan_gian",
        "nghe_thuat_trinh_dien",
        "tap_quan_xa_hoi",
        "le_hoi",
        "nghe_thu_cong",
        "tri_thuc_dan_gian",
    },
    "hien_vat": {"di_vat", "co_vat"},
    "di_san_tu_lieu": {"sach", "sac_phong", "anh_phim", "tai_lieu"},
}

# Content languages: Vietnamese required; Êđê (rad), M'nông (mng: Eastern Mnong, the
# Gar and Rlăm of the former Lắk district — to be confirmed with linguists), Jarai (jra).
CONTENT_LANGUAGES = ("vi", "en", "rad", "mng", "jra")
# Caption tracks are named in their own language, whatever the page's (a menu of languages).
CAPTION_LABELS = {"vi": "Tiếng Việt", "en": "English", "rad": "Êđê", "mng": "M'nông", "jra": "Jrai"}
LANGUAGE_NAMES = {
    "vi": N_("Vietnamese"),
    "en": N_("English"),
    "rad": N_("Êđê"),
    "mng": N_("M'nông"),
    "jra": N_("Jarai"),
}


@dataclass(frozen=True)
class ReportCategory:
    """A line of the yearly report: a category the plan sets a digitization target for."""

    code: str
    label: str
    kind: str
    designations: tuple[str, ...]
    target_percent: int


# Plan KH 126/KH-UBND, implementing QĐ 2026/QĐ-TTg: 100 % for the categories it names.
REPORT_CATEGORIES = (
    ReportCategory("unesco", N_("UNESCO-inscribed heritage"), "*", ("unesco",), 100),
    ReportCategory(
        "special_national_relics",
        N_("Special national relics"),
        "di_tich",
        ("quoc_gia_dac_biet",),
        100,
    ),
    ReportCategory("national_relics", N_("National relics"), "di_tich", ("di_tich_quoc_gia",), 100),
    ReportCategory("provincial_relics", N_("Provincial relics"), "di_tich", ("cap_tinh",), 100),
    ReportCategory("inventory_relics", N_("Inventory-listed relics"), "di_tich", ("kiem_ke",), 100),
    ReportCategory("national_treasures", N_("National treasures"), "*", ("bao_vat_quoc_gia",), 100),
    ReportCategory(
        "national_ich",
        N_("National intangible heritage list"),
        "di_san_phi_vat_the",
        ("danh_muc_quoc_gia",),
        100,
    ),
    ReportCategory(
        "museum_artefacts",
        N_("Museum artefacts"),
        "hien_vat",
        ("hien_vat_bao_tang", "kiem_ke", "chua_xep_hang"),
        100,
    ),
    ReportCategory(
        "documents",
        N_("Documentary heritage and documents"),
        "di_san_tu_lieu",
        tuple(DESIGNATIONS),
        100,
    ),
)


def designation_from_text(text: str, kind: str) -> str:
    """Best reading of a free-text ranking (as in the seed catalog) as a designation code."""
    lowered = text.lower()
    if "unesco" in lowered:
        return "unesco"
    if "bảo vật quốc gia" in lowered:
        return "bao_vat_quoc_gia"
    if "quốc gia đặc biệt" in lowered:
        return "quoc_gia_dac_biet"
    if "danh mục dsvhpvt quốc gia" in lowered:
        return "danh_muc_quoc_gia"
    if "di tích quốc gia" in lowered:
        return "di_tich_quoc_gia"
    if "cấp tỉnh" in lowered:
        return "cap_tinh"
    if "kiểm kê" in lowered:
        return "kiem_ke"
    if kind == "hien_vat" and "collection" in lowered:
        return "hien_vat_bao_tang"
    return "chua_xep_hang"


_SUBTYPE_HINTS = (
    ("khảo cổ", "khao_co"),
    ("kiến trúc", "kien_truc_nghe_thuat"),
    ("danh lam", "danh_lam_thang_canh"),
    ("di tích lịch sử", "ls_su_kien"),
    ("ngữ văn", "ngu_van_dan_gian"),
    ("trình diễn", "nghe_thuat_trinh_dien"),
    ("lễ hội", "le_hoi"),
    ("tập quán", "tap_quan_xa_hoi"),
    ("tri thức", "tri_thuc_dan_gian"),
    ("thủ công", "nghe_thu_cong"),
    ("sắc phong", "sac_phong"),
    ("sách", "sach"),
    ("phim", "anh_phim"),
)


def subtype_from_text(text: str, kind: str) -> str:
    """The subtype a free-text category names, if it is one allowed for the kind."""
    lowered = text.lower()
    for hint, code in _SUBTYPE_HINTS:
        if hint in lowered and code in SUBTYPES_BY_KIND.get(kind, set()):
            return code
    return ""
