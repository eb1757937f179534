"""The whole URL map on one screen. Later capabilities add their mounts here."""

from __future__ import annotations

from pathlib import Path

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount, Route

from server import (
    admin,
    api,
    exhibition_pages,
    exports,
    iiif_image,
    iiif_presentation,
    map_pages,
    oai,
    openapi,
    ops,
    pages,
)
from server.annotations import media_annotations
from server.settings import Settings
from server.static import ImmutableStaticFiles

JOB_ID = "{job_id:str}"


def build_routes(settings: Settings, viewer_dist: Path) -> list[BaseRoute]:
    return [
        # Public pages
        Route("/", pages.home, name="home"),
        Route("/items/{record_id:str}", pages.item, name="item"),
        Route("/items/{record_id:str}/qr.svg", pages.item_qr, name="item_qr"),
        Route("/search", pages.search_page, name="search_page"),
        Route("/exhibitions", exhibition_pages.exhibition_list, name="exhibition_list"),
        Route("/exhibitions/{exhibition_id:str}", exhibition_pages.exhibition, name="exhibition"),
        Route(
            "/exhibitions/{exhibition_id:str}/room",
            exhibition_pages.exhibition_room,
            name="exhibition_room",
        ),
        Route("/map", map_pages.map_page, name="map"),
        Route("/map/province.geojson", map_pages.province_outline, name="map_outline"),
        Route("/sitemap.xml", pages.sitemap, name="sitemap"),
        Route("/robots.txt", pages.robots, name="robots"),
        # JSON API
        Mount(
            "/api/v1",
            routes=[
                Route("/search", api.search_records, name="search"),
                Route("/records", api.list_records, name="records"),
                Route("/records/{record_id:str}", api.record_detail, name="record"),
                Route("/collections", api.list_collections, name="collections"),
                Route("/collections/{collection_id:str}", api.collection_detail, name="collection"),
                Route("/exhibitions", api.list_exhibitions, name="exhibitions"),
                Route("/exhibitions/{exhibition_id:str}", api.exhibition_detail, name="exhibition"),
                Route("/places", api.list_places, name="places"),
                Route("/places/{place_id:str}", api.place_detail, name="place"),
                Route("/media/{asset_id:str}", api.media_detail, name="media_detail"),
                Route(
                    "/media/{asset_id:str}/annotations",
                    media_annotations,
                    name="media_annotations",
                ),
                Route(f"/jobs/{JOB_ID}", api.job_detail, name="job"),
                Route("/progress", admin.progress_json, name="progress"),
                Route("/exports/catalog.{fmt:str}", exports.catalog_export, name="catalog_export"),
            ],
            middleware=[
                Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "HEAD"])
            ],
            name="api",
        ),
        Route("/api/openapi.json", openapi.openapi_json, name="openapi"),
        # IIIF Presentation 3.0 and OAI-PMH 2.0: other systems harvest without asking
        Route(
            "/iiif/3/manifests/{record_id:str}", iiif_presentation.manifest, name="iiif_manifest"
        ),
        Route(
            "/iiif/3/collections/{collection_id:str}",
            iiif_presentation.collection,
            name="iiif_collection",
        ),
        Route(
            "/iiif/3/annotations/{identifier:str}",
            iiif_image.text_annotations,
            name="iiif_annotations",
        ),
        # IIIF Image API 3.0 (after the Presentation routes, whose paths it would also match)
        Route("/iiif/3/{identifier:str}", iiif_image.base_redirect, name="iiif_image_base"),
        Route("/iiif/3/{identifier:str}/info.json", iiif_image.info_json, name="iiif_image_info"),
        Route(
            "/iiif/3/{identifier:str}/{region:str}/{size:str}/{rotation:str}/{qf:str}",
            iiif_image.image,
            name="iiif_image",
        ),
        Route("/oai", oai.endpoint, methods=["GET", "POST"], name="oai"),
        # Derivatives and the viewer bundle: content never changes under a URL
        Mount(
            "/media",
            app=ImmutableStaticFiles(directory=settings.data_dir / "derivatives"),
            name="media",
        ),
        Mount("/static/viewer", app=ImmutableStaticFiles(directory=viewer_dist), name="viewer"),
        # Staff
        Route("/admin/progress", admin.progress_page, name="admin_progress"),
        # Operations
        Route("/healthz", ops.healthz, name="healthz"),
        Route("/readyz", ops.readyz, name="readyz"),
    ]
