"""Review of machine drafts: the queue, the item page with its provenance, accept / edit /
reject with one audit entry each, accepted text in its place as a new record version, and
who may decide."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from server.db import Database
from server.drafting.model import NEEDS_TRANSLATOR
from server.models import (
    Asset,
    AuditEntry,
    Job,
    MachineDraft,
    Record,
    RecordVersion,
)
from tests.staff import sign_in, sign_out

RECORD = "DL-ICH-02"  # published in the seed catalog
ASSET = "c" * 32


def db_of(client: TestClient) -> Database:
    database: Database = client.app.state.museum.db  # type: ignore[attr-defined]
    return database


def add_draft(client: TestClient, **values: Any) -> int:
    fields: dict[str, Any] = {
        "record_id": RECORD,
        "field": "description",
        "language": "vi",
        "source_language": "en",
        "text": "Truyền thống sử thi Êđê (Khan).",
        "source": "llm",
        "model": "qwen2.5vl:7b",
        "model_version": "fp_abc",
    } | values

    def add(session):  # type: ignore[no-untyped-def]
        draft = MachineDraft(**fields)
        session.add(draft)
        session.flush()
        return draft.id

    return int(db_of(client).call(add, write=True))


def set_status(client: TestClient, status: str) -> None:
    db_of(client).call(lambda s: setattr(s.get(Record, RECORD), "status", status), write=True)


def audit_rows(client: TestClient) -> list[AuditEntry]:
    return list(
        db_of(client).call(lambda s: s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all())
    )


def get(client: TestClient, model: Any, key: Any) -> Any:
    return db_of(client).call(lambda s: s.get(model, key))


def decide(client: TestClient, key: int | str, decision: str, text: str | None = None) -> Any:
    data = {"draft": str(key), "decision": decision} | ({"text": text} if text is not None else {})
    return client.post(f"/admin/review/records/{RECORD}", data=data, follow_redirects=False)


def page_of(client: TestClient, lang: str = "en") -> str:
    answer = client.get(f"/admin/review/records/{RECORD}?lang={lang}")
    assert answer.status_code == 200
    return answer.text


def item_html(client: TestClient, key: int, lang: str = "en") -> str:
    """The part of the record's review page about draft ``key``."""
    page = page_of(client, lang)
    start = page.index(f'id="draft-{key}"')
    end = page.find("<article", start)
    return page[start : end if end != -1 else len(page)]


# The queue and the item page


def test_the_queue_lists_drafts_for_staff_only(client: TestClient) -> None:
    key = add_draft(client)
    assert client.get("/admin/review").status_code == 401
    sign_in(client, "an", "contributor")
    assert client.get("/admin/review").status_code == 403
    sign_in(client, "binh", "editor")
    page = client.get("/admin/review", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    assert f"/admin/review/records/{RECORD}#draft-{key}" in page.text
    assert "Khan – Sử thi Êđê" in page.text
    assert "qwen2.5vl:7b" in page.text and 'href="/admin/review"' in page.text  # menu entry


def test_the_item_page_shows_the_text_beside_its_media_with_provenance(client: TestClient) -> None:
    key = add_draft(client)
    sign_in(client, "chi", "curator")
    item = item_html(client, key)
    for expected in ("Truyền thống sử thi Êđê (Khan).", "qwen2.5vl:7b", "fp_abc", "llm", "English"):
        assert expected in item, expected
    assert 'value="accept"' in item and 'value="reject"' in item and "Draft again" in item
    assert f'name="draft" value="{key}"' in item
    assert client.get("/admin/review/records/NOPE").status_code == 404
    opened = client.get(f"/admin/review?record={RECORD}", follow_redirects=False)
    assert opened.headers["location"] == f"/admin/review/records/{RECORD}"
    assert client.get("/admin/review?record=../x").status_code == 422
    assert decide(client, 999999, "accept").status_code == 404
    assert decide(client, "abc", "accept").status_code == 422


# Decisions


def test_accepting_a_translation_writes_the_field_as_a_new_version_with_one_audit_entry(
    client: TestClient,
) -> None:
    key = add_draft(client)
    sign_in(client, "chi", "curator")
    before = len(audit_rows(client))
    answer = decide(client, key, "accept")
    location = f"/admin/review/records/{RECORD}#draft-{key}"
    assert answer.status_code == 303 and answer.headers["location"] == location
    record = get(client, Record, RECORD)
    assert record.description["vi"] == "Truyền thống sử thi Êđê (Khan)."
    assert record.description["en"].startswith("Ede epic tradition")  # the rest stays
    draft = get(client, MachineDraft, key)
    assert (draft.status, draft.reviewer) == ("accepted", "chi") and draft.reviewed_at
    assert draft.final_text == draft.text
    versions = db_of(client).call(
        lambda s: s.scalars(select(RecordVersion).where(RecordVersion.record_id == RECORD)).all()
    )
    assert versions and versions[-1].data["description"]["vi"] == draft.final_text
    new = audit_rows(client)[before:]
    assert [(a.action, a.object_type, a.object_id, a.actor) for a in new] == [
        ("review.accept", "machine_draft", str(key), "chi")
    ]
    assert new[0].before["status"] == "draft" and new[0].after["status"] == "accepted"
    assert new[0].after["target"]["vi"] == draft.final_text
    item = item_html(client, key)
    assert "Accepted" in item and "chi" in item and 'value="accept"' not in item
    # The public page and search show it now.
    assert "Truyền thống sử thi Êđê (Khan)." in client.get(f"/items/{RECORD}?lang=vi").text
    found = client.get("/api/v1/search", params={"q": "truyen thong su thi"}).json()
    assert RECORD in [item["id"] for item in found["items"]]
    # A second decision on the same draft is refused.
    assert decide(client, key, "reject").status_code == 409


def test_edit_and_accept_keeps_both_texts(client: TestClient) -> None:
    key = add_draft(client, field="label", language="en", source_language="", text="A label.")
    sign_in(client, "chi", "curator")
    answer = decide(client, key, "edit", "  The Khan epic of the Êđê people.\r\n")
    assert answer.status_code == 303
    draft = get(client, MachineDraft, key)
    assert (draft.text, draft.final_text) == ("A label.", "The Khan epic of the Êđê people.")
    assert get(client, Record, RECORD).extra["label"] == {"en": "The Khan epic of the Êđê people."}
    item = item_html(client, key)
    assert "As accepted" in item and "The Khan epic of the Êđê people." in item


def test_rejecting_changes_nothing_but_the_draft(client: TestClient) -> None:
    key = add_draft(client)
    sign_in(client, "chi", "curator")
    before = get(client, Record, RECORD).description
    assert decide(client, key, "reject").status_code == 303
    assert get(client, Record, RECORD).description == before
    draft = get(client, MachineDraft, key)
    assert (draft.status, draft.reviewer, draft.final_text) == ("rejected", "chi", "")
    assert audit_rows(client)[-1].action == "review.reject"


def test_accepting_alt_text_puts_it_on_the_media_item(client: TestClient) -> None:
    db_of(client).call(
        lambda s: s.add(
            Asset(id=ASSET, sha256="0" * 64, size=1, filename="p.jpg", media_type="image/jpeg",
                  kind="image", record_id=RECORD, technical={"width": 1})
        ),
        write=True,
    )  # fmt: skip
    key = add_draft(client, field="alt_text", language="en", asset_id=ASSET, text="Gongs.")
    sign_in(client, "chi", "curator")
    assert decide(client, key, "accept").status_code == 303
    assert get(client, Asset, ASSET).technical == {"width": 1, "alt": {"en": "Gongs."}}


def test_a_template_translation_must_be_translated_before_it_is_accepted(
    client: TestClient,
) -> None:
    marked = f"{NEEDS_TRANSLATOR['vi']} Khan — Ngữ văn dân gian.\n\nBản gốc (tiếng Anh): Ede epic."
    key = add_draft(client, text=marked, source="template", model="template")
    sign_in(client, "chi", "curator")
    item = item_html(client, key)
    assert 'value="accept"' not in item and 'value="edit"' in item
    refused = decide(client, key, "accept")
    assert refused.status_code == 422 and "needs a translator" in refused.json()["error"]["message"]
    assert decide(client, key, "edit", marked).status_code == 422
    assert decide(client, key, "edit", "   ").status_code == 422
    assert decide(client, key, "edit", "x" * 20_001).status_code == 422
    assert decide(client, key, "maybe").status_code == 422
    assert get(client, MachineDraft, key).status == "draft"
    assert decide(client, key, "edit", "Sử thi Khan của người Êđê.").status_code == 303
    assert get(client, Record, RECORD).description["vi"] == "Sử thi Khan của người Êđê."


# Who may decide


def test_editors_review_drafts_of_records_they_may_edit(client: TestClient) -> None:
    key = add_draft(client)
    sign_in(client, "binh", "editor")
    before = len(audit_rows(client))
    refused = decide(client, key, "accept")  # the record is published: curators only
    assert refused.status_code == 403 and get(client, MachineDraft, key).status == "draft"
    assert len(audit_rows(client)) == before
    item = item_html(client, key)
    assert 'value="accept"' not in item and "Write drafts" not in page_of(client)
    set_status(client, "in_review")
    assert decide(client, key, "accept").status_code == 303
    assert get(client, MachineDraft, key).reviewer == "binh"


def test_contributors_and_visitors_cannot_decide(client: TestClient) -> None:
    key = add_draft(client)
    set_status(client, "draft")
    sign_in(client, "an", "contributor")
    assert decide(client, key, "accept").status_code == 403
    sign_out(client)
    client.headers["origin"] = "http://testserver"
    assert decide(client, key, "accept").status_code == 401
    assert get(client, MachineDraft, key).status == "draft"


def test_a_decision_needs_the_csrf_token(client: TestClient) -> None:
    key = add_draft(client)
    sign_in(client, "chi", "curator")
    del client.headers["x-csrf-token"]
    assert decide(client, key, "accept").status_code == 403
    assert get(client, MachineDraft, key).status == "draft"


def test_restricted_records_stay_out_of_an_editors_queue(client: TestClient) -> None:
    key = add_draft(client)
    db_of(client).call(
        lambda s: setattr(s.get(Record, RECORD), "access_level", "restricted"), write=True
    )
    sign_in(client, "binh", "editor")
    assert f"#draft-{key}" not in client.get("/admin/review").text
    assert client.get(f"/admin/review/records/{RECORD}").status_code == 404
    assert decide(client, key, "accept").status_code == 404
    sign_in(client, "chi", "curator")
    assert f"#draft-{key}" in client.get("/admin/review").text


# Drafting again


def jobs_of(client: TestClient) -> list[Job]:
    return list(
        db_of(client).call(lambda s: s.scalars(select(Job).where(Job.kind == "draft_text")).all())
    )


def test_draft_again_sets_the_draft_aside_and_queues_a_new_one(client: TestClient) -> None:
    key = add_draft(client, field="label", language="vi", source_language="")
    sign_in(client, "chi", "curator")
    again = f"/admin/review/records/{RECORD}/again"
    answer = client.post(again, data={"draft": str(key)}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/admin/review/records/{RECORD}"
    draft = get(client, MachineDraft, key)
    assert (draft.status, draft.reviewer) == ("rejected", "chi")
    (job,) = jobs_of(client)
    assert job.params == {"record_id": RECORD, "force": True, "only": ["label:vi"]}
    assert audit_rows(client)[-1].action == "review.redraft"
    assert client.post(again, data={"draft": "999999"}).status_code == 404
    other = "/admin/review/records/DL-ICH-01/again"  # a draft of another record
    assert client.post(other, data={"draft": str(key)}).status_code == 404


def test_staff_can_ask_for_drafts_of_a_record(client: TestClient) -> None:
    sign_in(client, "chi", "curator")
    request = f"/admin/review/records/{RECORD}/drafts"
    answer = client.post(request, follow_redirects=False)
    location = f"/admin/review/records/{RECORD}?requested=1"
    assert answer.status_code == 303 and answer.headers["location"] == location
    assert "Drafts were queued" in client.get(f"{location}&lang=en").text
    assert [job.params for job in jobs_of(client)] == [
        {"record_id": RECORD, "force": False, "only": []}
    ]
    assert audit_rows(client)[-1].action == "review.request"
    assert client.post("/admin/review/records/NOPE/drafts").status_code == 404
    sign_in(client, "binh", "editor")  # the record is published: not theirs to change
    assert client.post(request).status_code == 403
    count = db_of(client).call(lambda s: s.scalar(select(func.count()).select_from(Job)))
    assert count == 1


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_review_pages_speak_both_languages(client: TestClient, lang: str) -> None:
    key = add_draft(client)
    sign_in(client, "chi", "curator")
    queue = client.get(f"/admin/review?lang={lang}").text
    item = item_html(client, key, lang)
    heading = {"vi": "Duyệt nội dung do máy viết", "en": "Review of machine output"}[lang]
    accept = {"vi": "Chấp nhận nguyên văn", "en": "Accept as written"}[lang]
    assert heading in queue and heading in page_of(client, lang) and accept in item


# Both engines


def test_deciding_and_listing_work_on_both_engines(database_url: str) -> None:
    from server.audit import Actor
    from server.catalog import import_catalog_file
    from server.drafting.jobs import plan_drafts
    from server.migrate import upgrade
    from server.review_actions import decide_draft
    from server.review_items import queue_rows
    from tests.conftest import SEED_CATALOG

    db = Database(database_url)
    try:
        upgrade(db)
        db.call(lambda s: import_catalog_file(s, SEED_CATALOG), write=True)

        def add(session):  # type: ignore[no-untyped-def]
            drafts = [
                MachineDraft(record_id=RECORD, field="description", language="vi",
                             source_language="en", text="Sử thi Khan.", source="template"),
                MachineDraft(record_id=RECORD, field="label", language="vi", text="Nhãn.",
                             source="llm", model="m"),
            ]  # fmt: skip
            session.add_all(drafts)
            session.flush()
            return [d.id for d in drafts]

        first, second = db.call(add, write=True)
        rows = db.call(lambda s: queue_rows(s, "editor", "vi"))
        assert [r.anchor for r in rows["draft"]] == [f"draft-{first}", f"draft-{second}"]
        assert not any(r.editable for r in rows["draft"])  # a published record
        actor = Actor(None, "chi")
        db.call(lambda s: decide_draft(s, str(first), "accept", None, actor, "curator"), write=True)
        db.call(
            lambda s: decide_draft(s, str(second), "reject", None, actor, "curator"), write=True
        )
        record = db.call(lambda s: s.get(Record, RECORD))
        assert record.description["vi"] == "Sử thi Khan."
        assert db.call(lambda s: queue_rows(s, "curator", "vi"))["draft"] == []
        planned = db.call(lambda s: [p.key for p in plan_drafts(s, s.get(Record, RECORD))])
        assert planned == ["label:en"]  # vi rejected, the description filled, titles both there
        versions = db.call(
            lambda s: s.scalar(
                select(func.count())
                .select_from(RecordVersion)
                .where(RecordVersion.record_id == RECORD)
            )
        )
        assert versions == 2  # the state before, and after the accepted draft
    finally:
        db.dispose()


def test_an_accepted_alt_text_describes_the_picture_on_the_public_page() -> None:
    from server.image_view import viewers

    technical = {"pipeline": "image", "kind": "image", "width": 800, "height": 600}
    alt = {"alt": {"vi": "Nghệ nhân kể khan bên bếp lửa."}}
    asset = Asset(
        id="a1", kind="image", role="primary", label={}, published_version="v1",
        technical=technical | alt,
    )  # fmt: skip
    (vi,) = viewers([asset], "vi")
    (en,) = viewers([asset], "en")
    assert (vi.alt, en.alt) == ("Nghệ nhân kể khan bên bếp lửa.", "")
