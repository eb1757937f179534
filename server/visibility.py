"""The one condition that decides whether visitors see a record (SQL form of
:func:`server.policy.publicly_visible`): not deleted, published, past its embargo, and
at an access level the requester may see. Every public surface goes through it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, or_

from server.models import Record, utcnow
from server.policy import PUBLISHED


def record_shown(access_levels: Sequence[str]) -> ColumnElement[bool]:
    return and_(
        Record.deleted_at.is_(None),
        Record.status == PUBLISHED,
        or_(Record.embargo_until.is_(None), Record.embargo_until <= utcnow()),
        Record.access_level.in_(tuple(access_levels)),
    )
