"""Nothing unpublished, embargoed or above the requester's access level shows anywhere.

Every GET route of the app (generated from the route table) is requested by a visitor and
by a registered contributor, with and without a search for the hidden records' marker
words, its path filled with the published record's objects; OAI-PMH is asked every verb.
No response may contain a marker of a record (or its exhibition, collection, media file
name) the requester may not see, nor a contribution that has not been approved.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.routing import Mount
from starlette.testclient import TestClient

from server.app import create_app
from server.auth import GuardedRoute
from server.policy import ANONYMOUS, access_levels_for
from server.settings import Settings
from tests.policy_world import PUBLIC_STATE, STATES, build_world
from tests.staff import sign_in, sign_out
from tests.test_policy_matrix import fill, walk

OAI_REQUESTS = [
    "verb=ListRecords&metadataPrefix=oai_dc",
    "verb=ListRecords&metadataPrefix=lido",
    "verb=ListIdentifiers&metadataPrefix=oai_dc",
    "verb=ListSets",
    *(
        f"verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:daklak-museum:{s.record_id}"
        for s in STATES
    ),
]
CONTRIBUTION_MARKER = "zqmarkercontribution"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from server.catalog import import_catalog_file
    from server.db import Database
    from server.migrate import upgrade
    from tests.conftest import SEED_CATALOG

    settings = Settings(data_dir=tmp_path_factory.mktemp("surfaces") / "data")
    db = Database(settings.resolved_database_url)
    upgrade(db)
    db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    build_world(db, settings.data_dir)
    db.dispose()
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def public_urls(client: TestClient) -> list[str]:
    urls: list[str] = []
    for path, _name, route in walk(client.app.routes):  # type: ignore[attr-defined]
        if isinstance(route, Mount) or not isinstance(route, GuardedRoute):
            continue
        if "GET" not in (route.methods or {"GET"}) or route.rule.permission != "view":
            continue
        concrete = fill(path, PUBLIC_STATE, None, None)
        urls.append(concrete)
        markers = " ".join(s.marker for s in STATES)
        urls.append(f"{concrete}?q={markers}")
        urls.append(f"{concrete}?q=zqmarker")
        if "{fmt" in path:
            urls.append(concrete.replace(".csv", ".json"))
    urls.extend(f"/oai?{query}" for query in OAI_REQUESTS)
    return urls


@pytest.mark.parametrize("role", [ANONYMOUS, "contributor"])
def test_hidden_records_appear_on_no_public_surface(site: TestClient, role: str) -> None:
    if role == ANONYMOUS:
        sign_out(site)
    else:
        sign_in(site, "someone", role)
    levels = access_levels_for(role)
    hidden = [
        s for s in STATES if s.status != "published" or s.embargo or s.access_level not in levels
    ]
    assert len(hidden) >= 5
    leaks = []
    answered = 0
    for url in public_urls(site):
        for accept in ("text/html", "application/json"):
            response = site.get(url, headers={"accept": accept})
            assert response.status_code < 500, url
            body = response.text
            # The answer may repeat the request back (search words, an OAI identifier
            # asked for): that is no leak.
            for _key, _, value in (p.partition("=") for p in url.partition("?")[2].split("&")):
                for form in (value, value.replace(" ", "+"), value.replace(" ", "%20")):
                    if form:
                        body = body.replace(form, "")
            for state in hidden:
                # OAI-PMH names a withdrawn record once seen, as deleted, so harvesters drop it.
                named = re.search(rf"\b{state.record_id}\b", body) and not (
                    url.startswith("/oai") and state.name == "withdrawn"
                )
                if state.marker in body or named:
                    leaks.append(f"{url} ({accept}) shows {state.name}")
            if CONTRIBUTION_MARKER in body:
                leaks.append(f"{url} ({accept}) shows an unapproved contribution")
            answered += response.status_code == 200
    # The published record itself is found: the surfaces were really asked.
    assert PUBLIC_STATE.marker in site.get(f"/search?q={PUBLIC_STATE.marker}").text
    assert answered > 40
    assert leaks == []
