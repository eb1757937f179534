"""Per-client rate limits on public search (server.rate_limits): 429 + Retry-After, recovery,
one budget per client, and no escape through a header the client writes itself."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from server.app import create_app
from server.settings import Settings, SettingsError

BUDGET = 3
WINDOW = 2  # seconds
PROXY = "10.0.0.1"


@pytest.fixture
def app(seeded_settings: Settings) -> Starlette:
    return create_app(replace(seeded_settings, search_limit=f"{BUDGET} per {WINDOW} seconds"))


@pytest.fixture
def site(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def search(client: TestClient, n: int, **headers: str) -> list[int]:
    """``n`` searches, alternating the page and the API (one budget); their statuses."""
    paths = ["/api/v1/search?q=chi%C3%AAng", "/search?q=chieng"]
    return [client.get(paths[i % 2], headers=headers).status_code for i in range(n)]


def test_search_answers_429_with_retry_after_then_recovers(site: TestClient) -> None:
    assert search(site, BUDGET) == [200] * BUDGET
    refused = site.get("/api/v1/search?q=gong")
    assert refused.status_code == 429
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= WINDOW
    error = refused.json()["error"]
    assert error["code"] == "too_many_requests"
    assert f"{wait} giây" in error["message"]  # Vietnamese by default
    english = site.get("/api/v1/search?q=gong&lang=en").json()["error"]["message"]
    assert english.startswith("Too many searches from your connection")
    page = site.get("/search?q=gong", headers={"accept": "text/html"})
    assert page.status_code == 429 and page.headers["retry-after"]
    assert "text/html" in page.headers["content-type"]
    # Other public pages are not counted.
    assert site.get("/api/v1/records").status_code == 200
    # Retry-After tells the truth: once it has passed, a search goes through again.
    time.sleep(int(site.get("/api/v1/search?q=gong").headers["retry-after"]))
    assert search(site, 1) == [200]


def test_spoofed_forwarded_for_does_not_open_a_new_budget(site: TestClient) -> None:
    statuses = [
        site.get("/api/v1/search?q=gong", headers={"x-forwarded-for": f"198.51.100.{n}"})
        for n in range(BUDGET + 3)
    ]
    assert [r.status_code for r in statuses] == [200] * BUDGET + [429] * 3


def test_each_client_behind_a_trusted_proxy_has_its_own_budget(app: Starlette) -> None:
    # uvicorn (MUSEUM_TRUSTED_PROXIES) believes X-Forwarded-For from the proxy only.
    behind = ProxyHeadersMiddleware(app, trusted_hosts=PROXY)
    with TestClient(behind, client=(PROXY, 40000)) as proxy:
        first = search(proxy, BUDGET + 1, **{"x-forwarded-for": "203.0.113.5"})
        second = search(proxy, BUDGET + 1, **{"x-forwarded-for": "203.0.113.6"})
    assert first == second == [200] * BUDGET + [429]
    with TestClient(behind, client=("192.0.2.9", 40000)) as stranger:  # not the proxy
        spoofed = [
            stranger.get("/api/v1/search", headers={"x-forwarded-for": f"203.0.113.{n}"})
            for n in range(10, 10 + BUDGET + 2)
        ]
    assert [r.status_code for r in spoofed] == [200] * BUDGET + [429] * 2


def test_zero_lifts_the_limit(seeded_settings: Settings) -> None:
    with TestClient(create_app(replace(seeded_settings, search_limit="0"))) as client:
        assert search(client, 12) == [200] * 12


@pytest.mark.redis
def test_servers_sharing_redis_share_the_budget(seeded_settings: Settings, redis_url: str) -> None:
    shared = replace(seeded_settings, search_limit=f"{BUDGET}/minute", queue_url=redis_url)
    address = f"192.0.2.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:6]}"
    with (
        TestClient(create_app(shared), client=(address, 1)) as one,
        TestClient(create_app(shared), client=(address, 2)) as two,
    ):
        assert search(one, 2) == [200, 200]
        assert search(two, 2) == [200, 429]
        assert search(one, 1) == [429]


@pytest.mark.parametrize("raw", ["often", "5", "-1/minute", "3 per fortnight"])
def test_a_budget_that_is_not_a_rate_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match="MUSEUM_SEARCH_LIMIT"):
        Settings.from_env({"MUSEUM_SEARCH_LIMIT": raw})


def test_budgets_read_from_the_environment() -> None:
    assert Settings.from_env({"MUSEUM_SEARCH_LIMIT": "0"}).search_limit == "0"
    assert Settings.from_env({"MUSEUM_SEARCH_LIMIT": " 20  per 10 seconds"}).search_limit == (
        "20 per 10 seconds"
    )
    assert Settings.from_env({}).search_limit == "300/minute"
