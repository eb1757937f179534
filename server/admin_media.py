"""Media of a record in the staff interface: licence, attribution, access, labels, order,
and the annotations (hotspots) of 3D models.

The media tab is part of the record's edit page (:mod:`server.admin_records`); its forms
post here. Annotations are checked by :mod:`server.annotations`, as on the command line.
Each change writes one audit entry; a change to a record's media also refreshes the
record's search row (media kinds and texts are searchable).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server.admin_common import (
    asset_for_staff,
    form_int,
    parse_position,
    parse_text,
    parse_texts,
    read_form,
    redirect,
    render,
    rendered_errors,
    request_role,
)
from server.annotations import CONTENT_LANGUAGES as ANNOTATION_LANGUAGES
from server.annotations import (
    MAX_TEXT,
    MAX_TITLE,
    MODEL_KIND,
    NewAnnotation,
    add_annotation,
    list_annotations,
    parse_media_url,
    parse_number,
    parse_order,
    remove_annotation,
    update_annotation,
)
from server.annotations import parse_texts as parse_annotation_texts
from server.audit import Actor, log_change, snapshot
from server.errors import N_, Forbidden, NotFound, ValidationError
from server.models import Annotation, Asset, Record
from server.policy import access_levels_for, can_edit_record, has_permission
from server.record_form import MAIN_LANGUAGES, Errors, FieldError
from server.rights import LICENCE_CHOICES, describe_rights
from server.search import index_record
from server.state import get_museum
from server.vocab import ACCESS_LEVELS, LANGUAGE_NAMES

MAX_ATTRIBUTION = 512
MAX_LABEL = 500


@dataclass
class MediaRow:
    """One media item on the edit page, with the form's values and problems."""

    asset: Asset
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    annotations: int = 0

    @property
    def is_model(self) -> bool:
        return is_model(self.asset)


def is_model(asset: Asset) -> bool:
    return asset.kind == MODEL_KIND or (asset.technical or {}).get("pipeline") == "3d"


def asset_values(asset: Asset) -> dict[str, str]:
    values = {
        "license": asset.license,
        "attribution": asset.attribution,
        "original_downloadable": "1" if asset.original_downloadable else "",
        "access_level": asset.access_level,
        "position": str(asset.position),
    }
    values.update({f"label.{lang}": asset.label.get(lang, "") for lang in MAIN_LANGUAGES})
    return values


def media_rows(session: Session, record: Record, role: str) -> list[MediaRow]:
    """The record's media the role may see, in display order."""
    assets = session.scalars(
        select(Asset)
        .where(Asset.record_id == record.id, Asset.access_level.in_(access_levels_for(role)))
        .order_by(Asset.position, Asset.created_at, Asset.id)
    ).all()
    counts: dict[str, int] = {}
    for (asset_id,) in session.execute(
        select(Annotation.asset_id).where(Annotation.asset_id.in_([a.id for a in assets]))
    ):
        counts[asset_id] = counts.get(asset_id, 0) + 1
    return [MediaRow(a, asset_values(a), annotations=counts.get(a.id, 0)) for a in assets]


def licence_choices(gettext: Callable[[str], str]) -> list[tuple[str, str]]:
    """``(uri, label)`` pairs for the licence menu."""
    choices = []
    for uri in LICENCE_CHOICES:
        rights = describe_rights(uri)
        choices.append((uri, gettext(rights.label) if rights.translate else rights.label))
    return choices


def licence_menu(choices: list[tuple[str, str]], current: str) -> dict[str, str]:
    """The licence menu of one media item: the list, and its own licence if not in it."""
    menu = dict(choices)
    if current and current not in menu:
        menu = {current: describe_rights(current).label, **menu}
    return menu


def _check_editable(session: Session, asset: Asset, role: str) -> Record | None:
    record = session.get(Record, asset.record_id) if asset.record_id else None
    if record is not None and not can_edit_record(role, record.status, record.access_level):
        raise Forbidden(N_("Only curators may change the media of a published record."))
    return record


# Saving a media item


@dataclass(frozen=True)
class MediaChange:
    values: dict[str, Any]
    errors: Errors


def parse_media_form(form: Mapping[str, str], asset: Asset) -> MediaChange:
    errors: Errors = {}
    values: dict[str, Any] = {}
    licence = form.get("license", "").strip()
    if licence and licence not in LICENCE_CHOICES and licence != asset.license:
        errors["license"] = FieldError(N_("choose a licence or rights statement from the list"))
    values["license"] = licence
    values["attribution"] = parse_text(form, "attribution", errors, limit=MAX_ATTRIBUTION)
    values["original_downloadable"] = form.get("original_downloadable", "") == "1"
    access = form.get("access_level", asset.access_level)
    if access not in ACCESS_LEVELS:
        errors["access_level"] = FieldError(
            N_("unknown access level; use one of: {choices}"), {"choices": ", ".join(ACCESS_LEVELS)}
        )
    values["access_level"] = access
    labels = parse_texts(form, "label", MAIN_LANGUAGES, errors, limit=MAX_LABEL)
    others = {k: v for k, v in asset.label.items() if k not in MAIN_LANGUAGES}
    values["label"] = {**others, **labels}
    values["position"] = parse_position(form.get("position", ""), "position", errors)
    return MediaChange(values, errors)


def save_media(
    session: Session, asset_id: str, form: Mapping[str, str], role: str, actor: Actor
) -> tuple[str | None, Errors]:
    """Write one media item's form: ``(its record's id, problems)``."""
    asset = asset_for_staff(session, asset_id, role)
    record = _check_editable(session, asset, role)
    change = parse_media_form(form, asset)
    if change.values["access_level"] != asset.access_level and not has_permission(role, "publish"):
        raise Forbidden(N_("Only curators may change the access level or the embargo."))
    if change.errors:
        return asset.record_id, change.errors
    before = snapshot(asset)
    for name, value in change.values.items():
        if getattr(asset, name) != value:
            setattr(asset, name, value)
    session.flush()
    after = snapshot(asset)
    if _without_time(after) == _without_time(before):
        return asset.record_id, {}
    if record is not None:
        index_record(session, record)
    log_change(session, actor, "asset.update", "asset", asset.id, before, after)
    return asset.record_id, {}


def _without_time(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "updated_at"}


async def media_save(request: Request) -> Response:
    """``POST /admin/media/{asset_id}``: licence, attribution, download, access, labels, order."""
    from server.admin_records import render_edit_page

    asset_id = request.path_params["asset_id"]
    form = await read_form(request)
    role, actor = request_role(request), Actor.from_request(request)
    record_id, errors = await get_museum(request).db.run(
        lambda s: save_media(s, asset_id, form, role, actor), write=True
    )
    if errors and record_id is not None:
        shown = {asset_id: {"values": form, "errors": rendered_errors(errors, request)}}
        return await render_edit_page(request, record_id, 422, media_input=shown)
    if errors:
        first = next(iter(errors.values()))
        raise ValidationError(first.message_id, **first.params)
    if record_id is None:
        return redirect(request, "admin_records")
    return redirect(request, "admin_record", fragment=f"media-{asset_id}", record_id=record_id)


# Annotations of a 3D model


@dataclass(frozen=True)
class AnnotationForm:
    new: NewAnnotation | None
    errors: Errors


def _field_of(parameter: str | None) -> str:
    """The form field a parser's parameter names: ``title-vi`` -> ``title.vi``, ``--x`` -> ``x``."""
    return (parameter or "").lstrip("-").replace("-", ".")


def parse_annotation_form(form: Mapping[str, str]) -> AnnotationForm:
    """Every field checked by :mod:`server.annotations`; all problems at once, by field."""
    errors: Errors = {}

    def attempt(parse: Callable[[], Any]) -> Any:
        try:
            return parse()
        except ValidationError as exc:
            errors.setdefault(_field_of(exc.parameter), FieldError(exc.message, exc.params))
            return None

    position = [attempt(partial(parse_number, form.get(axis, ""), axis)) for axis in "xyz"]
    title = attempt(
        lambda: parse_annotation_texts(
            {lang: form.get(f"title.{lang}") for lang in ANNOTATION_LANGUAGES},
            "title",
            MAX_TITLE,
            True,
        )
    )
    text = attempt(
        lambda: parse_annotation_texts(
            {lang: form.get(f"text.{lang}") for lang in ANNOTATION_LANGUAGES},
            "text",
            MAX_TEXT,
            False,
        )
    )
    media = attempt(lambda: parse_media_url(form.get("media"), "media"))
    order = attempt(lambda: parse_order(form.get("order", "").strip() or None, "order"))
    if errors:
        return AnnotationForm(None, errors)
    x, y, z = position
    new = NewAnnotation((x, y, z), title, text, media_url=media, sort_order=order)
    return AnnotationForm(new, {})


def annotation_values(row: Annotation) -> dict[str, str]:
    values = {"x": f"{row.x:g}", "y": f"{row.y:g}", "z": f"{row.z:g}"}
    for lang in ANNOTATION_LANGUAGES:
        values[f"title.{lang}"] = row.title.get(lang, "")
        values[f"text.{lang}"] = row.text.get(lang, "")
    values["media"] = row.media_url or ""
    values["order"] = str(row.sort_order)
    return values


def _annotations_page(session: Session, asset_id: str, role: str) -> dict[str, Any]:
    asset = asset_for_staff(session, asset_id, role)
    record = session.get(Record, asset.record_id) if asset.record_id else None
    editable = record is None or can_edit_record(role, record.status, record.access_level)
    rows = list_annotations(session, asset_id)
    return {
        "asset": asset,
        "record": record,
        "editable": editable,
        "is_model": is_model(asset),
        "rows": [(row, annotation_values(row)) for row in rows],
        "languages": ANNOTATION_LANGUAGES,
        "language_names": LANGUAGE_NAMES,
    }


async def render_annotations(
    request: Request,
    status: int = 200,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    errors: Mapping[str, Errors] | None = None,
) -> Response:
    asset_id = request.path_params["asset_id"]
    role = request_role(request)
    context = await get_museum(request).db.run(lambda s: _annotations_page(s, asset_id, role))
    context["typed"] = typed or {}
    context["errors"] = {key: rendered_errors(e, request) for key, e in (errors or {}).items()}
    return render(request, "admin_annotations.html", context, status)


async def annotations_page(request: Request) -> Response:
    """``GET /admin/media/{asset_id}/annotations``: a 3D model's annotations, editable."""
    return await render_annotations(request)


def _change_annotation(
    session: Session, asset_id: str, action: str, form: Mapping[str, str], role: str, actor: Actor
) -> tuple[str, Errors]:
    """Add, save or delete one annotation: ``(form key, problems)``.

    Who may is checked first, then the form: a role that may not change the model learns
    nothing about its annotations.
    """
    asset = asset_for_staff(session, asset_id, role)
    _check_editable(session, asset, role)
    annotation_id = None if action == "add" else form_int(form, "annotation_id")
    key = "new" if annotation_id is None else str(annotation_id)
    before = None
    if annotation_id is not None:
        row = session.get(Annotation, annotation_id)
        if row is None or row.asset_id != asset_id:
            raise NotFound(
                N_("No annotation with id {id}."), parameter="annotation_id", id=annotation_id
            )
        before = snapshot(row)
    if action == "delete" and annotation_id is not None:
        remove_annotation(session, annotation_id)
        log_change(session, actor, "annotation.delete", "annotation", annotation_id, before)
        return key, {}
    parsed = parse_annotation_form(form)
    if parsed.new is None:
        return key, parsed.errors
    try:
        if annotation_id is None:
            row = add_annotation(session, asset_id, parsed.new)
        else:
            row = update_annotation(session, annotation_id, parsed.new)
    except ValidationError as exc:
        return key, {_field_of(exc.parameter): FieldError(exc.message, exc.params)}
    name = "annotation.create" if annotation_id is None else "annotation.update"
    log_change(session, actor, name, "annotation", row.id, before, snapshot(row))
    return key, {}


async def _annotation_post(request: Request, action: str) -> Response:
    """``action``: add, save (the form names ``annotation_id``) or delete (likewise)."""
    asset_id = request.path_params["asset_id"]
    form = await read_form(request)
    role, actor = request_role(request), Actor.from_request(request)
    key, errors = await get_museum(request).db.run(
        lambda s: _change_annotation(s, asset_id, action, form, role, actor), write=True
    )
    if errors:
        return await render_annotations(request, 422, {key: form}, {key: errors})
    return redirect(request, "admin_annotations", asset_id=asset_id)


async def annotation_add(request: Request) -> Response:
    """``POST /admin/media/{asset_id}/annotations``: a new annotation."""
    return await _annotation_post(request, "add")


async def annotation_save(request: Request) -> Response:
    """``POST /admin/media/{asset_id}/annotations/save`` with ``annotation_id``: change one."""
    return await _annotation_post(request, "save")


async def annotation_delete(request: Request) -> Response:
    """``POST /admin/media/{asset_id}/annotations/delete`` with ``annotation_id``: remove one."""
    return await _annotation_post(request, "delete")
