"""The OpenAI-compatible backend: Ollama, vLLM, llama.cpp's server, or any ``/chat/completions``.

One POST per draft, with the record's facts as the only source the model may use, the
media item's small derivative as an ``image_url`` data URL when the task is alt text (a
vision model reads it; a text model's server may refuse it, which is an HTTP error like any
other), a low temperature, and the answer language named. Every failure becomes one
:class:`DraftingError` here, at the boundary (STYLE habit 7); the job decides what to do
with it (:mod:`server.drafting.jobs` falls back to the template backend).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from server.drafting.model import Draft, DraftingError, DraftRequest, Facts, clean_text
from server.errors import N_
from server.vocab import DESIGNATIONS, KINDS, SUBTYPES

TEMPERATURE = 0.2
MAX_TOKENS = {"label": 300, "alt_text": 150, "translation": 1500}
DETAIL_LIMIT = 300  # characters of a server's error text kept in the message
LANGUAGE_NAMES = {
    "vi": "Vietnamese",
    "en": "English",
    "rad": "Êđê",
    "mng": "M'nông",
    "jra": "Jarai",
}

SYSTEM_PROMPT = (
    "You write museum texts for the digital heritage museum of Đắk Lắk province, Vietnam: "
    "its intangible heritage, relic sites, artefacts and documents, and the peoples (Êđê, "
    "M'nông, Jrai and others) they belong to. Use only the facts you are given; never invent "
    "names, dates, places, materials, uses or meanings, and leave out what the facts do not "
    "say. Keep the names of peoples, places and items as given. Answer in the language you "
    "are asked for, in plain text without Markdown, quotation marks or any preamble."
)

TASK_PROMPTS = {
    "label": (
        "Write a short museum label (two or three sentences, at most 60 words) in {language} "
        "for this item."
    ),
    "alt_text": (
        "Write the alternative text (one sentence, at most 120 characters) in {language} for "
        "the attached picture of this item ({media}), for visitors who cannot see it: say "
        "what is visible, naming the item from the facts. Do not begin with 'Image of'."
    ),
    "translation": (
        "Translate the item's {field} below from {source} into {language}. Translate "
        "faithfully: add nothing, leave nothing out.\n\n{text}"
    ),
}


def facts_text(facts: Facts) -> str:
    """The facts as labelled lines (codes as their English labels); empty fields left out."""
    rows = [
        ("Identifier", facts.record_id),
        *((f"Title ({lang})", title) for lang, title in facts.title.items()),
        ("Kind", KINDS.get(facts.kind, facts.kind)),
        ("Type", SUBTYPES.get(facts.subtype, "")),
        ("Legal status", DESIGNATIONS.get(facts.designation, "")),
        ("Category (as catalogued)", facts.category),
        ("Peoples", "; ".join(facts.ethnic_groups)),
        ("Places", "; ".join(" / ".join(dict.fromkeys(p.values())) for p in facts.places)),
        ("Dating", facts.dating),
        ("Years", _years(facts)),
        ("Materials", "; ".join(facts.materials)),
        ("Techniques", "; ".join(facts.techniques)),
        ("Dimensions", facts.dimensions),
        *((f"Description ({lang})", text) for lang, text in facts.description.items()),
    ]
    return "\n".join(f"{name}: {value}" for name, value in rows if value)


def _years(facts: Facts) -> str:
    years = [str(y) for y in (facts.earliest, facts.latest) if y is not None]
    return "–".join(dict.fromkeys(years))


def user_content(request: DraftRequest) -> list[dict[str, Any]]:
    """The user message: the facts, the task, and the picture for alt text."""
    language = LANGUAGE_NAMES.get(request.language, request.language)
    task = TASK_PROMPTS[request.task].format(
        language=language,
        media=request.media_kind or "image",
        field=request.field,
        source=LANGUAGE_NAMES.get(request.source_language, request.source_language),
        text=request.source_text,
    )
    if request.media_label:
        task += f"\nThe media item's own label: {request.media_label}"
    parts: list[dict[str, Any]] = [
        {"type": "text", "text": f"Facts about the item:\n{facts_text(request.facts)}\n\n{task}"}
    ]
    if request.image is not None:
        data = base64.b64encode(request.image).decode("ascii")
        url = f"data:{request.image_type};base64,{data}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


class OpenAICompatibleBackend:
    """Drafts with the model ``model`` of the server at ``url`` (``…/v1``)."""

    def __init__(self, url: str, model: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.timeout = timeout

    def payload(self, request: DraftRequest) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user_content(request)},
            ],
            "temperature": TEMPERATURE,
            "max_tokens": MAX_TOKENS[request.task],
            "stream": False,
        }

    def draft(self, request: DraftRequest) -> Draft:
        answer = self._post(self.payload(request))
        text = clean_text(_content(answer), request.limit)
        if not text:
            raise DraftingError(
                N_("The drafting server answered with empty text."), reason="llm_empty"
            )
        model = answer.get("model")
        fingerprint = answer.get("system_fingerprint")
        return Draft(
            text=text,
            source="llm",
            model=(model if isinstance(model, str) and model else self.model)[:128],
            model_version=(fingerprint if isinstance(fingerprint, str) else "")[:128],
        )

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        endpoint = f"{self.url}/chat/completions"
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                response = client.post(endpoint, json=payload)
        except httpx.TimeoutException as exc:
            raise DraftingError(
                N_("The drafting server at {url} did not answer within {seconds} seconds."),
                reason="llm_timeout",
                retryable=True,
                url=self.url,
                seconds=f"{self.timeout:g}",
            ) from exc
        except httpx.HTTPError as exc:
            raise DraftingError(
                N_("Could not reach the drafting server at {url}: {detail}"),
                reason="llm_unreachable",
                retryable=True,
                url=self.url,
                detail=str(exc) or type(exc).__name__,
            ) from exc
        _check_status(response, self.url)
        try:
            answer = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DraftingError(
                N_("The drafting server's answer is not JSON."), reason="llm_not_json"
            ) from exc
        if not isinstance(answer, dict):
            raise _no_text("choices")
        return answer


def _check_status(response: httpx.Response, url: str) -> None:
    status = response.status_code
    if status < 300:
        return
    detail = " ".join(response.text.split())[:DETAIL_LIMIT]
    if status == 429:
        raise DraftingError(
            N_("The drafting server at {url} is busy (HTTP 429); the draft is tried again later."),
            reason="llm_busy",
            retryable=True,
            url=url,
        )
    if status >= 500:
        raise DraftingError(
            N_("The drafting server at {url} failed (HTTP {status}): {detail}"),
            reason="llm_http_5xx",
            retryable=True,
            url=url,
            status=status,
            detail=detail,
        )
    raise DraftingError(
        N_("The drafting server at {url} refused the request (HTTP {status}): {detail}"),
        reason="llm_http_4xx",
        url=url,
        status=status,
        detail=detail,
    )


def _content(answer: dict[str, Any]) -> str:
    """``choices[0].message.content``: a string, or a list of text parts."""
    choices = answer.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _no_text("choices")
    message = choices[0].get("message")
    if not isinstance(message, dict) or "content" not in message:
        raise _no_text("choices[0].message.content")
    content = message["content"]
    if isinstance(content, list):
        content = "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    if not isinstance(content, str):
        raise _no_text("choices[0].message.content")
    return content.strip().strip('"“”').strip()


def _no_text(field: str) -> DraftingError:
    return DraftingError(
        N_("The drafting server's answer holds no text (missing {field})."),
        reason="llm_no_text",
        field=field,
    )
