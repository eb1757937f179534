"""Who may do what: one policy table, denied by default.

Every route in :mod:`server.routes` is declared with its :class:`Rule`
(:class:`server.auth.GuardedRoute`), which is applied before the endpoint runs; a route
declared without one refuses everyone. Rules about *objects* (may this role see or edit
this record in this state?) are the functions below, which the endpoints call. The
role × route × record-state test (``tests/test_policy_matrix.py``) compares what the app
answers with this module.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from server.errors import N_

ANONYMOUS = "anonymous"
# Lowest to highest; each role may do everything the roles before it may.
ROLE_ORDER = (ANONYMOUS, "contributor", "editor", "curator", "admin")
ROLE_LABELS = {
    ANONYMOUS: N_("Visitor"),
    "contributor": N_("Contributor"),
    "editor": N_("Editor"),
    "curator": N_("Curator"),
    "admin": N_("Administrator"),
}
STAFF_ROLES = ("editor", "curator", "admin")

RECORD_STATES = {
    "draft": N_("Draft"),
    "in_review": N_("In review"),
    "published": N_("Published"),
    "withdrawn": N_("Withdrawn"),
}
PUBLISHED = "published"

# (from, to) -> the permission the change needs.
TRANSITIONS = {
    ("draft", "in_review"): "edit",
    ("in_review", "draft"): "edit",
    ("draft", "published"): "publish",
    ("in_review", "published"): "publish",
    ("published", "withdrawn"): "publish",
    ("withdrawn", "draft"): "edit",
    ("withdrawn", "published"): "publish",
}

# The access levels (server.vocab.ACCESS_LEVELS) each role may see.
_LEVELS = {
    ANONYMOUS: ("public",),
    "contributor": ("public", "registered"),
    "editor": ("public", "registered", "staff"),
    "curator": ("public", "registered", "staff", "restricted"),
    "admin": ("public", "registered", "staff", "restricted"),
}

# Permission -> the lowest role that has it.
PERMISSIONS = {
    "view": ANONYMOUS,  # public pages, APIs and harvesting
    "contribute": ANONYMOUS,  # the public contribution form (rate-limited)
    "sign_in": ANONYMOUS,
    "signed_in": "contributor",  # sign out, own account
    "upload": "contributor",  # tus uploads into one's own quota
    "lead_trip": "contributor",  # a registered teacher starts and leads field trips
    "staff": "editor",  # read the admin interface
    "edit": "editor",  # records, media, annotations, exhibitions, collections, review, jobs
    "publish": "curator",  # publish / withdraw, access and embargo, revert, moderation
    "admin": "admin",  # users and the audit log
}
# Permissions no role has, whoever signs in: how the request arrives grants them.
# "monitor": the metrics scrape (/metrics), from this machine or with MUSEUM_METRICS_TOKEN.
MACHINE_PERMISSIONS = frozenset({"monitor"})


@dataclass(frozen=True)
class Rule:
    """What a route needs: a permission, and which kind of object its path names.

    ``csrf`` is False only for routes whose unsafe methods change nothing (OAI-PMH's
    POST form of a harvesting request); every other unsafe request needs the token and
    a same-site Origin. ``public_only``: the route answers what a visitor sees, whoever
    asks (open-data documents other systems harvest and cache: IIIF Presentation).
    """

    permission: str
    obj: str | None = None  # "record", "asset", "exhibition", "user", "job", "upload" ...
    csrf: bool = True
    public_only: bool = False


class Principal(Protocol):
    @property
    def role(self) -> str: ...


def role_of(user: Principal | None) -> str:
    return ANONYMOUS if user is None else user.role


def rank(role: str) -> int:
    return ROLE_ORDER.index(role)


def has_permission(role: str, permission: str) -> bool:
    if permission in MACHINE_PERMISSIONS:
        return False
    return rank(role) >= rank(PERMISSIONS[permission])


def may_monitor(from_loopback: bool, proxied: bool, bearer: str | None, token: str) -> bool:
    """The "monitor" permission: a request from this machine that no proxy relayed (a proxy
    on this machine would make every visitor look local), or one with the configured token."""
    if from_loopback and not proxied:
        return True
    if not token or bearer is None:
        return False
    return hmac.compare_digest(bearer.encode(), token.encode())


def access_levels_for(role: str) -> tuple[str, ...]:
    return _LEVELS[role]


def publicly_visible(
    status: str, access_level: str, embargo_until: datetime | None, now: datetime, role: str
) -> bool:
    """Whether a record shows on public pages, APIs, IIIF, OAI and search for ``role``."""
    return (
        status == PUBLISHED
        and access_level in _LEVELS[role]
        and (embargo_until is None or embargo_until <= now)
    )


def can_see_in_admin(role: str, access_level: str) -> bool:
    return has_permission(role, "staff") and access_level in _LEVELS[role]


def can_edit_record(role: str, status: str, access_level: str) -> bool:
    """Editors change drafts and records in review; curators change published ones too."""
    if not can_see_in_admin(role, access_level):
        return False
    return has_permission(role, "publish") or status != PUBLISHED


def can_transition(role: str, old: str, new: str, access_level: str) -> bool:
    needed = TRANSITIONS.get((old, new))
    return (
        needed is not None and can_see_in_admin(role, access_level) and has_permission(role, needed)
    )


def allowed_transitions(role: str, status: str, access_level: str) -> list[str]:
    return [
        new
        for (old, new) in TRANSITIONS
        if old == status and can_transition(role, old, new, access_level)
    ]


def owns_or_staff(role: str, user_id: int | None, owner_id: int | None) -> bool:
    """Contributors reach their own uploads; staff reach everyone's."""
    if has_permission(role, "staff"):
        return True
    return user_id is not None and owner_id == user_id and has_permission(role, "upload")
