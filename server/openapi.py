"""The OpenAPI 3.1 document of the JSON API, served at ``/api/openapi.json``.

Written by hand next to the endpoints it describes; ``tests/test_openapi.py``
runs schemathesis against it, so a response that drifts from this document
fails the build.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from server import __version__, openapi_services
from server.admin import PROGRESS_SCHEMA
from server.api_params import MAX_LIMIT, MAX_QUERY_LENGTH
from server.report import PLAN_FIRST_YEAR, today_in_vietnam
from server.responses import cached_json
from server.search import FACETS
from server.urls import public_base
from server.vocab import ACCESS_LEVELS, DESIGNATIONS, DIGITIZATION_STATUSES, KINDS

ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
NULLABLE_STRING = {"type": ["string", "null"]}
LANG_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or list(properties)}


def page_of(item: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return obj(
        {
            "items": {"type": "array", "items": ref(item)},
            "next_cursor": NULLABLE_STRING,
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            **(extra or {}),
        }
    )


def _links(*names: str) -> dict[str, Any]:
    return obj({name: NULLABLE_STRING for name in names})


SCHEMAS: dict[str, Any] = {
    "LangMap": LANG_MAP,
    "Error": obj(
        {
            "error": {
                "type": "object",
                "properties": {
                    "status": {"type": "integer"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "parameter": NULLABLE_STRING,
                },
                "required": ["status", "code", "message", "parameter"],
            }
        }
    ),
    "RecordSummary": obj(
        {
            "id": {"type": "string"},
            "kind": {"enum": list(KINDS)},
            "title": ref("LangMap"),
            "designation": {"enum": list(DESIGNATIONS)},
            "digitization_status": {"enum": list(DIGITIZATION_STATUSES)},
            "updated_at": NULLABLE_STRING,
            "links": _links("self", "html"),
        }
    ),
    "Place": obj(
        {
            "id": {"type": "string"},
            "name": ref("LangMap"),
            "kind": {"type": "string"},
            "commune_current": {"type": "string"},
            "province_current": {"type": "string"},
            "district_historical": {"type": "string"},
            "province_historical": {"type": "string"},
            "latitude": {"type": ["number", "null"]},
            "longitude": {"type": ["number", "null"]},
        }
    ),
    "Media": obj(
        {
            "id": {"type": "string"},
            "kind": {"type": "string"},
            "role": {"type": "string"},
            "media_type": {"type": "string"},
            "label": ref("LangMap"),
            "technical": {"type": "object"},
            "published": {"type": "boolean"},
            "sha256": {"type": "string"},
            "size": {"type": "integer"},
        }
    ),
    "Facet": {
        "type": "array",
        "items": obj(
            {"value": {"type": "string"}, "count": {"type": "integer"}, "label": {"type": "string"}}
        ),
    },
    "Job": obj(
        {
            "id": {"type": "string"},
            "kind": {"type": "string"},
            "state": {"enum": ["queued", "running", "succeeded", "failed"]},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "message": {"type": "string"},
            "attempts": {"type": "integer"},
            "max_attempts": {"type": "integer"},
            "asset_id": NULLABLE_STRING,
            "result": {"type": ["object", "null"]},
            "created_at": NULLABLE_STRING,
            "updated_at": NULLABLE_STRING,
            "started_at": NULLABLE_STRING,
            "finished_at": NULLABLE_STRING,
        }
    ),
}
SCHEMAS["Record"] = obj(
    {
        "id": {"type": "string"},
        "kind": {"enum": list(KINDS)},
        "title": ref("LangMap"),
        "alt_titles": ref("LangMap"),
        "description": ref("LangMap"),
        "significance": ref("LangMap"),
        "category": {"type": "string"},
        "subtype": {"type": "string"},
        "designation": {"enum": list(DESIGNATIONS)},
        "ranking": {"type": "string"},
        "ranking_year": {"type": "string"},
        "decisions": {"type": "array", "items": {"type": "object"}},
        "registration_number": NULLABLE_STRING,
        "materials": {"type": "array", "items": {"type": "string"}},
        "techniques": {"type": "array", "items": {"type": "string"}},
        "dimensions": {"type": "string"},
        "dating": {"type": "string"},
        "date_earliest": {"type": ["integer", "null"]},
        "date_latest": {"type": ["integer", "null"]},
        "period": {"type": "string"},
        "condition": {"type": "string"},
        "provenance": {"type": "string"},
        "ethnic_groups": {"type": "array", "items": {"type": "string"}},
        "location": obj({"current": {"type": "string"}, "historical": {"type": "string"}}),
        "places": {"type": "array", "items": ref("Place")},
        "agents": {"type": "array", "items": {"type": "object"}},
        "collections": {"type": "array", "items": {"type": "string"}},
        "media": {"type": "array", "items": ref("Media")},
        "rights": {"type": "string"},
        "rights_holder": {"type": "string"},
        "credit_line": ref("LangMap"),
        "access_level": {"enum": list(ACCESS_LEVELS)},
        "digitization": obj(
            {
                "status": {"enum": list(DIGITIZATION_STATUSES)},
                "priority": {"type": "integer"},
                "published_at": NULLABLE_STRING,
            }
        ),
        "sources": {"type": "array", "items": {"type": "string"}},
        "needs_verify": {"type": "string"},
        "created_at": NULLABLE_STRING,
        "updated_at": NULLABLE_STRING,
        "links": _links("self", "html", "iiif_manifest", "qr"),
    }
)
SCHEMAS["Collection"] = obj(
    {
        "id": {"type": "string"},
        "title": ref("LangMap"),
        "description": ref("LangMap"),
        "record_count": {"type": "integer"},
        "links": _links("self", "iiif_collection"),
    }
)
SCHEMAS["CollectionDetail"] = {
    "allOf": [ref("Collection"), obj({"records": {"type": "array", "items": ref("RecordSummary")}})]
}
SCHEMAS["Exhibition"] = obj(
    {
        "id": {"type": "string"},
        "title": ref("LangMap"),
        "summary": ref("LangMap"),
        "links": _links("self", "html"),
    }
)
SCHEMAS["ExhibitionDetail"] = {
    "allOf": [
        ref("Exhibition"),
        obj(
            {
                "stops": {
                    "type": "array",
                    "items": obj(
                        {
                            "position": {"type": "integer"},
                            "title": ref("LangMap"),
                            "text": ref("LangMap"),
                            "record_id": NULLABLE_STRING,
                            "asset_id": NULLABLE_STRING,
                        }
                    ),
                }
            }
        ),
    ]
}
SCHEMAS["PlaceDetail"] = {
    "allOf": [
        ref("Place"),
        obj({"links": _links("self"), "records": {"type": "array", "items": ref("RecordSummary")}}),
    ]
}
SCHEMAS["MediaDetail"] = {
    "allOf": [
        ref("Media"),
        obj(
            {
                "record_id": {"type": "string"},
                "links": _links("self", "record", "derivatives"),
                "rights": obj(
                    {
                        "license": {"type": "string", "description": "Licence or rights URI"},
                        "attribution": {"type": "string"},
                        "original": NULLABLE_STRING,
                    }
                ),
            }
        ),
    ]
}
VECTOR = {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3}
SCHEMAS["Annotations"] = obj(
    {
        "asset_id": {"type": "string"},
        "units": {"const": "m", "description": "Positions are metres in the model's glTF frame"},
        "items": {
            "type": "array",
            "items": obj(
                {
                    "id": {"type": "integer"},
                    "number": {"type": "integer", "minimum": 1},
                    "position": VECTOR,
                    "normal": {"oneOf": [VECTOR, {"type": "null"}]},
                    "title": ref("LangMap"),
                    "text": ref("LangMap"),
                    "media_url": NULLABLE_STRING,
                }
            ),
        },
    }
)
SCHEMAS["SearchResult"] = page_of(
    "RecordSummary",
    {
        "query": {"type": "string"},
        "total": {"type": "integer", "minimum": 0},
        "facets": {"type": "object", "additionalProperties": ref("Facet")},
        "facets_complete": {
            "type": "boolean",
            "description": "False when facet counts cover only the first hits",
        },
        "total_exact": {
            "type": "boolean",
            "description": "False when there are more hits than `total` (a very broad query)",
        },
    },
)
SCHEMAS["RecordPage"] = page_of("RecordSummary")
SCHEMAS["Progress"] = PROGRESS_SCHEMA
SCHEMAS["PlaceListItem"] = {"allOf": [ref("Place"), obj({"links": _links("self")})]}
SCHEMAS["OpenAPI"] = obj(
    {"openapi": {"type": "string"}, "info": {"type": "object"}, "paths": {"type": "object"}}
)
SCHEMAS["List"] = {
    "type": "object",
    "properties": {"items": {"type": "array"}},
    "required": ["items"],
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


def _ok(schema: str) -> dict[str, Any]:
    return {
        "200": {
            "description": "OK",
            "headers": {"ETag": {"schema": {"type": "string"}}},
            "content": {"application/json": {"schema": ref(schema)}},
        },
        "304": {"description": "Not modified (If-None-Match matched the ETag)"},
        "400": _error("A parameter is not valid; `error.parameter` names it"),
        "404": _error("Not found, or not public"),
        "503": _error(
            "The museum is very busy or its catalog is unreachable; retry after `Retry-After` s"
        ),
    }


def _limited(path: dict[str, Any]) -> dict[str, Any]:
    """An operation with a per-client budget (``MUSEUM_SEARCH_LIMIT``): 429 beyond it."""
    path["get"]["responses"]["429"] = _error(
        "Too many requests from this client; retry after `Retry-After` seconds"
    )
    return path


def _query(
    name: str, schema: dict[str, Any], description: str, array: bool = False
) -> dict[str, Any]:
    if array:
        schema = {"type": "array", "items": schema, "maxItems": 20}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": ID_PATTERN},
        "description": description,
    }


LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "Page size")
CURSOR = _query(
    "cursor", {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,200}$"}, "From `next_cursor`"
)
LANG = _query("lang", {"enum": ["vi", "en"]}, "Language of labels and messages")
FACET_PARAMETERS = [
    _query(
        facet,
        {"type": "string", "minLength": 1, "maxLength": 255},
        f"Filter by {facet}",
        array=True,
    )
    for facet in FACETS
]


def _get(summary: str, schema: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": parameters, "responses": _ok(schema)}}


def _staff(path: dict[str, Any]) -> dict[str, Any]:
    """An operation for staff: visitors get 401, other roles 403 (server/policy.py)."""
    responses = path["get"]["responses"]
    responses["401"] = _error("Not signed in")
    responses["403"] = _error("Signed in, but the role may not see this")
    return path


PATHS: dict[str, Any] = {
    "/api/v1/search": _limited(
        _get(
            "Search the catalog (diacritic-insensitive Vietnamese), with facets",
            "SearchResult",
            [
                _query("q", {"type": "string", "maxLength": MAX_QUERY_LENGTH}, "Search text"),
                _query("exact", {"type": "boolean"}, "Match diacritics exactly (Êđê b ≠ ƀ)"),
                LIMIT,
                CURSOR,
                LANG,
                *FACET_PARAMETERS,
            ],
        )
    ),
    "/api/v1/records": _get(
        "List records by id",
        "RecordPage",
        [
            LIMIT,
            CURSOR,
            LANG,
            _query("kind", {"enum": list(KINDS)}, "Only these kinds", array=True),
        ],
    ),
    "/api/v1/records/{record_id}": _get(
        "One record", "Record", [_path("record_id", "Record id"), LANG]
    ),
    "/api/v1/collections": _get("Collections", "List", [LANG]),
    "/api/v1/collections/{collection_id}": _get(
        "One collection with its records",
        "CollectionDetail",
        [_path("collection_id", "Collection id"), LANG],
    ),
    "/api/v1/exhibitions": _get("Published exhibitions", "List", [LANG]),
    "/api/v1/exhibitions/{exhibition_id}": _get(
        "One exhibition with its stops",
        "ExhibitionDetail",
        [_path("exhibition_id", "Exhibition id"), LANG],
    ),
    "/api/v1/places": _get("Places", "List", [LANG]),
    "/api/v1/places/{place_id}": _get(
        "One place and its records", "PlaceDetail", [_path("place_id", "Place id"), LANG]
    ),
    "/api/v1/media/{asset_id}": _get(
        "One media asset", "MediaDetail", [_path("asset_id", "Asset id"), LANG]
    ),
    "/api/v1/media/{asset_id}/annotations": _get(
        "The numbered points of interest (hotspots) of a 3D model",
        "Annotations",
        [_path("asset_id", "Asset id"), LANG],
    ),
    "/api/v1/jobs/{job_id}": _staff(
        _get(
            "A background job's progress (museum staff: a signed-in session)",
            "Job",
            [
                {
                    **_path("job_id", "Job id"),
                    "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                },
                LANG,
            ],
        )
    ),
}


def _progress_path() -> dict[str, Any]:
    year = {"type": "integer", "minimum": PLAN_FIRST_YEAR, "maximum": today_in_vietnam().year}
    return _get(
        "Digitization progress against the plan's targets (counts only)",
        "Progress",
        [_query("year", year, "Report year; default the current year"), LANG],
    )


def _export_path() -> dict[str, Any]:
    def body(media_type: str) -> dict[str, Any]:
        return {media_type: {}}  # a file; no schema to validate

    return {
        "get": {
            "summary": "The public catalog as open data: CSV, JSON or a BagIt archive (zip)",
            "parameters": [
                {
                    "name": "fmt",
                    "in": "path",
                    "required": True,
                    "schema": {"enum": ["csv", "json", "bagit.zip"]},
                }
            ],
            "responses": {
                "200": {
                    "description": "The export",
                    "content": {
                        **body("text/csv"),
                        **body("application/json"),
                        **body("application/zip"),
                    },
                },
                "304": {"description": "Not modified"},
                "404": _error("No such export format"),
            },
        }
    }


def _self_path() -> dict[str, Any]:
    return {
        "get": {
            "summary": "This document (OpenAPI 3.1)",
            "responses": {
                "200": {
                    "description": "OK",
                    "headers": {"ETag": {"schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": ref("OpenAPI")}},
                },
                "304": {"description": "Not modified (If-None-Match matched the ETag)"},
            },
        }
    }


DESCRIPTION = (
    "Open data of the Đắk Lắk provincial heritage catalog. Anonymous, read-only; "
    "every `/api/v1` response carries an ETag and CORS `*`. Errors share one shape (Error). "
    "Besides the JSON API: IIIF Image API 3.0 and Presentation API 3.0 (`/iiif/3/…`), "
    "OAI-PMH 2.0 (`/oai`), the sitemap, the province outline and the health checks. "
    "Not described here: the HTML pages, the staff and admin screens, resumable uploads "
    "(tus, `/uploads/`) and WebSockets, which need a signed-in session and a CSRF token "
    "or are pages for people, not machines; nor `/metrics`, which only the monitoring "
    "system may read."
)


def document(base: str) -> dict[str, Any]:
    paths = {
        **PATHS,
        "/api/v1/progress": _progress_path(),
        "/api/v1/exports/catalog.{fmt}": _export_path(),
        "/api/openapi.json": _self_path(),
        **openapi_services.PATHS,
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Đắk Lắk Digital Heritage Museum API",
            "version": __version__,
            "description": DESCRIPTION,
            "license": {"name": "CC0-1.0 (catalog data)", "identifier": "CC0-1.0"},
        },
        "servers": [{"url": base}],
        "paths": paths,
        "components": {"schemas": {**SCHEMAS, **openapi_services.SCHEMAS}},
    }


async def openapi_json(request: Request) -> Response:
    return cached_json(
        request, document(public_base(request)), headers={"access-control-allow-origin": "*"}
    )
