"""Which pipeline processes which kind of original. Pipelines register here as they land."""

from __future__ import annotations

# kind (from processing.sniff) -> job kind run by the worker
PIPELINES: dict[str, str] = {
    "model": "process_model",
    "image": "process_image",
    "document": "process_image",
    "video": "process_av",
    "audio": "process_av",
}


def pipeline_for(kind: str) -> str | None:
    return PIPELINES.get(kind)
