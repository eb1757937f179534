"""Role × route × object-state: what the app answers equals what server.policy says.

Generated from the app's own route table: every route (and every method it takes) is
requested by each role (visitor, contributor, editor, curator, admin) on an object in each
state the policy distinguishes (tests/policy_world.py). The expected outcome comes from
server.policy's functions; the actual one from HTTP: refused (401, 403, 404) or let through
(anything else but a 5xx). Unsafe requests carry a valid CSRF token and Origin, so only
the policy can refuse them. A route without a rule, or whose path names an object this test
cannot make, fails the test: new routes are covered or the build is red.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.routing import Mount
from starlette.testclient import TestClient

from server.app import create_app
from server.auth import CSRF_COOKIE, GuardedRoute, GuardedWebSocketRoute
from server.models import AuditEntry, utcnow
from server.policy import (
    ANONYMOUS,
    ROLE_ORDER,
    Rule,
    access_levels_for,
    can_edit_record,
    can_see_in_admin,
    has_permission,
    owns_or_staff,
    publicly_visible,
)
from server.settings import Settings
from tests.policy_world import (
    CONTRIBUTION_OWNER,
    JOB_ID,
    OTHER_UPLOAD,
    OWN_UPLOAD,
    PLACE_ID,
    STATES,
    TRIP_CODE,
    State,
    build_world,
)
from tests.staff import ORIGIN, sign_in, sign_out

REFUSED = frozenset({401, 403, 404})
# Routes that answer 404 for an object that lacks what they show, though the requester may
# see it: only their refusals are compared (a document's accepted OCR text lines).
CONTENT_DEPENDENT = frozenset({"iiif_annotations"})
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
# A route answering longer than this (an event stream) is let through once its headers came.
STREAMING = "text/event-stream"


@dataclass(frozen=True)
class Case:
    route: str
    method: str
    path: str
    rule: Rule
    state: State | None
    owner: str | None = None  # uploads: whose


def walk(routes: list[Any], prefix: str = "", names: str = "") -> Iterator[tuple[str, str, Any]]:
    for route in routes:
        if isinstance(route, Mount):
            if route.routes:
                inner = f"{names}{route.name}:" if route.name else names
                yield from walk(route.routes, prefix + route.path, inner)
            else:
                yield prefix + route.path, names + (route.name or ""), route
        else:
            yield prefix + route.path, names + route.name, route


FIXED = {
    "job_id": JOB_ID,
    "place_id": PLACE_ID,
    "fmt": "csv",
    "region": "full",
    "size": "max",
    "rotation": "0",
    "qf": "default.jpg",
    "year": "2026",
    "number": "1",
    "contribution_id": "1",
    "kiosk_id": "hall-1",
    "code": TRIP_CODE,
}


def fill(path: str, state: State | None, upload: str | None, user: str | None) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "record_id" and state is not None:
            return state.record_id
        if name in ("asset_id", "identifier") and state is not None:  # asset, original
            return state.asset_id
        if name == "exhibition_id" and state is not None:
            return f"ex-{state.name}"
        if name == "collection_id" and state is not None:
            # IIIF names a catalog collection "collection-<id>"
            prefix = "collection-" if path.startswith("/iiif/") else ""
            return f"{prefix}col-{state.name}"
        if name == "upload_id" and upload is not None:
            return upload
        if name == "user_id" and user is not None:
            return user
        if name == "fmt" and path.startswith("/admin/report/"):
            return "xlsx"
        if name in FIXED:
            return FIXED[name]
        raise AssertionError(f"{path}: the policy test cannot make a {name!r}; add it here")

    return re.sub(r"{(\w+)(?::\w+)?}", value, path)


def expected(case: Case, role: str, now: Any) -> bool:
    rule, state = case.rule, case.state
    if not has_permission(role, rule.permission):
        return False
    if rule.obj == "upload":
        owner_is_me = case.owner == CONTRIBUTION_OWNER and role == "contributor"
        return owns_or_staff(role, 1 if owner_is_me else None, 1)
    if rule.obj == "trip":  # a trip's console, end and summary: its own teacher only
        return role == "contributor"
    if state is None:
        return True
    if rule.public_only:  # open-data documents: what a visitor sees, whoever asks
        role = ANONYMOUS
    levels = access_levels_for(role)
    if rule.obj in ("record", "asset"):
        if rule.permission in ("view", "contribute"):
            return publicly_visible(
                state.status,
                state.access_level,
                now if not state.embargo else now.replace(year=now.year + 1),
                now,
                role,
            )
        if rule.permission == "staff":
            return can_see_in_admin(role, state.access_level)
        if rule.permission == "edit":
            return can_edit_record(role, state.status, state.access_level)
        return can_see_in_admin(role, state.access_level)
    if rule.obj == "original":  # the world's originals have an open licence, download allowed
        shown = publicly_visible(
            state.status,
            state.access_level,
            now.replace(year=now.year + 1) if state.embargo else now,
            now,
            role,
        )
        return shown or can_see_in_admin(role, state.access_level)
    if rule.obj == "exhibition":
        if rule.permission == "view":
            return (
                state.status == "published" and not state.embargo and state.access_level in levels
            )
        return can_see_in_admin(role, state.access_level)
    if rule.obj == "collection":
        if rule.permission == "view":
            return state.access_level in levels
        return can_see_in_admin(role, state.access_level)
    return True


STATEFUL = ("record", "asset", "original", "exhibition", "collection")


def cases(app: Any, other_user: str) -> list[Case]:
    found: list[Case] = []
    unguarded: list[str] = []
    for path, name, route in walk(app.routes):
        if isinstance(route, GuardedWebSocketRoute):
            continue  # WebSockets: the same rule, checked at the handshake (their own tests)
        if not isinstance(route, GuardedRoute):
            if isinstance(route, Mount):
                continue  # static files: server/routes.py's mounts, tested on their own
            unguarded.append(name or path)
            continue
        methods = sorted((route.methods or {"GET"}) - {"HEAD"})
        rule = route.rule
        for method in methods:
            if rule.obj in STATEFUL and "{" in path:
                for state in STATES:
                    found.append(
                        Case(name, method, fill(path, state, None, other_user), rule, state)
                    )
            elif rule.obj == "upload" and "{" in path:
                for upload, owner in ((OWN_UPLOAD, CONTRIBUTION_OWNER), (OTHER_UPLOAD, "other")):
                    found.append(
                        Case(name, method, fill(path, None, upload, other_user), rule, None, owner)
                    )
            else:
                found.append(Case(name, method, fill(path, None, None, other_user), rule, None))
    assert not unguarded, f"routes without a policy rule: {unguarded}"
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, int]]]:
    from server.catalog import import_catalog_file
    from server.db import Database
    from server.migrate import upgrade
    from tests.conftest import SEED_CATALOG

    settings = Settings(data_dir=tmp_path_factory.mktemp("policy") / "data")
    db = Database(settings.resolved_database_url)
    upgrade(db)
    db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    users = build_world(db, settings.data_dir)
    db.dispose()
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client, users


def request_as(client: TestClient, role: str, case: Case) -> int:
    if role == ANONYMOUS:
        sign_out(client)
        client.cookies.set(CSRF_COOKIE, "visitor-token")
        client.headers["x-csrf-token"] = "visitor-token"
        client.headers["origin"] = ORIGIN
    else:
        # A fresh session each time: an earlier request may have signed this one out.
        name = CONTRIBUTION_OWNER if role == "contributor" else f"{role}-user"
        sign_in(client, name, role)
    headers = {"accept": "application/json"}
    with client.stream(case.method, case.path, headers=headers) as response:
        return response.status_code


def test_every_route_answers_every_role_as_the_policy_says(
    world: tuple[TestClient, dict[str, int]],
) -> None:
    client, users = world
    now = utcnow()
    mismatches = []
    checked = 0
    db = client.app.state.museum.db  # type: ignore[attr-defined]
    audit_rows = 0
    unaudited = []
    for case in cases(client.app, str(users["other"])):
        for role in ROLE_ORDER:
            status = request_as(client, role, case)
            assert status < 500, f"{case.method} {case.path} as {role}: {status}"
            if case.method in UNSAFE and case.rule.csrf:
                # A change writes one audit entry (a request that changed nothing, none); a
                # refusal or a faulty request none. Each change's own entry is tested beside it.
                now_rows = db.call(lambda s: s.scalar(select(func.count(AuditEntry.id))))
                wrote, audit_rows = now_rows - audit_rows, now_rows
                if wrote > (1 if status < 400 else 0):
                    unaudited.append(f"{case.method} {case.path} as {role}: {status}, {wrote} rows")
            allowed = expected(case, role, now)
            if allowed and status == 404 and case.route in CONTENT_DEPENDENT:
                continue
            if allowed == (status in REFUSED):
                state = case.state.name if case.state else case.owner or "-"
                mismatches.append(
                    f"{case.method} {case.path} ({case.route}, {state}) as {role}: "
                    f"{status}, policy says {'allow' if allowed else 'refuse'}"
                )
            checked += 1
    assert checked > 500
    assert unaudited == [], "\n".join(unaudited[:40])
    assert mismatches == [], f"{len(mismatches)} of {checked} mismatch:\n" + "\n".join(
        mismatches[:80]
    )
