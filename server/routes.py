"""The whole URL map on one screen. Later capabilities add their mounts here."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route

from server import api, ops, pages
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
            ],
            name="api",
        ),
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
