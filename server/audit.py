"""The append-only audit log: who changed what, when, with the object before and after.

Every change a person makes — on the web, on the command line, or as a visitor sending a
contribution — writes exactly one :class:`server.models.AuditEntry` in the same
transaction as the change itself, so a change without its entry cannot be committed.
The database refuses UPDATE and DELETE on the table (triggers from migration 0006).
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session
from starlette.requests import Request

from server.models import AuditEntry, utcnow

# Never copied into the log, whatever the object.
SECRET_COLUMNS = frozenset({"password_hash", "csrf_token", "id_hash"})


@dataclass(frozen=True)
class Actor:
    id: int | None
    name: str
    address: str = ""

    @classmethod
    def from_request(cls, request: Request) -> Actor:
        from server.auth import client_address, current_user

        user = current_user(request)
        address = client_address(request)
        if user is None:
            return cls(None, "public", address)
        return cls(user.id, user.username, address)

    @classmethod
    def command_line(cls) -> Actor:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = "unknown"
        return cls(None, f"cli:{who}")


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def snapshot(obj: Any, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The object's column values as JSON-ready data (secrets left out)."""
    mapper = inspect(obj).mapper
    return {
        column.key: _json_value(getattr(obj, column.key))
        for column in mapper.column_attrs
        if column.key not in SECRET_COLUMNS and column.key not in exclude
    }


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    before = before or {}
    after = after or {}
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def log_change(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one audit entry to ``session``'s transaction."""
    entry = AuditEntry(
        at=utcnow(),
        actor_id=actor.id,
        actor=actor.name,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
        address=actor.address,
    )
    session.add(entry)
    return entry
