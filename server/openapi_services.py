"""The OpenAPI description of the public machine-readable services beside the JSON API.

IIIF Image API 3.0 and Presentation API 3.0, OAI-PMH 2.0, the sitemap, the map's
province outline and the health checks: what harvesters, IIIF viewers and monitors
call. :mod:`server.openapi` merges these paths and schemas into ``/api/openapi.json``,
so ``tests/test_openapi.py`` runs schemathesis over them too.

The schemas check what a client relies on (``@context``, ``id``, ``type`` and the
few fields each document must have), not the whole IIIF specifications: the IIIF
validators run in their own tests (``tests/test_iiif_validator.py``). Parameter
patterns say what the server parses; whether an image region or size is possible
depends on the image, so a syntactically valid request can still be a 400.
"""

from __future__ import annotations

from typing import Any

from server.iiif_image_params import MAX_SEGMENT_CHARS, MEDIA_TYPES, QUALITIES
from server.iiif_manifest import ALL_COLLECTION, COLLECTION_PREFIX, EXHIBITION_PREFIX
from server.oai_formats import FORMATS
from server.oai_request import VERBS

IMAGE_CONTEXT = "http://iiif.io/api/image/3/context.json"
PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
ID_PART = "[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
# "<asset id>" or, for a page of a document, "<asset id>~<page>" (server.iiif_image).
IMAGE_ID_PATTERN = f"^{ID_PART}(~[1-9][0-9]{{0,5}})?$"
_NUMBER = r"([0-9]+(\.[0-9]*)?|\.[0-9]+)"
REGION_PATTERN = (
    f"^(full|square|[0-9]+,[0-9]+,[0-9]+,[0-9]+|pct:{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER})$"
)
SIZE_PATTERN = rf"^\^?(max|pct:{_NUMBER}|!?[0-9]+,[0-9]+|[0-9]+,|,[0-9]+)$"
ROTATION_PATTERN = f"^!?{_NUMBER}$"
COLLECTION_ID_PATTERN = (
    f"^({ALL_COLLECTION}|{COLLECTION_PREFIX}{ID_PART}|{EXHIBITION_PREFIX}{ID_PART})$"
)
OAI_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)?$"
LD_JSON = "application/ld+json"
JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
    }


def _iiif(type_: str, context: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A IIIF JSON-LD document: its context, an http(s) id, its type, and ``extra``."""
    context_schema = {
        "anyOf": [
            {"const": context},
            {"type": "array", "contains": {"const": context}},
        ]
    }
    return _object(
        {
            "@context": context_schema,
            "id": {"type": "string", "pattern": "^https?://"},
            "type": {"const": type_},
            **(extra or {}),
        }
    )


LABEL = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
ITEMS = {"type": "array", "items": {"type": "object", "required": ["id", "type"]}}
PIXELS = {"type": "integer", "minimum": 1}

SCHEMAS: dict[str, Any] = {
    "ImageInfo": _iiif(
        "ImageService3",
        IMAGE_CONTEXT,
        {
            "protocol": {"const": "http://iiif.io/api/image"},
            "profile": {"enum": ["level0", "level1", "level2"]},
            "width": PIXELS,
            "height": PIXELS,
        },
    ),
    "Manifest": _iiif("Manifest", PRESENTATION_CONTEXT, {"label": LABEL, "items": ITEMS}),
    "IIIFCollection": _iiif("Collection", PRESENTATION_CONTEXT, {"label": LABEL, "items": ITEMS}),
    "AnnotationPage": _iiif("AnnotationPage", PRESENTATION_CONTEXT, {"items": ITEMS}),
    "Health": _object({"status": {"const": "ok"}, "version": {"type": "string"}}),
    "Ready": _object(
        {
            "status": {"const": "ok"},
            "checks": {"type": "object", "additionalProperties": {"const": "ok"}},
        }
    ),
    "GeoJSON": _object({"type": {"enum": ["FeatureCollection", "Feature"]}}),
}


# Responses


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref("Error")}}}


def _json_ld(schema: str, description: str, etag: bool = False) -> dict[str, Any]:
    """JSON-LD with the IIIF profile, or plain JSON when the client asks only for that."""
    body = {"schema": _ref(schema)}
    answer: dict[str, Any] = {"description": description, "content": {LD_JSON: body, JSON: body}}
    if etag:
        answer["headers"] = {"ETag": {"schema": {"type": "string"}}}
    return answer


CORS = "Every answer, errors included, carries `Access-Control-Allow-Origin: *`."
NOT_MODIFIED = {"description": "Not modified (If-None-Match matched the ETag)"}
NOT_FOUND = _error("No such item, or not public")


def _path(name: str, pattern: str, description: str, max_length: int = 64) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": pattern, "maxLength": max_length},
        "description": description,
    }


IMAGE_ID = _path(
    "identifier",
    IMAGE_ID_PATTERN,
    "Image id: a media asset's id, or `<asset id>~<page>` for a page of a document",
    72,
)


def _segment(name: str, pattern: str, description: str) -> dict[str, Any]:
    return _path(name, pattern, description, MAX_SEGMENT_CHARS)


# IIIF Image API 3.0

IMAGE_PATHS: dict[str, Any] = {
    "/iiif/3/{identifier}/info.json": {
        "get": {
            "summary": "IIIF Image API 3.0 image information (level 2)",
            "description": CORS,
            "tags": ["IIIF"],
            "parameters": [IMAGE_ID],
            "responses": {
                "200": _json_ld("ImageInfo", "The image's info.json"),
                "404": NOT_FOUND,
            },
        }
    },
    "/iiif/3/{identifier}/{region}/{size}/{rotation}/{quality}.{format}": {
        "get": {
            "summary": "IIIF Image API 3.0 image request: a region, scaled, rotated, encoded",
            "description": (
                "Syntax as in the Image API 3.0 §4. Whether a region or size is possible "
                "depends on the image (its width, height and `maxArea` in info.json): "
                "a request that fits the syntax may still be a 400 naming the parameter. "
                "The formats tif, gif, jp2 and pdf are valid but not made here (501). " + CORS
            ),
            "tags": ["IIIF"],
            "parameters": [
                IMAGE_ID,
                _segment("region", REGION_PATTERN, "`full`, `square`, `x,y,w,h` or `pct:x,y,w,h`"),
                _segment(
                    "size",
                    SIZE_PATTERN,
                    "`max`, `w,`, `,h`, `pct:n`, `w,h` or `!w,h`; `^` first allows upscaling",
                ),
                _segment("rotation", ROTATION_PATTERN, "Degrees clockwise, 0–360; `!` mirrors"),
                {
                    "name": "quality",
                    "in": "path",
                    "required": True,
                    "schema": {"enum": sorted(QUALITIES)},
                },
                {
                    "name": "format",
                    "in": "path",
                    "required": True,
                    "schema": {"enum": sorted(MEDIA_TYPES)},
                },
            ],
            "responses": {
                "200": {
                    "description": "The image",
                    "headers": {"Link": {"schema": {"type": "string"}}},
                    "content": {
                        media_type: {"schema": {"type": "string", "format": "binary"}}
                        for media_type in sorted(MEDIA_TYPES.values())
                    },
                },
                "400": _error(
                    "A parameter is not valid for this image; `error.parameter` names it"
                ),
                "404": NOT_FOUND,
                "501": _error("A format or upscaling the Image API defines but this image lacks"),
            },
        }
    },
}


# IIIF Presentation API 3.0

PRESENTATION_PATHS: dict[str, Any] = {
    "/iiif/3/manifests/{record_id}": {
        "get": {
            "summary": "IIIF Presentation 3.0 Manifest of a public record with published media",
            "description": CORS,
            "tags": ["IIIF"],
            "parameters": [
                _path("record_id", f"^{ID_PART}$", "Record id"),
                {
                    "name": "draft3d",
                    "in": "query",
                    "required": False,
                    "schema": {"enum": ["0", "1", "true", "false", "yes", "no", "on", "off"]},
                    "description": "Include 3D models as draft IIIF 3D Scenes",
                },
            ],
            "responses": {
                "200": _json_ld("Manifest", "The Manifest", etag=True),
                "304": NOT_MODIFIED,
                "400": _error("draft3d is not one of its values"),
                "404": _error("No such record, not public, or without published media"),
            },
        }
    },
    "/iiif/3/collections/{collection_id}": {
        "get": {
            "summary": "IIIF Collection: `all`, a catalog collection or a published exhibition",
            "description": CORS,
            "tags": ["IIIF"],
            "parameters": [
                _path(
                    "collection_id",
                    COLLECTION_ID_PATTERN,
                    "`all`, `collection-<id>` or `exhibition-<id>`",
                    80,
                )
            ],
            "responses": {
                "200": _json_ld("IIIFCollection", "The Collection of Manifests", etag=True),
                "304": NOT_MODIFIED,
                "404": NOT_FOUND,
            },
        }
    },
    "/iiif/3/annotations/{identifier}": {
        "get": {
            "summary": "A document page's reviewed OCR text lines as a IIIF AnnotationPage",
            "description": CORS,
            "tags": ["IIIF"],
            "parameters": [IMAGE_ID],
            "responses": {
                "200": {
                    "description": "The AnnotationPage (motivation `supplementing`)",
                    "content": {LD_JSON: {"schema": _ref("AnnotationPage")}},
                },
                "404": _error("No such image, or no reviewed text for it"),
            },
        }
    },
}


# OAI-PMH 2.0

OAI_ARGUMENTS: dict[str, Any] = {
    "verb": {"enum": sorted(VERBS)},
    "identifier": {"type": "string", "maxLength": 200, "description": "`oai:<host>:<record id>`"},
    "metadataPrefix": {"enum": sorted(FORMATS)},
    "set": {"type": "string", "maxLength": 200, "description": "`kind:<kind>`, `collection:<id>`"},
    "from": {"type": "string", "pattern": OAI_DATE},
    "until": {"type": "string", "pattern": OAI_DATE},
    "resumptionToken": {"type": "string", "maxLength": 2000},
}
OAI_RESPONSES = {
    "200": {
        "description": (
            "An OAI-PMH 2.0 document: the verb's answer, or an `<error>` element with the "
            "protocol's error code (OAI-PMH answers its own errors with HTTP 200, §3.6)"
        ),
        "content": {"text/xml": {"schema": {"type": "string"}}},
    }
}
OAI_SUMMARY = "OAI-PMH 2.0 (Dublin Core and LIDO), for harvesters; see docs/oai-pmh.md"
OAI_PATHS: dict[str, Any] = {
    "/oai": {
        "get": {
            "summary": OAI_SUMMARY,
            "tags": ["OAI-PMH"],
            "parameters": [
                {"name": name, "in": "query", "required": name == "verb", "schema": schema}
                for name, schema in OAI_ARGUMENTS.items()
            ],
            "responses": OAI_RESPONSES,
        },
        "post": {
            "summary": OAI_SUMMARY + " (arguments in a form-encoded body)",
            "tags": ["OAI-PMH"],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "properties": OAI_ARGUMENTS,
                            "required": ["verb"],
                            "additionalProperties": False,
                        }
                    }
                },
            },
            "responses": OAI_RESPONSES,
        },
    }
}


# Other public files and the health checks

OTHER_PATHS: dict[str, Any] = {
    "/sitemap.xml": {
        "get": {
            "summary": "Every public record page, for search engines (sitemaps.org 0.9)",
            "responses": {
                "200": {
                    "description": "The sitemap",
                    "content": {"application/xml": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/map/province.geojson": {
        "get": {
            "summary": "The outline of Đắk Lắk province the maps draw (GeoJSON)",
            "responses": {
                "200": {
                    "description": "The outline",
                    "headers": {"ETag": {"schema": {"type": "string"}}},
                    "content": {"application/geo+json": {"schema": _ref("GeoJSON")}},
                },
                "304": NOT_MODIFIED,
            },
        }
    },
    "/healthz": {
        "get": {
            "summary": "Liveness: the process answers (checks nothing else)",
            "tags": ["Operations"],
            "responses": {
                "200": {"description": "Up", "content": {JSON: {"schema": _ref("Health")}}}
            },
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: the database and the job queue both answer",
            "tags": ["Operations"],
            "responses": {
                "200": {"description": "Ready", "content": {JSON: {"schema": _ref("Ready")}}},
                "503": {
                    "description": "Not ready; `error.checks` names what is unreachable",
                    "headers": {"Retry-After": {"schema": {"type": "string"}}},
                    "content": {JSON: {"schema": _ref("Error")}},
                },
            },
        }
    },
}

PATHS: dict[str, Any] = {**IMAGE_PATHS, **PRESENTATION_PATHS, **OAI_PATHS, **OTHER_PATHS}
