"""Reading the staff pages' forms as a browser would: field values, and each field's problem."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import func, select

from server.db import Database
from server.models import AuditEntry


@dataclass
class Control:
    tag: str
    attrs: dict[str, str]
    start: int  # offset in the page
    value: str = ""
    options: list[tuple[str, bool]] = field(default_factory=list)


@dataclass
class Form:
    attrs: dict[str, str]
    controls: list[Control] = field(default_factory=list)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.errors: dict[str, tuple[int, str]] = {}  # error span id -> (offset, text)
        self._current: Form | None = None
        self._text_of: Control | None = None
        self._error: str | None = None
        self._lines: list[int] = []

    def feed_page(self, page: str) -> None:
        self._lines = [0]
        for line in page.splitlines(keepends=True):
            self._lines.append(self._lines[-1] + len(line))
        self.feed(page)

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._lines[line - 1] + column

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag == "form":
            self._current = Form(attrs)
            self.forms.append(self._current)
        elif tag in ("input", "select", "textarea") and self._current is not None:
            control = Control(tag, attrs, self._offset(), attrs.get("value", ""))
            self._current.controls.append(control)
            if tag in ("select", "textarea"):
                self._text_of = control
        elif tag == "option" and self._text_of is not None:
            self._text_of.options.append((attrs.get("value", ""), "selected" in attrs))
        elif "field-error" in attrs.get("class", "").split() and attrs.get("id"):
            self._error = attrs["id"]
            self.errors[self._error] = (self._offset(), "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        elif tag in ("select", "textarea"):
            self._text_of = None
        elif tag in ("span", "p") and self._error is not None:
            self._error = None

    def handle_data(self, data: str) -> None:
        if self._text_of is not None and self._text_of.tag == "textarea":
            self._text_of.value += data
        if self._error is not None:
            offset, text = self.errors[self._error]
            self.errors[self._error] = (offset, text + data)


def parse_forms(page: str) -> _Forms:
    parser = _Forms()
    parser.feed_page(page)
    return parser


def form_by(page: str, **match: str) -> Form:
    """The first form whose attributes include ``match`` (e.g. ``id="fields"``)."""
    for form in parse_forms(page).forms:
        if all(form.attrs.get(k) == v for k, v in match.items()):
            return form
    raise AssertionError(f"no form with {match}")


def form_values(page: str, **match: str) -> dict[str, str]:
    """What the browser would send for the form (without pressing any named button)."""
    values: dict[str, str] = {}
    for control in form_by(page, **match).controls:
        name = control.attrs.get("name")
        kind = control.attrs.get("type", "text")
        if not name or kind in ("submit", "button") or "disabled" in control.attrs:
            continue
        if kind == "checkbox" and "checked" not in control.attrs:
            continue
        if control.tag == "select":
            chosen = [v for v, selected in control.options if selected]
            values[name] = (
                chosen[0] if chosen else (control.options[0][0] if control.options else "")
            )
        elif control.tag == "textarea":
            values[name] = control.value.removeprefix("\n")
        else:
            values[name] = control.value
    return values


def field_error(page: str, name: str, **match: str) -> str | None:
    """The problem shown for field ``name``; asserts it sits right after its control."""
    parsed = parse_forms(page)
    forms = [f for f in parsed.forms if all(f.attrs.get(k) == v for k, v in match.items())]
    controls = [c for form in forms for c in form.controls]
    for index, control in enumerate(controls):
        if control.attrs.get("name") != name:
            continue
        ids = control.attrs.get("aria-describedby", "").split()
        for error_id in ids:
            if error_id in parsed.errors:
                offset, text = parsed.errors[error_id]
                following = controls[index + 1].start if index + 1 < len(controls) else None
                assert offset > control.start, "the problem comes after its field"
                assert following is None or offset < following, "and before the next field"
                assert control.attrs.get("aria-invalid") == "true"
                return html.unescape(" ".join(text.split()))
        return None
    raise AssertionError(f"no field {name}")


def audit_count(db: Database, object_type: str | None = None, object_id: Any = None) -> int:
    def count(session):  # type: ignore[no-untyped-def]
        query = select(func.count()).select_from(AuditEntry)
        if object_type is not None:
            query = query.where(AuditEntry.object_type == object_type)
        if object_id is not None:
            query = query.where(AuditEntry.object_id == str(object_id))
        return session.scalar(query)

    return int(db.call(count))


def audit_actions(db: Database, object_type: str, object_id: Any) -> list[str]:
    def actions(session):  # type: ignore[no-untyped-def]
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_type == object_type)
                .where(AuditEntry.object_id == str(object_id))
                .order_by(AuditEntry.id)
            )
        )

    return list(db.call(actions))
