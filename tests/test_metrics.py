"""``GET /metrics``: the Prometheus text format, HTTP counters, the queue depth and job
durations from the catalog (SQLite and PostgreSQL), free disk, and who may read it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from server import __version__
from server.app import create_app
from server.migrate import upgrade
from server.settings import Settings, SettingsError
from tests.jobhelpers import drain
from tests.staff import sign_in

LOOPBACK = ("127.0.0.1", 40000)
ELSEWHERE = ("203.0.113.9", 40000)  # documentation range: a scraper on another machine
TOKEN = "scrape-me-0123456789abcdef"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def make_app(settings: Settings) -> TestClient:
    app = create_app(settings)
    upgrade(app.state.museum.db)
    return TestClient(app, client=LOOPBACK)


@pytest.fixture
def local(settings: Settings) -> Iterator[TestClient]:
    with make_app(settings) as client:
        yield client


def test_request_counters_and_latency_grow_by_route_name(local: TestClient) -> None:
    before = scrape(local)
    for _ in range(3):
        assert local.get("/healthz").status_code == 200
    local.get("/items/NO-SUCH-ITEM", headers={"accept": "application/json"})
    after = scrape(local)
    ok = {"route": "healthz", "method": "GET", "status": "2xx"}
    total = "museum_http_requests_total"
    assert value(after, total, **ok) - value(before, total, **ok) == 3
    latency = "museum_http_request_duration_seconds_count"
    assert value(after, latency, route="healthz") - value(before, latency, route="healthz") == 3
    assert value(after, total, route="item", method="GET", status="4xx") == 1
    # the scrape before this one was counted; this one is in flight while it is read
    assert value(after, total, route="metrics", method="GET", status="2xx") >= 1
    assert value(after, "museum_http_requests_in_progress") == 1
    labels = {dict(key[1]).get("route", "") for key in after}
    assert not any("NO-SUCH-ITEM" in label or "/" in label for label in labels)


def test_free_disk_and_build_info(local: TestClient) -> None:
    samples = scrape(local)
    assert value(samples, "museum_data_dir_free_bytes") > 0
    build = [key for key in samples if key[0] == "museum_build_info"]
    assert build and ("version", __version__) in build[0][1]
    assert value(samples, "museum_catalog_up") == 1


def test_queue_depth_and_job_durations_come_from_the_catalog(
    tmp_path: Path, database_url: str
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, job_retry_delay=0.0)
    with make_app(settings) as client:
        jobs = client.app.state.museum.jobs  # type: ignore[attr-defined]
        for params in ({"seconds": 0.2}, {"seconds": 0.2}, {"seconds": 0, "fail": True}):
            jobs.submit("selftest", params)
        queued = scrape(client)
        assert value(queued, "museum_jobs", state="queued", kind="selftest") == 3
        assert value(queued, "museum_jobs", state="succeeded", kind="selftest") == 0
        assert value(queued, "museum_job_duration_seconds_count", kind="selftest") == 0
        drain(jobs)
        done = scrape(client)
    assert value(done, "museum_jobs", state="queued", kind="selftest") == 0
    assert value(done, "museum_jobs", state="succeeded", kind="selftest") == 2
    assert value(done, "museum_jobs", state="failed", kind="selftest") == 1
    ok = {"kind": "selftest", "outcome": "succeeded"}
    assert value(done, "museum_job_duration_seconds_count", **ok) == 2
    assert 0.3 <= value(done, "museum_job_duration_seconds_sum", **ok) < 60
    assert value(done, "museum_job_duration_seconds_bucket", le="1.0", **ok) == 2
    assert value(done, "museum_job_duration_seconds_bucket", le="+Inf", **ok) == 2
    failed = {"kind": "selftest", "outcome": "failed"}
    assert value(done, "museum_job_duration_seconds_count", **failed) == 1


def test_fixity_failures_and_the_last_check_time(local: TestClient) -> None:
    from server.models import FixityCheck

    assert value(scrape(local), "museum_fixity_failed_originals") == 0
    assert not any(key[0].startswith("museum_fixity_last") for key in scrape(local))
    checked = datetime(2026, 1, 2, 3, 4, 5)
    rows = [("a" * 64, True), ("b" * 64, False), ("c" * 64, False)]
    db = local.app.state.museum.db  # type: ignore[attr-defined]
    db.call(
        lambda s: s.add_all(
            FixityCheck(sha256=digest, ok=ok, checked_at=checked) for digest, ok in rows
        ),
        write=True,
    )
    samples = scrape(local)
    assert value(samples, "museum_fixity_failed_originals") == 2
    stamp = value(samples, "museum_fixity_last_check_timestamp_seconds")
    assert stamp == checked.replace(tzinfo=UTC).timestamp()


def test_an_unreachable_catalog_is_reported_not_a_failed_scrape(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", database_url="postgresql://nobody@127.0.0.1:1/none"
    )
    with TestClient(create_app(settings), client=LOOPBACK) as client:
        samples = scrape(client)
    assert value(samples, "museum_catalog_up") == 0
    assert value(samples, "museum_data_dir_free_bytes") > 0


def test_refused_from_elsewhere_without_the_token(settings: Settings) -> None:
    app = create_app(settings)
    upgrade(app.state.museum.db)
    with TestClient(app, client=ELSEWHERE) as client:
        refused = client.get("/metrics", headers={"accept": "application/json"})
        assert refused.status_code == 403
        english = client.get("/metrics?lang=en", headers={"accept": "application/json"})
        assert "monitoring system" in english.json()["error"]["message"]
        assert refused.json()["error"]["message"] != english.json()["error"]["message"]
        assert "museum_" not in refused.text
        # no token configured: no bearer opens it, and signing in changes nothing
        assert client.get("/metrics", headers={"authorization": "Bearer "}).status_code == 403
        sign_in(client, "boss", "admin")
        assert client.get("/metrics").status_code == 403


def test_the_token_opens_it_from_elsewhere(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", metrics_token=TOKEN)
    app = create_app(settings)
    upgrade(app.state.museum.db)
    with TestClient(app, client=ELSEWHERE) as client:
        assert client.get("/metrics").status_code == 403
        wrong = {"authorization": f"Bearer {TOKEN[:-1]}x"}
        assert client.get("/metrics", headers=wrong).status_code == 403
        basic = {"authorization": f"Basic {TOKEN}"}
        assert client.get("/metrics", headers=basic).status_code == 403
        right = client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
        assert right.status_code == 200 and "museum_http_requests_total" in right.text


def test_a_request_relayed_by_a_local_proxy_is_not_local(settings: Settings) -> None:
    """nginx on the same machine connects from 127.0.0.1 for every visitor."""
    with make_app(settings) as client:
        for header in ("x-forwarded-for", "forwarded", "x-real-ip"):
            relayed = client.get("/metrics", headers={header: "198.51.100.7"})
            assert relayed.status_code == 403, header
        assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize("raw", ["short", "x" * 257, "sixteen chars ok but spaced"])
def test_a_weak_metrics_token_is_refused_without_echoing_it(raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"MUSEUM_METRICS_TOKEN": raw})
    assert "MUSEUM_METRICS_TOKEN" in str(caught.value) and raw not in str(caught.value)
    assert Settings.from_env({"MUSEUM_METRICS_TOKEN": TOKEN}).metrics_token == TOKEN
