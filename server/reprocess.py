"""Versioned reprocessing: ``POST /admin/media/{asset_id}/reprocess`` with new parameters.

The job makes a new derivative version (its name is the digest of the original and the
options, :func:`server.media_jobs.version_for`); ``Asset.published_version`` keeps
pointing at the old one until the job has published the new version whole, and a job that
fails leaves the old one live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from server.admin import PRIVATE_HEADERS
from server.audit import Actor, log_change
from server.auth import current_user
from server.errors import N_, Forbidden, NotFound, ValidationError
from server.handlers import wants_html
from server.media_jobs import settings_with
from server.models import Asset, Job, Record
from server.policy import can_edit_record, can_see_in_admin, role_of
from server.settings import Settings, SettingsError
from server.state import get_museum

# Form field -> (job parameter or setting, allowed values or None for a setting's parser).
MODEL_FIELDS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "units": ("units", ("mm", "cm", "m")),
    "up": ("up", ("y", "z")),
    "kind": ("kind", ("mesh", "pointcloud")),
    "lod_triangles": ("model_lod_triangles", None),
    "texture_format": ("model_texture_format", None),
}
IMAGE_FIELDS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "kind": ("kind", ("image", "document")),
    "tile_size": ("image_tile_size", None),
}
AV_FIELDS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "loudness": ("av_loudness_target", None),
    "captions": ("av_captions", None),
}
FIELDS = {"process_model": MODEL_FIELDS, "process_image": IMAGE_FIELDS, "process_av": AV_FIELDS}


@dataclass(frozen=True)
class Reprocess:
    pipeline: str
    params: dict[str, Any]


def parse_parameters(
    pipeline: str, form: FormData, base: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """The job's params: the last run's (``base``) with the form's non-empty fields on top.

    Pipeline options (units, up, kind) go in as they are; settings (LOD budgets, tile size,
    loudness...) go under ``params["settings"]`` after the parse their variable gets.
    """
    params = {k: v for k, v in base.items() if k != "asset_id"}
    overrides: dict[str, Any] = dict(params.get("settings") or {})
    for name, (target, choices) in FIELDS[pipeline].items():
        raw = form.get(name)
        if not isinstance(raw, str) or not raw.strip():
            continue
        value = raw.strip()
        if choices is None:
            overrides[target] = value
        elif value.lower() in choices:
            params[target] = value.lower()
        else:
            raise ValidationError(
                N_("{field} must be one of {choices}."),
                parameter=name,
                field=name,
                choices=", ".join(choices),
            )
    try:
        settings_with(settings, overrides)
    except SettingsError as exc:
        field = next((f for f, (t, _) in FIELDS[pipeline].items() if t in str(exc).lower()), "")
        raise ValidationError(
            N_("A parameter is not valid: {reason}"), parameter=field or None, reason=str(exc)
        ) from exc
    if overrides:
        params["settings"] = overrides
    return params


def _plan(
    session: Session, asset_id: str, role: str, form: FormData, settings: Settings
) -> Reprocess:
    """What to run for ``asset_id``, checking that ``role`` may change its media."""
    from processing.registry import pipeline_for

    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound(N_("No media with id {id}."), parameter="asset_id", id=asset_id)
    record = session.get(Record, asset.record_id) if asset.record_id else None
    allowed = (
        can_edit_record(role, record.status, record.access_level)
        if record is not None
        else can_see_in_admin(role, asset.access_level)
    )
    if not allowed:
        raise Forbidden(N_("Your role may not change this media item."), parameter="asset_id")
    pipeline = pipeline_for(asset.kind)
    if pipeline is None or pipeline not in FIELDS:
        raise ValidationError(
            N_("There is no processing for media of kind {kind}."),
            parameter="asset_id",
            kind=asset.kind,
        )
    last = session.scalars(
        select(Job.params)
        .where(Job.asset_id == asset_id, Job.kind == pipeline)
        .order_by(Job.created_at.desc())
        .limit(1)
    ).first()
    return Reprocess(pipeline, parse_parameters(pipeline, form, dict(last or {}), settings))


async def reprocess(request: Request) -> Response:
    """Queue a new derivative version of one asset with the parameters in the form."""
    museum = get_museum(request)
    asset_id = request.path_params["asset_id"]
    role = role_of(current_user(request))
    form = await request.form()
    plan = await museum.db.run(lambda s: _plan(s, asset_id, role, form, museum.settings))
    actor = Actor.from_request(request)

    def queue(session: Session) -> tuple[str, str | None]:
        """The job and its audit entry in one transaction; queued once it commits."""
        job_id = museum.jobs.submit(
            plan.pipeline, {**plan.params, "asset_id": asset_id}, asset_id, session=session
        )
        asset = session.get(Asset, asset_id)
        published = asset.published_version if asset else None
        log_change(
            session,
            actor,
            "asset.reprocess",
            "asset",
            asset_id,
            {"published_version": published},
            {"job_id": job_id, "kind": plan.pipeline, "params": plan.params},
        )
        return job_id, published

    job_id, published = await museum.db.run(queue, write=True)
    if wants_html(request):
        target = request.url_for("admin_upload").path + f"?queued={job_id}"
        return RedirectResponse(target, status_code=303, headers=PRIVATE_HEADERS)
    return JSONResponse(
        {
            "asset_id": asset_id,
            "job_id": job_id,
            "kind": plan.pipeline,
            "params": plan.params,
            "published_version": published,
        },
        status_code=202,
        headers=PRIVATE_HEADERS,
    )
