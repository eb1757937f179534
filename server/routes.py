"""The whole URL map on one screen. Later capabilities add their mounts here."""

from __future__ import annotations

from pathlib import Path

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount

from server import (
    accounts,
    admin,
    admin_account,
    admin_audit,
    admin_collections,
    admin_exhibitions,
    admin_history,
    admin_jobs,
    admin_kiosks,
    admin_media,
    admin_records,
    admin_users,
    api,
    contribution_limits,
    contributions,
    exhibition_pages,
    exports,
    iiif_image,
    iiif_presentation,
    kiosk,
    map_pages,
    media_rights,
    moderation,
    oai,
    openapi,
    ops,
    pages,
    rate_limits,
    report_downloads,
    reprocess,
    review,
    upload_pages,
    uploads,
)
from server.annotations import media_annotations
from server.auth import Endpoint, GuardedRoute, GuardedWebSocketRoute, WebSocketEndpoint
from server.media_access import MediaFiles
from server.policy import Rule
from server.settings import Settings
from server.static import ImmutableStaticFiles
from server.trips import pages as trip_pages
from server.trips import ws as trip_ws

JOB_ID = "{job_id:str}"

# The rules routes are declared with (server.policy); the role × route test reads them here.
VIEW = Rule("view")
VIEW_RECORD = Rule("view", "record")
VIEW_ASSET = Rule("view", "asset")
VIEW_EXHIBITION = Rule("view", "exhibition")
STAFF = Rule("staff")
CONTRIBUTE = Rule("contribute")
LEAD_TRIP = Rule("lead_trip")
OWN_TRIP = Rule("lead_trip", "trip")  # and the trip's own teacher (server.trips.pages)


def Route(  # reads like starlette's Route, with the rule every route must have
    path: str,
    endpoint: Endpoint,
    rule: Rule,
    *,
    name: str,
    methods: list[str] | None = None,
) -> GuardedRoute:
    return GuardedRoute(path, endpoint, rule=rule, name=name, methods=methods)


def WebSocket(  # a guarded WebSocket route: the rule and the Origin checked at the handshake
    path: str, endpoint: WebSocketEndpoint, rule: Rule, *, name: str
) -> GuardedWebSocketRoute:
    return GuardedWebSocketRoute(path, endpoint, rule=rule, name=name)


def build_routes(settings: Settings, viewer_dist: Path) -> list[BaseRoute]:
    searches = rate_limits.search_budget(settings)  # the page and the API share one budget
    return [
        # Public pages
        Route("/", pages.home, VIEW, name="home"),
        Route("/items/{record_id:str}", pages.item, VIEW_RECORD, name="item"),
        Route("/items/{record_id:str}/qr.svg", pages.item_qr, VIEW_RECORD, name="item_qr"),
        rate_limits.limit_route(
            Route("/search", pages.search_page, VIEW, name="search_page"), searches
        ),
        Route("/exhibitions", exhibition_pages.exhibition_list, VIEW, name="exhibition_list"),
        Route(
            "/exhibitions/{exhibition_id:str}",
            exhibition_pages.exhibition,
            VIEW_EXHIBITION,
            name="exhibition",
        ),
        Route(
            "/exhibitions/{exhibition_id:str}/room",
            exhibition_pages.exhibition_room,
            VIEW_EXHIBITION,
            name="exhibition_room",
        ),
        Route("/map", map_pages.map_page, VIEW, name="map"),
        Route("/map/province.geojson", map_pages.province_outline, VIEW, name="map_outline"),
        Route("/sitemap.xml", pages.sitemap, VIEW, name="sitemap"),
        Route("/robots.txt", pages.robots, VIEW, name="robots"),
        # JSON API
        Mount(
            "/api/v1",
            routes=[
                rate_limits.limit_route(
                    Route("/search", api.search_records, VIEW, name="search"), searches
                ),
                Route("/records", api.list_records, VIEW, name="records"),
                Route("/records/{record_id:str}", api.record_detail, VIEW_RECORD, name="record"),
                Route("/collections", api.list_collections, VIEW, name="collections"),
                Route(
                    "/collections/{collection_id:str}",
                    api.collection_detail,
                    Rule("view", "collection"),
                    name="collection",
                ),
                Route("/exhibitions", api.list_exhibitions, VIEW, name="exhibitions"),
                Route(
                    "/exhibitions/{exhibition_id:str}",
                    api.exhibition_detail,
                    VIEW_EXHIBITION,
                    name="exhibition",
                ),
                Route("/places", api.list_places, VIEW, name="places"),
                Route("/places/{place_id:str}", api.place_detail, VIEW, name="place"),
                Route("/media/{asset_id:str}", api.media_detail, VIEW_ASSET, name="media_detail"),
                Route(
                    "/media/{asset_id:str}/annotations",
                    media_annotations,
                    VIEW_ASSET,
                    name="media_annotations",
                ),
                Route(f"/jobs/{JOB_ID}", api.job_detail, Rule("staff", "job"), name="job"),
                Route("/progress", admin.progress_json, VIEW, name="progress"),
                Route(
                    "/exports/catalog.{fmt:str}",
                    exports.catalog_export,
                    VIEW,
                    name="catalog_export",
                ),
            ],
            middleware=[
                Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "HEAD"])
            ],
            name="api",
        ),
        Route("/api/openapi.json", openapi.openapi_json, VIEW, name="openapi"),
        # IIIF Presentation 3.0 and OAI-PMH 2.0: other systems harvest without asking
        Route(
            "/iiif/3/manifests/{record_id:str}",
            iiif_presentation.manifest,
            Rule("view", "record", public_only=True),
            name="iiif_manifest",
        ),
        Route(
            "/iiif/3/collections/{collection_id:str}",
            iiif_presentation.collection,
            Rule("view", "collection", public_only=True),
            name="iiif_collection",
        ),
        Route(
            "/iiif/3/annotations/{identifier:str}",
            iiif_image.text_annotations,
            VIEW_ASSET,
            name="iiif_annotations",
        ),
        # IIIF Image API 3.0 (after the Presentation routes, whose paths it would also match)
        Route(
            "/iiif/3/{identifier:str}", iiif_image.base_redirect, VIEW_ASSET, name="iiif_image_base"
        ),
        Route(
            "/iiif/3/{identifier:str}/info.json",
            iiif_image.info_json,
            VIEW_ASSET,
            name="iiif_image_info",
        ),
        Route(
            "/iiif/3/{identifier:str}/{region:str}/{size:str}/{rotation:str}/{qf:str}",
            iiif_image.image,
            VIEW_ASSET,
            name="iiif_image",
        ),
        Route("/oai", oai.endpoint, Rule("view", csrf=False), methods=["GET", "POST"], name="oai"),
        # Derivatives and the viewer bundle: content never changes under a URL
        Mount(
            "/media",
            app=MediaFiles(directory=settings.data_dir / "derivatives"),
            name="media",
        ),
        Mount("/static/viewer", app=ImmutableStaticFiles(directory=viewer_dist), name="viewer"),
        # Staff
        Route("/admin/", admin.dashboard, STAFF, name="admin_home"),
        Route("/admin/login", accounts.login_page, Rule("sign_in"), methods=["GET"], name="login"),
        Route(
            "/admin/login", accounts.login, Rule("sign_in"), methods=["POST"], name="login_submit"
        ),
        Route("/admin/logout", accounts.logout, Rule("signed_in"), methods=["POST"], name="logout"),
        Route("/admin/progress", admin.progress_page, STAFF, name="admin_progress"),
        # Admin: jobs with live progress, users, own account, audit log, report files (issue 8)
        Route("/admin/jobs", admin_jobs.jobs_page, STAFF, name="admin_jobs"),
        Route("/admin/jobs/events", admin_jobs.job_events_stream, STAFF, name="admin_job_events"),
        Route(f"/admin/jobs/{JOB_ID}", admin_jobs.job_page, Rule("staff", "job"), name="admin_job"),
        Route(
            f"/admin/jobs/{JOB_ID}/retry",
            admin_jobs.retry,
            Rule("edit", "job"),
            methods=["POST"],
            name="admin_job_retry",
        ),
        Route(
            f"/admin/jobs/{JOB_ID}/cancel",
            admin_jobs.cancel,
            Rule("edit", "job"),
            methods=["POST"],
            name="admin_job_cancel",
        ),
        Route(
            "/admin/users",
            admin_users.users_page,
            Rule("admin"),
            methods=["GET"],
            name="admin_users",
        ),
        Route(
            "/admin/users",
            admin_users.create_user,
            Rule("admin"),
            methods=["POST"],
            name="admin_user_create",
        ),
        Route(
            "/admin/users/{user_id:int}/role",
            admin_users.user_role,
            Rule("admin", "user"),
            methods=["POST"],
            name="admin_user_role",
        ),
        Route(
            "/admin/users/{user_id:int}/active",
            admin_users.user_active,
            Rule("admin", "user"),
            methods=["POST"],
            name="admin_user_active",
        ),
        Route(
            "/admin/users/{user_id:int}/sessions",
            admin_users.user_sessions,
            Rule("admin", "user"),
            methods=["POST"],
            name="admin_user_sessions",
        ),
        Route(
            "/admin/users/{user_id:int}/password",
            admin_users.user_password,
            Rule("admin", "user"),
            methods=["POST"],
            name="admin_user_password",
        ),
        Route(
            "/admin/account", admin_account.account_page, Rule("signed_in"), name="admin_account"
        ),
        Route(
            "/admin/account/password",
            admin_account.change_password,
            Rule("signed_in"),
            methods=["POST"],
            name="admin_account_password",
        ),
        Route("/admin/audit", admin_audit.audit_page, Rule("admin"), name="admin_audit"),
        Route("/admin/audit.csv", admin_audit.audit_csv, Rule("admin"), name="admin_audit_csv"),
        Route(
            "/admin/report/{year:str}.{fmt:str}",
            report_downloads.report_file,
            STAFF,
            name="admin_report_file",
        ),
        # Community contributions and their moderation; rights per media item (issue 8)
        Route("/contribute", contributions.contribute_form, CONTRIBUTE, name="contribute"),
        contribution_limits.limit_body(
            Route(
                "/contribute",
                contributions.submit,
                CONTRIBUTE,
                methods=["POST"],
                name="contribute_submit",
            ),
            settings,
        ),
        Route("/contribute/thanks", contributions.thanks, CONTRIBUTE, name="contribute_thanks"),
        Route(
            "/items/{record_id:str}/contribute",
            contributions.item_contribute_form,
            Rule("contribute", "record", public_only=True),
            name="item_contribute",
        ),
        Route("/admin/contributions", moderation.queue, STAFF, name="admin_contributions"),
        Route(
            "/admin/contributions/{contribution_id:str}",
            moderation.detail,
            Rule("staff", "contribution"),
            name="admin_contribution",
        ),
        Route(
            "/admin/contributions/{contribution_id:str}/approve",
            moderation.approve,
            Rule("publish", "contribution"),
            methods=["POST"],
            name="admin_contribution_approve",
        ),
        Route(
            "/admin/contributions/{contribution_id:str}/reject",
            moderation.reject,
            Rule("publish", "contribution"),
            methods=["POST"],
            name="admin_contribution_reject",
        ),
        Route(
            "/originals/{asset_id:str}",
            media_rights.original,
            # visitors: a visible asset with an open licence; staff: any asset they can see
            Rule("view", "original"),
            name="media_original",
        ),
        # Record editor, versions, media and 3D annotations; exhibitions, collections (issue 8)
        Route("/admin/records", admin_records.records_list, STAFF, name="admin_records"),
        Route(
            "/admin/records/new", admin_records.record_new, Rule("edit"), name="admin_record_new"
        ),
        Route(
            "/admin/records",
            admin_records.record_create,
            Rule("edit"),
            methods=["POST"],
            name="admin_record_create",
        ),
        Route(
            "/admin/records/{record_id:str}",
            admin_records.record_edit,
            Rule("staff", "record"),
            name="admin_record",
        ),
        Route(
            "/admin/records/{record_id:str}",
            admin_records.record_save,
            Rule("edit", "record"),
            methods=["POST"],
            name="admin_record_save",
        ),
        Route(
            "/admin/records/{record_id:str}/status",
            admin_records.record_status,
            Rule("edit", "record"),
            methods=["POST"],
            name="admin_record_status",
        ),
        Route(
            "/admin/records/{record_id:str}/history",
            admin_history.record_history,
            Rule("staff", "record"),
            name="admin_record_history",
        ),
        Route(
            "/admin/records/{record_id:str}/revert",
            admin_history.record_revert,
            Rule("publish", "record"),
            methods=["POST"],
            name="admin_record_revert",
        ),
        Route(
            "/admin/media/{asset_id:str}",
            admin_media.media_save,
            Rule("edit", "asset"),
            methods=["POST"],
            name="admin_media_save",
        ),
        Route(
            "/admin/media/{asset_id:str}/annotations",
            admin_media.annotations_page,
            Rule("staff", "asset"),
            name="admin_annotations",
        ),
        Route(
            "/admin/media/{asset_id:str}/annotations",
            admin_media.annotation_add,
            Rule("edit", "asset"),
            methods=["POST"],
            name="admin_annotation_add",
        ),
        Route(
            "/admin/media/{asset_id:str}/annotations/save",
            admin_media.annotation_save,
            Rule("edit", "asset"),
            methods=["POST"],
            name="admin_annotation_save",
        ),
        Route(
            "/admin/media/{asset_id:str}/annotations/delete",
            admin_media.annotation_delete,
            Rule("edit", "asset"),
            methods=["POST"],
            name="admin_annotation_delete",
        ),
        Route(
            "/admin/exhibitions",
            admin_exhibitions.exhibitions_list,
            STAFF,
            name="admin_exhibitions",
        ),
        Route(
            "/admin/exhibitions/new",
            admin_exhibitions.exhibition_new,
            Rule("edit", "exhibition"),
            name="admin_exhibition_new",
        ),
        Route(
            "/admin/exhibitions",
            admin_exhibitions.exhibition_create,
            Rule("edit", "exhibition"),
            methods=["POST"],
            name="admin_exhibition_create",
        ),
        Route(
            "/admin/exhibitions/{exhibition_id:str}",
            admin_exhibitions.exhibition_edit,
            Rule("staff", "exhibition"),
            name="admin_exhibition",
        ),
        Route(
            "/admin/exhibitions/{exhibition_id:str}",
            admin_exhibitions.exhibition_save,
            Rule("edit", "exhibition"),
            methods=["POST"],
            name="admin_exhibition_save",
        ),
        Route(
            "/admin/exhibitions/{exhibition_id:str}/stops",
            admin_exhibitions.stop_add,
            Rule("edit", "exhibition"),
            methods=["POST"],
            name="admin_exhibition_stop_add",
        ),
        Route(
            "/admin/exhibitions/{exhibition_id:str}/stops/{number:int}",
            admin_exhibitions.stop_save,
            Rule("edit", "exhibition"),
            methods=["POST"],
            name="admin_exhibition_stop_save",
        ),
        Route(
            "/admin/exhibitions/{exhibition_id:str}/stops/{number:int}/move",
            admin_exhibitions.stop_move,
            Rule("edit", "exhibition"),
            methods=["POST"],
            name="admin_exhibition_stop_move",
        ),
        Route(
            "/admin/exhibitions/{exhibition_id:str}/stops/{number:int}/delete",
            admin_exhibitions.stop_delete,
            Rule("edit", "exhibition"),
            methods=["POST"],
            name="admin_exhibition_stop_delete",
        ),
        Route(
            "/admin/collections",
            admin_collections.collections_list,
            STAFF,
            name="admin_collections",
        ),
        Route(
            "/admin/collections/new",
            admin_collections.collection_new,
            Rule("edit", "collection"),
            name="admin_collection_new",
        ),
        Route(
            "/admin/collections",
            admin_collections.collection_create,
            Rule("edit", "collection"),
            methods=["POST"],
            name="admin_collection_create",
        ),
        Route(
            "/admin/collections/{collection_id:str}",
            admin_collections.collection_edit,
            Rule("staff", "collection"),
            name="admin_collection",
        ),
        Route(
            "/admin/collections/{collection_id:str}",
            admin_collections.collection_save,
            Rule("edit", "collection"),
            methods=["POST"],
            name="admin_collection_save",
        ),
        Route(
            "/admin/collections/{collection_id:str}/records",
            admin_collections.member_add,
            Rule("edit", "collection"),
            methods=["POST"],
            name="admin_collection_record_add",
        ),
        Route(
            "/admin/collections/{collection_id:str}/records/{record_id:str}/move",
            admin_collections.member_move,
            Rule("edit", "collection"),
            methods=["POST"],
            name="admin_collection_record_move",
        ),
        Route(
            "/admin/collections/{collection_id:str}/records/{record_id:str}/delete",
            admin_collections.member_remove,
            Rule("edit", "collection"),
            methods=["POST"],
            name="admin_collection_record_remove",
        ),
        Route(
            "/admin/exhibitions/{exhibition_id:str}/delete",
            admin_exhibitions.exhibition_delete,
            Rule("edit", "exhibition"),
            methods=["POST"],
            name="admin_exhibition_delete",
        ),
        # Resumable uploads (tus 1.0), the uploader page, versioned reprocessing (issue 8)
        Route(
            "/uploads/",
            uploads.options,
            Rule("upload", csrf=False),
            methods=["OPTIONS"],
            name="upload_options",
        ),
        Route(
            "/uploads/",
            uploads.create,
            Rule("upload"),
            methods=["POST"],
            name="upload_create",
        ),
        Route(
            "/uploads/{upload_id:str}",
            uploads.head,
            Rule("upload", "upload", csrf=False),
            methods=["HEAD"],
            name="upload_head",
        ),
        Route(
            "/uploads/{upload_id:str}",
            uploads.patch,
            Rule("upload", "upload"),
            methods=["PATCH"],
            name="upload_patch",
        ),
        Route(
            "/uploads/{upload_id:str}",
            uploads.delete,
            Rule("upload", "upload"),
            methods=["DELETE"],
            name="upload_delete",
        ),
        Route(
            "/uploads/{upload_id:str}/status",
            uploads.status,
            Rule("upload", "upload", csrf=False),
            name="upload_status",
        ),
        Route("/admin/upload", upload_pages.upload_page, Rule("upload"), name="admin_upload"),
        Route(
            "/admin/media/{asset_id:str}/reprocess",
            reprocess.reprocess,
            Rule("edit", "asset"),
            methods=["POST"],
            name="admin_media_reprocess",
        ),
        # Review of machine output (AI drafts, machine captions, OCR)
        Route("/admin/review", review.review_queue, STAFF, name="admin_review"),
        Route(
            "/admin/review/records/{record_id:str}",
            review.record_page,
            Rule("staff", "record"),
            name="admin_review_record",
        ),
        Route(
            "/admin/review/records/{record_id:str}",
            review.record_decide,
            Rule("edit", "record"),
            methods=["POST"],
            name="admin_review_record_decide",
        ),
        Route(
            "/admin/review/records/{record_id:str}/again",
            review.record_again,
            Rule("edit", "record"),
            methods=["POST"],
            name="admin_review_again",
        ),
        Route(
            "/admin/review/records/{record_id:str}/drafts",
            review.record_drafts,
            Rule("edit", "record"),
            methods=["POST"],
            name="admin_review_request",
        ),
        Route(
            "/admin/review/media/{asset_id:str}",
            review.media_page,
            Rule("staff", "asset"),
            name="admin_review_media",
        ),
        Route(
            "/admin/review/media/{asset_id:str}",
            review.media_decide,
            Rule("edit", "asset"),
            methods=["POST"],
            name="admin_review_media_decide",
        ),
        # Museum kiosks: the full-screen app, its offline copy, heartbeats, admin (issue 9)
        Route(
            "/kiosk/heartbeat",
            kiosk.heartbeat,
            # the kiosk's own token (Authorization: Bearer), not a session, authenticates it
            Rule("view", csrf=False),
            methods=["POST"],
            name="kiosk_heartbeat",
        ),
        Route("/kiosk/{exhibition_id:str}", kiosk.kiosk_page, VIEW_EXHIBITION, name="kiosk"),
        Route(
            "/kiosk/{exhibition_id:str}/manifest.webmanifest",
            kiosk.kiosk_webmanifest,
            VIEW_EXHIBITION,
            name="kiosk_webmanifest",
        ),
        Route(
            "/kiosk/{exhibition_id:str}/sw.js",
            kiosk.kiosk_worker,
            VIEW_EXHIBITION,
            name="kiosk_worker",
        ),
        Route(
            "/kiosk/{exhibition_id:str}/offline.json",
            kiosk.offline_manifest,
            VIEW_EXHIBITION,
            name="kiosk_offline",
        ),
        Route("/admin/kiosks", admin_kiosks.kiosks_page, STAFF, name="admin_kiosks"),
        Route(
            "/admin/kiosks",
            admin_kiosks.kiosk_create,
            Rule("edit"),
            methods=["POST"],
            name="admin_kiosk_create",
        ),
        Route(
            "/admin/kiosks/{kiosk_id:str}",
            admin_kiosks.kiosk_update,
            Rule("edit"),
            methods=["POST"],
            name="admin_kiosk_update",
        ),
        # Teacher-led virtual field trips: start, lead, join, follow, end, worksheet (issue 9)
        Route("/trips/new", trip_pages.trip_new, LEAD_TRIP, name="trip_new"),
        Route("/trips", trip_pages.trip_create, LEAD_TRIP, methods=["POST"], name="trip_create"),
        Route("/trips/join", trip_pages.trip_join, VIEW, name="trip_join"),
        Route("/trips/{code:str}", trip_pages.trip_pupil, VIEW, name="trip_pupil"),
        # the teacher who started the trip; anyone else gets a 404, as for an unknown code
        Route("/trips/{code:str}/lead", trip_pages.trip_teacher, OWN_TRIP, name="trip_teacher"),
        Route(
            "/trips/{code:str}/end",
            trip_pages.trip_end,
            OWN_TRIP,
            methods=["POST"],
            name="trip_end",
        ),
        Route(
            "/trips/{code:str}/summary.csv",
            trip_pages.trip_summary_csv,
            OWN_TRIP,
            name="trip_summary_csv",
        ),
        WebSocket("/ws/trips/{code:str}", trip_ws.endpoint, VIEW, name="trip_ws"),
        Route(
            "/exhibitions/{exhibition_id:str}/worksheet",
            trip_pages.worksheet,
            VIEW_EXHIBITION,
            name="exhibition_worksheet",
        ),
        # Operations
        Route("/healthz", ops.healthz, VIEW, name="healthz"),
        Route("/readyz", ops.readyz, VIEW, name="readyz"),
        # from this machine or with MUSEUM_METRICS_TOKEN, whoever is signed in (server.policy)
        Route("/metrics", ops.metrics, Rule("monitor"), name="metrics"),
    ]
