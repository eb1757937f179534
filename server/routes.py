"""The whole URL map on one screen. Later capabilities add their mounts here."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route

from server import api, exports, iiif_presentation, oai, ops, pages
from server.settings import Settings
from server.static import ImmutableStaticFiles

JOB_ID = "{job_id:str}"


def build_routes(settings: Settings, viewer_dist: Path) -> list[BaseRoute]:
    return [
        # Public pages
        Route("/", pages.home, name="home"),
        Route("/items/{record_id:str}", pages.item, name="item"),
        # JSON API
        Mount(
            "/api/v1",
            routes=[
                Route(f"/jobs/{JOB_ID}", api.job_detail, name="job"),
                Route("/exports/catalog.{fmt:str}", exports.catalog_export, name="catalog_export"),
            ],
            name="api",
        ),
        # IIIF Presentation 3.0 and OAI-PMH 2.0: other systems harvest without asking
        Route(
            "/iiif/3/manifests/{record_id:str}", iiif_presentation.manifest, name="iiif_manifest"
        ),
        Route(
            "/iiif/3/collections/{collection_id:str}",
            iiif_presentation.collection,
            name="iiif_collection",
        ),
        Route("/oai", oai.endpoint, methods=["GET", "POST"], name="oai"),
        # Derivatives and the viewer bundle: content never changes under a URL
        Mount(
            "/media",
            app=ImmutableStaticFiles(directory=settings.data_dir / "derivatives"),
            name="media",
        ),
        Mount("/static/viewer", app=ImmutableStaticFiles(directory=viewer_dist), name="viewer"),
        # Operations
        Route("/healthz", ops.healthz, name="healthz"),
        Route("/readyz", ops.readyz, name="readyz"),
    ]
