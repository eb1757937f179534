"""Community contributions: photos, stories and recordings the public sends, held for review.

``/contribute`` (and ``/items/{id}/contribute`` for one public item) is a plain HTML form
that works without script. What it accepts:

* a kind (photo, story, recording), a title, the story or a caption, the sender's name
  (the credit), an optional e-mail address, the language, one of three open licences
  (CC BY 4.0, CC BY-SA 4.0, CC0) and a consent box;
* for a photo or a recording, one file of at most ``MUSEUM_CONTRIBUTION_MAX_SIZE``, whose
  bytes (not its name) must say it is a web photo or a recording container the pipelines
  take (:mod:`processing.sniff`).

The body is refused with 413 before it is read when it declares a larger size, and while
it streams when it turns out larger (:mod:`server.contribution_limits`); the multipart
parser spools the file to disk, never all in memory. A file becomes an original in the
store and an asset with no record and access level "staff" (seen by no visitor until a
curator approves it: :mod:`server.moderation`), with its licence and credit set, and its
processing is queued. Each address may send ``MUSEUM_CONTRIBUTION_LIMIT`` contributions an
hour (counted in the database, so every server process agrees); the address itself is
kept only as a keyed hash.
"""

from __future__ import annotations

import math
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from processing.sniff import HEADER_BYTES, Sniffed, sniff_bytes
from server.audit import Actor, log_change, snapshot
from server.auth import client_address, current_user, remember_csrf_cookie
from server.contribution_limits import FORM_KEY, MAX_FIELDS, check_rate, client_key
from server.errors import N_, BadRequest, InsufficientStorage, NotFound, PayloadTooLarge
from server.i18n import localized, nfc
from server.models import Asset, Contribution, Record
from server.records import visible
from server.rights import Rights, describe_rights
from server.settings import Settings
from server.state import Museum, get_museum
from server.storage import StoredOriginal, free_space
from server.vocab import LANGUAGE_NAMES, PUBLIC_ACCESS

KINDS = {
    "photo": N_("A photo"),
    "story": N_("A story or memory"),
    "recording": N_("A recording (sound or video)"),
}


@dataclass(frozen=True)
class Licence:
    uri: str
    name: str  # shown as is: licence names are not translated
    explanation: str  # message id


LICENCES = {
    "cc-by-4.0": Licence(
        "http://creativecommons.org/licenses/by/4.0/",
        "CC BY 4.0",
        N_("Anyone may share and adapt it, also commercially, as long as they name you."),
    ),
    "cc-by-sa-4.0": Licence(
        "http://creativecommons.org/licenses/by-sa/4.0/",
        "CC BY-SA 4.0",
        N_(
            "Anyone may share and adapt it, also commercially, as long as they name you and "
            "share their adaptations under the same licence."
        ),
    ),
    "cc0-1.0": Licence(
        "http://creativecommons.org/publicdomain/zero/1.0/",
        "CC0 1.0",
        N_(
            "You give it to everyone: anyone may use it for anything without asking or naming "
            "you (the museum will still name you)."
        ),
    ),
}
# What the pipelines take from the public: web photos, and the recording containers
# processing.av.probe allows.
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"})
MEDIA_KINDS = {"photo": ("image",), "recording": ("audio", "video")}
MAX_TITLE = 200
MIN_STORY = 20
MAX_STORY = 10_000
MAX_NAME = 120
MAX_EMAIL = 254
MAX_FILENAME = 200
STORIES = "community_stories"  # the key in Record.extra
FORM_HEADERS = {"cache-control": "private, no-store"}  # the page holds a visitor's CSRF token
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|]+')


def _recording_types() -> frozenset[str]:
    from processing.av.probe import DEMUXERS

    return frozenset(DEMUXERS)


@dataclass
class Draft:
    """The form as sent (or as it starts), for validation and for showing it again."""

    kind: str = ""
    title: str = ""
    story: str = ""
    name: str = ""
    email: str = ""
    language: str = "vi"
    licence: str = ""
    consent: bool = False
    record_id: str = ""
    errors: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def fail(self, name: str, message: str, **params: Any) -> None:
        self.errors.setdefault(name, (message, params))


def _clean(value: Any, keep_lines: bool = False) -> str:
    text = nfc(str(value)) if isinstance(value, str) else ""
    text = _CONTROL.sub("", text.replace("\r\n", "\n"))
    return text.strip() if keep_lines else " ".join(text.split())


def parse_fields(form: FormData, lang: str) -> Draft:
    """The text fields of the form, each checked; problems are kept by field name."""
    draft = Draft(
        kind=_clean(form.get("kind")),
        title=_clean(form.get("title")),
        story=_clean(form.get("story"), keep_lines=True),
        name=_clean(form.get("name")),
        email=_clean(form.get("email")),
        language=_clean(form.get("language")) or lang,
        licence=_clean(form.get("licence")),
        consent=form.get("consent") == "yes",
        record_id=_clean(form.get("record_id")),
    )
    if draft.kind not in KINDS:
        draft.fail("kind", N_("Choose what you are sending: a photo, a story or a recording."))
    if not draft.title:
        draft.fail("title", N_("Give it a title."))
    elif len(draft.title) > MAX_TITLE:
        draft.fail("title", N_("The title may have at most {count} characters."), count=MAX_TITLE)
    if len(draft.story) > MAX_STORY:
        draft.fail("story", N_("The text may have at most {count} characters."), count=MAX_STORY)
    elif draft.kind == "story" and len(draft.story) < MIN_STORY:
        draft.fail("story", N_("Write your story (at least {count} characters)."), count=MIN_STORY)
    if not draft.name:
        draft.fail("name", N_("Your name is needed: the museum credits you with it."))
    elif len(draft.name) > MAX_NAME:
        draft.fail("name", N_("The name may have at most {count} characters."), count=MAX_NAME)
    if draft.email and (len(draft.email) > MAX_EMAIL or not _EMAIL.match(draft.email)):
        draft.fail("email", N_("This does not look like an e-mail address, e.g. ten@example.vn."))
    if draft.language not in LANGUAGE_NAMES:
        draft.fail("language", N_("Choose one of the languages in the list."))
    if draft.licence not in LICENCES:
        draft.fail("licence", N_("Choose one of the three licences."))
    if not draft.consent:
        draft.fail(
            "consent", N_("Please confirm that you may share this and agree to the licence.")
        )
    if draft.record_id and not _RECORD_ID.match(draft.record_id):
        raise NotFound(N_("No heritage item with id {record_id}."), record_id=draft.record_id)
    return draft


def _uploads(form: FormData) -> list[UploadFile]:
    """The files sent; an empty file input (no file chosen) sends a part with no name."""
    found = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
    if len(form.multi_items()) > MAX_FIELDS or len(found) > 1:
        raise BadRequest(N_("The form has more fields or files than it should. Reload the page."))
    return [f for f in found if f.filename or (f.size or 0) > 0]


async def check_file(draft: Draft, upload: UploadFile | None, settings: Settings) -> Sniffed | None:
    """What the file is (from its bytes), or None; wrong kinds are field problems."""
    if upload is None:
        if draft.kind in MEDIA_KINDS:
            draft.fail("file", N_("Choose the file to send."))
        return None
    size = upload.size or 0
    if size > settings.contribution_max_size:
        raise PayloadTooLarge(
            N_("The file is {size} MB; the museum accepts files of at most {limit} MB."),
            parameter="file",
            size=math.ceil(size / 1024**2),
            limit=settings.contribution_max_size // 1024**2,
        )
    if draft.kind == "story":
        draft.fail("file", N_("A story has no file: choose “photo” or “recording” to send one."))
        return None
    await upload.seek(0)
    sniffed = sniff_bytes(await upload.read(HEADER_BYTES), upload.filename or "")
    if draft.kind == "photo" and sniffed.media_type not in PHOTO_TYPES:
        draft.fail(
            "file",
            N_("This file is not a photo the museum can take: send JPEG, PNG, WebP or HEIC."),
        )
    if draft.kind == "recording" and sniffed.media_type not in _recording_types():
        draft.fail(
            "file",
            N_(
                "This file is not a recording the museum can take: send MP4, MOV, WebM, MKV, "
                "MP3, WAV, FLAC or Ogg."
            ),
        )
    return sniffed


def safe_filename(name: str, sniffed: Sniffed) -> str:
    """The sender's file name without folders or characters that mean something to a shell."""
    base = re.split(r"[\\/]", name)[-1]
    text = unicodedata.normalize("NFC", _UNSAFE_NAME.sub("_", base)).strip(" .")[:MAX_FILENAME]
    return text or f"contribution.{sniffed.media_type.rsplit('/', 1)[-1]}"


# Pages


@dataclass(frozen=True)
class Story:
    """An approved community story as the item page shows it."""

    title: str
    text: list[str]  # paragraphs
    name: str
    date: str
    language: str
    licence: Rights | None


def community_stories(record: Record) -> list[Story]:
    """The record's approved stories (``Record.extra["community_stories"]``), oldest first;
    entries that are not well-formed are left out rather than breaking the page."""
    raw = (record.extra or {}).get(STORIES)
    stories = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, dict):
            continue
        text = str(entry.get("text") or "")
        licence = str(entry.get("licence") or "")
        stories.append(
            Story(
                title=str(entry.get("title") or ""),
                text=[part.strip() for part in text.split("\n\n") if part.strip()],
                name=str(entry.get("name") or ""),
                date=str(entry.get("date") or ""),
                language=str(entry.get("language") or "vi"),
                licence=describe_rights(licence) if licence else None,
            )
        )
    return stories


def _public_record(session: Session, record_id: str) -> Record | None:
    return session.scalars(
        visible(select(Record).where(Record.id == record_id), PUBLIC_ACCESS)
    ).first()


def _page(request: Request, draft: Draft, record: Record | None, status: int = 200) -> Response:
    museum = get_museum(request)
    lang = request.state.lang
    gettext = museum.translations(lang).gettext
    errors = {name: gettext(msg).format(**params) for name, (msg, params) in draft.errors.items()}
    response = museum.templates.TemplateResponse(
        request,
        "contribute.html",
        {
            "draft": draft,
            "errors": errors,
            "kinds": KINDS,
            "licences": LICENCES,
            "languages": LANGUAGE_NAMES,
            "record": record,
            "record_title": localized(record.title, lang) if record is not None else "",
            "max_size_mb": museum.settings.contribution_max_size // 1024**2,
            "sent": False,
        },
        status_code=status,
        headers=FORM_HEADERS,
    )
    remember_csrf_cookie(request, response)
    return response


async def contribute_form(request: Request) -> Response:
    """The form for a contribution about the museum's heritage in general."""
    kind = request.query_params.get("kind", "")
    draft = Draft(kind=kind if kind in KINDS else "", language=request.state.lang)
    return _page(request, draft, None)


async def item_contribute_form(request: Request) -> Response:
    """The form for a contribution about one public item."""
    museum = get_museum(request)
    record_id = request.path_params["record_id"]
    record = await museum.db.run(lambda s: _public_record(s, record_id))
    if record is None:
        raise NotFound(N_("No heritage item with id {record_id}."), record_id=record_id)
    return _page(request, Draft(record_id=record.id, language=request.state.lang), record)


async def thanks(request: Request) -> Response:
    """Where a sent form lands: it will appear once the museum has reviewed it."""
    museum = get_museum(request)
    item = request.query_params.get("item", "")
    return museum.templates.TemplateResponse(
        request,
        "contribute.html",
        {"sent": True, "item": item if _RECORD_ID.match(item) else ""},
        headers=FORM_HEADERS,
    )


async def submit(request: Request) -> Response:
    """Check the form, keep the file as an original, record the contribution, queue its
    processing, and send the visitor to the thank-you page."""
    museum = get_museum(request)
    settings = museum.settings
    form = request.scope.get(FORM_KEY) or await request.form(max_files=1, max_fields=MAX_FIELDS)
    draft = parse_fields(form, request.state.lang)
    uploads = _uploads(form)
    record = None
    if draft.record_id:
        record = await museum.db.run(lambda s: _public_record(s, draft.record_id))
        if record is None:
            raise NotFound(N_("No heritage item with id {record_id}."), record_id=draft.record_id)
    upload = uploads[0] if uploads else None
    sniffed = await check_file(draft, upload, settings)
    if draft.errors:
        return _page(request, draft, record, status=422)
    client = client_key(settings, client_address(request))
    await museum.db.run(lambda s: check_rate(s, client, settings.contribution_limit))
    stored, filename = None, ""
    if upload is not None and sniffed is not None:
        stored = await anyio.to_thread.run_sync(_store, museum, upload)
        filename = safe_filename(upload.filename or "", sniffed)
    actor = Actor.from_request(request)
    user = current_user(request)

    def save(session: Session) -> str | None:
        check_rate(session, client, settings.contribution_limit)
        asset_id = None
        if stored is not None and sniffed is not None:
            asset_id = _add_asset(session, draft, stored, sniffed, filename, user)
        contribution = Contribution(
            record_id=record.id if record is not None else None,
            kind=draft.kind,
            title=draft.title,
            story=draft.story,
            language=draft.language,
            contributor_name=draft.name,
            contributor_email=draft.email,
            license=LICENCES[draft.licence].uri,
            asset_id=asset_id,
            status="pending",
            client=client,
        )
        session.add(contribution)
        session.flush()
        log_change(
            session,
            actor,
            "contribution.submit",
            "contribution",
            contribution.id,
            after=snapshot(contribution, PRIVATE_COLUMNS),
        )
        return asset_id

    asset_id = await museum.db.run(save, write=True)
    if asset_id is not None and sniffed is not None:
        await _queue(museum, asset_id, sniffed.kind)
    target = request.url_for("contribute_thanks").path
    if record is not None:
        target += f"?item={record.id}"
    return RedirectResponse(target, status_code=303)


# Never copied into the audit log: the sender's address (hashed) and e-mail.
PRIVATE_COLUMNS = frozenset({"contributor_email", "client"})


def _store(museum: Museum, upload: UploadFile) -> StoredOriginal:
    settings = museum.settings
    size = upload.size or 0
    if free_space(settings.data_dir) - size < settings.min_free_disk:
        raise InsufficientStorage(
            N_("The museum's disk is full for now; please try again later."), parameter="file"
        )
    upload.file.seek(0)
    return museum.store.ingest(upload.file, max_size=settings.contribution_max_size)


def _add_asset(
    session: Session,
    draft: Draft,
    stored: StoredOriginal,
    sniffed: Sniffed,
    filename: str,
    user: Any,
) -> str:
    """The contribution's media: no record and staff-only until a curator approves it."""
    asset = Asset(
        id=uuid.uuid4().hex,
        sha256=stored.sha256,
        size=stored.size,
        filename=filename,
        media_type=sniffed.media_type,
        kind=sniffed.kind,
        record_id=None,
        role="detail" if draft.kind == "photo" else sniffed.kind,
        label={draft.language: draft.title},
        access_level="staff",
        license=LICENCES[draft.licence].uri,
        attribution=draft.name,
        original_downloadable=False,
        uploaded_by=user.id if user is not None else None,
    )
    session.add(asset)
    return asset.id


async def _queue(museum: Museum, asset_id: str, kind: str) -> None:
    """Queue the pipeline for the file's kind, as ``museum ingest`` does."""
    from processing.registry import pipeline_for

    pipeline = pipeline_for(kind)
    if pipeline is not None:
        await anyio.to_thread.run_sync(
            lambda: museum.jobs.submit(pipeline, {"asset_id": asset_id}, asset_id=asset_id)
        )
