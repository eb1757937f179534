"""AI drafting: the OpenAI-compatible backend against a local fake server (answers, slowness,
HTTP errors, broken bodies), the offline template backend in Vietnamese and English, and the
``draft_text`` job writing MachineDraft rows with their provenance, falling back when the
server fails."""

from __future__ import annotations

import base64
import unicodedata
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from server.db import Database
from server.drafting.jobs import JOB_KIND, plan_drafts, queue_after_media
from server.drafting.llm import OpenAICompatibleBackend
from server.drafting.model import (
    LIMITS,
    NEEDS_TRANSLATOR,
    DraftingError,
    DraftRequest,
    Facts,
    needs_translator,
)
from server.drafting.template import TemplateBackend
from server.i18n import load_catalogs
from server.jobs import JobContext, JobService
from server.media_jobs import _record
from server.models import Asset, Job, MachineDraft, Record
from server.queue import Queue
from server.settings import Settings
from server.storage import Store
from server.tasks import job_handlers
from tests.fake_llm import FakeLLM, fake_llm
from tests.jobhelpers import drain

RECORD = "DL-ICH-02"  # Khan – Sử thi Êđê: titles in both languages, a description in English
ASSET = "b" * 32
VERSION = "img-0123456789abcdef"
THUMBNAILS = {"thumbnail:150": "t150.jpg", "thumbnail:400": "t400.jpg", "thumbnail:1200": "t1.jpg"}
PICTURE = b"\xff\xd8\xff\xe0 the 400 px thumbnail"

FACTS = Facts(
    record_id="DL-ICH-02",
    title={"vi": "Khan – Sử thi Êđê", "en": "Khan – Ede epic"},
    description={"en": "Ede epic tradition (Khan)."},
    kind="di_san_phi_vat_the",
    subtype="ngu_van_dan_gian",
    designation="danh_muc_quoc_gia",
    category="Ngữ văn dân gian",
    ethnic_groups=("Êđê",),
    places=({"vi": "Đắk Lắk"},),
    dating="thế kỷ XIX",
    earliest=1800,
    latest=1899,
)


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with fake_llm() as fake:
        yield fake


def backend(fake: FakeLLM, timeout: float = 5.0) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(fake.url, "qwen2.5vl:7b", timeout)


def user_parts(body: dict[str, object]) -> list[dict[str, object]]:
    messages = body["messages"]
    assert isinstance(messages, list)
    parts = messages[1]["content"]
    assert isinstance(parts, list)
    return parts


# The HTTP backend


def test_the_backend_sends_the_facts_the_image_the_model_and_the_language(llm: FakeLLM) -> None:
    request = DraftRequest(
        "alt_text", "vi", FACTS, media_kind="image", image=PICTURE, image_type="image/jpeg"
    )
    draft = backend(llm).draft(request)
    assert draft.text == llm.reply and draft.source == "llm"
    assert (draft.model, draft.model_version) == ("fake-vision:7b", "fp_test_1")
    assert llm.paths == ["/v1/chat/completions"]
    (body,) = llm.received
    assert body["model"] == "qwen2.5vl:7b" and body["temperature"] <= 0.3
    system = body["messages"][0]
    assert system["role"] == "system" and "Đắk Lắk" in system["content"]
    assert "never invent" in system["content"] and "only the facts" in system["content"]
    text, image = user_parts(body)
    assert text["type"] == "text"
    for fact in ("Khan – Sử thi Êđê", "Khan – Ede epic", "Êđê", "Ngữ văn dân gian", "thế kỷ XIX"):
        assert fact in text["text"], fact
    assert "in Vietnamese" in text["text"] and "alternative text" in text["text"]
    assert image["type"] == "image_url"
    prefix = "data:image/jpeg;base64,"
    url = image["image_url"]["url"]
    assert url.startswith(prefix) and base64.b64decode(url[len(prefix) :]) == PICTURE


def test_a_translation_names_both_languages_and_sends_no_image(llm: FakeLLM) -> None:
    llm.reply = "Truyền thống sử thi Êđê (Khan)."
    request = DraftRequest("translation", "vi", FACTS, field="description", source_language="en")
    assert backend(llm).draft(request).text == "Truyền thống sử thi Êđê (Khan)."
    (text,) = user_parts(llm.received[0])
    assert "from English into Vietnamese" in text["text"]
    assert "Ede epic tradition (Khan)." in text["text"]


def test_the_answer_is_nfc_and_cut_to_the_limit(llm: FakeLLM) -> None:
    llm.mode = "nfd"
    text = backend(llm).draft(DraftRequest("label", "vi", FACTS)).text
    assert text == unicodedata.normalize("NFC", llm.reply) and unicodedata.is_normalized(
        "NFC", text
    )
    assert unicodedata.normalize("NFD", llm.reply) != text  # the server did send NFD
    llm.mode = "long"
    text = backend(llm).draft(DraftRequest("label", "vi", FACTS)).text
    assert len(text) <= LIMITS["label"] and text.endswith("…") and "chiêng" in text


@pytest.mark.parametrize(
    ("mode", "reason", "retryable", "words"),
    [
        ("slow", "llm_timeout", True, "did not answer within 0.5 seconds"),
        ("500", "llm_http_5xx", True, "failed (HTTP 500): "),
        ("429", "llm_busy", True, "busy (HTTP 429)"),
        ("400", "llm_http_4xx", False, "refused the request (HTTP 400)"),
        ("not_json", "llm_not_json", False, "not JSON"),
        ("no_choices", "llm_no_text", False, "missing choices"),
        ("empty", "llm_empty", False, "empty text"),
    ],
)
def test_every_failure_is_one_clear_drafting_error(
    llm: FakeLLM, mode: str, reason: str, retryable: bool, words: str
) -> None:
    llm.mode = mode
    with pytest.raises(DraftingError) as caught:
        backend(llm, timeout=0.5).draft(DraftRequest("label", "en", FACTS))
    error = caught.value
    assert (error.reason, error.retryable, error.status) == (reason, retryable, 502)
    assert words in str(error)
    vietnamese = error.render(load_catalogs()["vi"].gettext)
    assert vietnamese != str(error), "the message has a Vietnamese translation"


def test_a_server_that_is_not_there_is_a_drafting_error() -> None:
    with fake_llm() as gone:
        url = gone.url
    with pytest.raises(DraftingError) as caught:
        OpenAICompatibleBackend(url, "m", 2).draft(DraftRequest("label", "vi", FACTS))
    assert caught.value.reason == "llm_unreachable" and "Could not reach" in str(caught.value)


# The template backend


def test_template_labels_in_vietnamese_and_english() -> None:
    template = TemplateBackend()
    vi = template.draft(DraftRequest("label", "vi", FACTS))
    assert (vi.source, vi.model) == ("template", "template")
    assert vi.text == (
        "Khan – Sử thi Êđê — Ngữ văn dân gian của người Êđê, Đắk Lắk. "
        "Danh mục di sản văn hóa phi vật thể quốc gia. Niên đại: thế kỷ XIX."
    )
    en = template.draft(DraftRequest("label", "en", FACTS)).text
    assert en == (
        "Khan – Ede epic — Folk literature of the Êđê people, Đắk Lắk. "
        "National intangible heritage list. Date: 1800–1899."
    )
    several = replace(FACTS, ethnic_groups=("Êđê", "M'nông", "Jrai"), subtype="", category="")
    assert (
        "of the Êđê, M'nông and Jrai peoples"
        in template.draft(DraftRequest("label", "en", several)).text
    )
    assert (
        "của người Êđê, M'nông và Jrai" in template.draft(DraftRequest("label", "vi", several)).text
    )


def test_template_alt_text_says_what_the_media_is_of() -> None:
    template = TemplateBackend()
    vi = template.draft(DraftRequest("alt_text", "vi", FACTS, media_kind="model")).text
    en = template.draft(
        DraftRequest("alt_text", "en", FACTS, media_kind="image", media_label="Gong player")
    ).text
    assert vi == "Mô hình 3D: Khan – Sử thi Êđê."
    assert en == "Photograph: Khan – Ede epic (Gong player)."


def test_a_template_translation_never_pretends_to_be_one() -> None:
    template = TemplateBackend()
    description = template.draft(
        DraftRequest("translation", "vi", FACTS, field="description", source_language="en")
    ).text
    assert description.startswith(NEEDS_TRANSLATOR["vi"]) and needs_translator(description)
    assert "Khan – Sử thi Êđê — Ngữ văn dân gian" in description
    assert description.endswith("Bản gốc (tiếng Anh): Ede epic tradition (Khan).")
    title = template.draft(
        DraftRequest("translation", "en", replace(FACTS, title={"vi": "Khan"}), field="title",
                     source_language="vi")
    ).text  # fmt: skip
    assert title == f"{NEEDS_TRANSLATOR['en']} Khan"


# The job


def add_picture(settings: Settings, db: Database, record_id: str = RECORD) -> None:
    folder = settings.data_dir / "derivatives" / ASSET / VERSION
    folder.mkdir(parents=True)
    for name in THUMBNAILS.values():
        (folder / name).write_bytes(PICTURE if name == "t400.jpg" else b"\xff\xd8 other")
    technical = {"pipeline": "image", "kind": "image", "width": 1500, "height": 1000}
    db.call(
        lambda s: s.add(
            Asset(
                id=ASSET,
                sha256="0" * 64,
                size=1,
                filename="gong.jpg",
                media_type="image/jpeg",
                kind="image",
                record_id=record_id,
                published_version=VERSION,
                technical={**technical, "thumbnails": THUMBNAILS},
                label={"vi": "Nghệ nhân kể khan"},
            )
        ),
        write=True,
    )


def job_service(settings: Settings) -> JobService:
    queue = Queue(settings.resolved_queue_url)
    queue.flush()
    db = Database(settings.resolved_database_url)
    return JobService(db, queue, settings, job_handlers(), Store(settings.data_dir))


def drafts(db: Database) -> list[MachineDraft]:
    query = select(MachineDraft).order_by(MachineDraft.field, MachineDraft.language)
    return list(db.call(lambda s: s.scalars(query).all()))


@pytest.fixture
def service(seeded_settings: Settings) -> Iterator[JobService]:
    jobs = job_service(seeded_settings)
    add_picture(seeded_settings, jobs.db)
    yield jobs
    jobs.db.dispose()


def with_llm(jobs: JobService, fake: FakeLLM) -> JobService:
    settings = replace(jobs.settings, llm_url=fake.url, llm_model="qwen2.5vl:7b", llm_timeout=2)
    return JobService(jobs.db, jobs.queue, settings, job_handlers(), jobs.store)


def test_the_job_drafts_what_the_record_lacks_with_the_model(
    service: JobService, llm: FakeLLM
) -> None:
    jobs = with_llm(service, llm)
    job = jobs.submit(JOB_KIND, {"record_id": RECORD})
    assert drain(jobs) == 1
    assert jobs.get(job)["state"] == "succeeded"
    rows = drafts(jobs.db)
    assert [(d.field, d.language, d.asset_id, d.source_language) for d in rows] == [
        ("alt_text", "en", ASSET, ""),
        ("alt_text", "vi", ASSET, ""),
        ("description", "vi", None, "en"),  # the seed's description is English only
        ("label", "en", None, ""),
        ("label", "vi", None, ""),
    ]
    for row in rows:
        assert (row.status, row.source, row.text) == ("draft", "llm", llm.reply)
        assert (row.model, row.model_version) == ("fake-vision:7b", "fp_test_1")
        assert row.final_text == "" and row.reviewer == "" and row.reviewed_at is None
    with_images = [b for b in llm.received if len(user_parts(b)) == 2]
    assert len(with_images) == 2 and len(llm.received) == 5  # only alt texts carry the picture
    assert {b["model"] for b in llm.received} == {"qwen2.5vl:7b"}
    # Running again drafts nothing: everything is waiting for review.
    jobs.submit(JOB_KIND, {"record_id": RECORD})
    drain(jobs)
    assert len(drafts(jobs.db)) == 5 and len(llm.received) == 5


def test_a_failing_server_falls_back_to_templates_and_says_so(
    service: JobService, llm: FakeLLM
) -> None:
    llm.mode = "500"
    jobs = with_llm(service, llm)
    job = jobs.submit(JOB_KIND, {"record_id": RECORD})
    drain(jobs)
    result = jobs.get(job)
    assert result["state"] == "succeeded"
    assert "failed (HTTP 500)" in result["result"]["fallback"][0]
    assert len(llm.received) == 1, "after one failure the job stops asking the server"
    rows = drafts(jobs.db)
    assert len(rows) == 5
    assert {(d.source, d.model, d.model_version) for d in rows} == {
        ("template", "template", "fallback: llm_http_5xx")
    }
    label = next(d for d in rows if (d.field, d.language) == ("label", "en"))
    assert label.text.startswith("Khan – Ede epic — Folk literature of the Êđê people")


def test_without_fallback_a_refusal_fails_the_job(service: JobService, llm: FakeLLM) -> None:
    llm.mode = "400"
    jobs = with_llm(service, llm)
    job = jobs.submit(JOB_KIND, {"record_id": RECORD, "fallback": False})
    drain(jobs)
    state = jobs.get(job)
    assert state["state"] == "failed" and "HTTP 400" in state["message"]
    assert state["attempts"] == 1 and drafts(jobs.db) == []


def test_without_a_model_the_templates_draft(service: JobService) -> None:
    service.submit(JOB_KIND, {"record_id": RECORD})
    drain(service)
    rows = drafts(service.db)
    assert {d.source for d in rows} == {"template"} and len(rows) == 5
    alt = next(d for d in rows if (d.field, d.language) == ("alt_text", "vi"))
    assert alt.text == "Ảnh: Khan – Sử thi Êđê (Nghệ nhân kể khan)."
    translation = next(d for d in rows if d.field == "description")
    assert needs_translator(translation.text)


def test_planning_skips_filled_rejected_and_waiting_drafts(service: JobService) -> None:
    db = service.db

    def plan(force: bool = False, only: tuple[str, ...] = ()) -> list[str]:
        def run(session):  # type: ignore[no-untyped-def]
            record = session.get(Record, RECORD)
            return [p.key for p in plan_drafts(session, record, force=force, only=only)]

        return list(db.call(run))

    everything = plan()
    assert everything == [
        "label:vi",
        "label:en",
        f"alt_text:vi:{ASSET}",
        f"alt_text:en:{ASSET}",
        "description:vi",
    ]

    def change(session):  # type: ignore[no-untyped-def]
        record = session.get(Record, RECORD)
        record.extra = {"label": {"vi": "Nhãn do người viết"}}
        session.add(
            MachineDraft(
                record_id=RECORD, field="label", language="en", text="x", source="template",
                status="rejected",
            )
        )  # fmt: skip

    db.call(change, write=True)
    assert plan() == [f"alt_text:vi:{ASSET}", f"alt_text:en:{ASSET}", "description:vi"]
    assert plan(force=True, only=("label:en", "label:vi")) == ["label:vi", "label:en"]


def test_a_published_media_item_queues_drafts_and_keeps_its_alt_text(
    service: JobService,
) -> None:
    def give_alt(session):  # type: ignore[no-untyped-def]
        asset = session.get(Asset, ASSET)
        asset.technical = {**asset.technical, "alt": {"vi": "Ảnh nghệ nhân"}}

    service.db.call(give_alt, write=True)
    context = JobContext(
        "job1", "process_image", {}, 1, service.store, service.settings, lambda p, m: None,
        service.db,
    )  # fmt: skip
    technical = {"pipeline": "image", "kind": "image", "width": 10, "height": 10}
    _record(context, ASSET, VERSION, {**technical, "thumbnails": THUMBNAILS})
    row = service.db.call(lambda s: s.get(Asset, ASSET))
    assert row.technical["alt"] == {"vi": "Ảnh nghệ nhân"} and row.technical["width"] == 10
    queued = service.db.call(lambda s: s.scalars(select(Job).where(Job.kind == JOB_KIND)).all())
    assert [(job.params["record_id"], job.asset_id) for job in queued] == [(RECORD, ASSET)]
    assert drain(service) == 1
    assert ("alt_text", "vi") not in {(d.field, d.language) for d in drafts(service.db)}


def test_an_asset_without_a_record_queues_nothing(seeded_settings: Settings) -> None:
    jobs = job_service(seeded_settings)
    add_picture(seeded_settings, jobs.db)
    jobs.db.call(lambda s: setattr(s.get(Asset, ASSET), "record_id", None), write=True)
    context = JobContext(
        "job1", "process_image", {}, 1, jobs.store, jobs.settings, lambda p, m: None, jobs.db
    )
    queue_after_media(context, ASSET)
    assert jobs.db.call(lambda s: s.scalars(select(Job)).all()) == []
    jobs.db.dispose()


def test_the_job_refuses_a_record_that_is_gone(service: JobService) -> None:
    job = service.submit(JOB_KIND, {"record_id": "NO-SUCH"})
    drain(service)
    state = service.get(job)
    assert state["state"] == "failed" and "no longer exists" in state["message"]


def test_a_missing_picture_still_drafts_without_it(service: JobService, llm: FakeLLM) -> None:
    folder: Path = service.settings.data_dir / "derivatives" / ASSET / VERSION
    (folder / "t400.jpg").unlink()
    jobs = with_llm(service, llm)
    jobs.submit(JOB_KIND, {"record_id": RECORD, "only": [f"alt_text:en:{ASSET}"]})
    drain(jobs)
    assert len(llm.received) == 1 and len(user_parts(llm.received[0])) == 1
    assert [(d.field, d.language) for d in drafts(jobs.db)] == [("alt_text", "en")]
