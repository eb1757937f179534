"""The staff job list in Debian's chromium: progress bars and state badges move live (issue 8).

The test signs an editor in, opens /admin/jobs, and changes a job row in the database the
way a worker on another machine would; the job-progress island must show each change
through the event stream, with no reload.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update
from starlette.applications import Starlette

from server.app import create_app
from server.auth import SESSION_COOKIE, start_session
from server.db import Database
from server.migrate import upgrade
from server.models import Job, User, utcnow
from server.settings import Settings
from tests.browser.axe import axe_violations, describe
from tests.browser.conftest import viewer_built
from tests.live import serving
from tests.staff import add_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not viewer_built(), reason="viewer bundle not built: run make viewer"),
]
WAIT_MS = 8000


@pytest.fixture
def app(settings: Settings) -> Starlette:
    db = Database(settings.resolved_database_url)
    upgrade(db)
    db.dispose()
    return create_app(settings)


@pytest.fixture
def live_server(app: Starlette) -> Iterator[str]:
    with serving(app) as url:
        yield url


def set_job(db: Database, job_id: str, **values: Any) -> None:
    values["updated_at"] = utcnow()
    db.call(lambda s: s.execute(update(Job).where(Job.id == job_id).values(**values)), write=True)


def sign_in_browser(page: Any, app: Starlette, live_server: str) -> None:
    db: Database = app.state.museum.db
    user_id = add_user(db, "editor", "editor")
    token, _ = db.call(lambda s: start_session(s, s.get(User, user_id), 3600), write=True)
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": live_server}])


def bar_value(page: Any, job_id: str) -> int:
    return int(page.eval_on_selector(f'tr[data-job-id="{job_id}"] progress', "el => el.value"))


def test_progress_bar_moves_as_the_job_changes(page: Any, app: Starlette, live_server: str) -> None:
    db: Database = app.state.museum.db
    job_id = app.state.museum.jobs.submit("selftest", {"seconds": 1})
    sign_in_browser(page, app, live_server)
    page.goto(f"{live_server}/admin/jobs")
    row = f'tr[data-job-id="{job_id}"]'
    assert page.text_content(f"{row} [data-field=state]").strip() == "Đang chờ"
    page.wait_for_selector(".job-live.job-live-on", timeout=WAIT_MS)
    page.wait_for_function(
        "() => document.querySelector('.job-live').textContent.includes('Trực tiếp')",
        timeout=WAIT_MS,
    )

    set_job(db, job_id, state="running", progress=25, attempts=1, message="bước 5/20")
    page.wait_for_function(
        f"() => document.querySelector('{row} progress').value === 25", timeout=WAIT_MS
    )
    assert page.text_content(f"{row} [data-field=state]") == "Đang chạy"
    assert page.text_content(f"{row} [data-field=percent]") == "25%"
    assert page.text_content(f"{row} [data-field=message]") == "bước 5/20"
    assert page.text_content(f"{row} [data-field=attempts]") == "1/3"

    set_job(db, job_id, progress=80)
    page.wait_for_function(
        f"() => document.querySelector('{row} progress').value === 80", timeout=WAIT_MS
    )
    set_job(db, job_id, state="succeeded", progress=100, message="")
    page.wait_for_function(
        f"() => document.querySelector('{row} [data-field=state]').textContent === 'Hoàn thành'",
        timeout=WAIT_MS,
    )
    assert bar_value(page, job_id) == 100
    assert "job-badge-succeeded" in (page.get_attribute(f"{row} [data-field=state]", "class") or "")
    assert page.foreign_requests == []
    violations = axe_violations(page)
    assert not violations, describe(violations)


def test_job_page_follows_its_job(page: Any, app: Starlette, live_server: str) -> None:
    db: Database = app.state.museum.db
    job_id = app.state.museum.jobs.submit("selftest", {"seconds": 1})
    sign_in_browser(page, app, live_server)
    page.goto(f"{live_server}/admin/jobs/{job_id}?lang=en")
    page.wait_for_selector(".job-live.job-live-on", timeout=WAIT_MS)
    page.wait_for_function(
        "() => document.querySelector('.job-live').textContent.includes('Live')",
        timeout=WAIT_MS,
    )
    set_job(db, job_id, state="failed", message="boom", attempts=3)
    page.wait_for_function(
        "() => document.querySelector('#job-facts [data-field=state]').textContent === 'Failed'",
        timeout=WAIT_MS,
    )
    assert page.text_content("#job-facts [data-field=message]") == "boom"
    assert "reload the page" in (page.text_content(".job-live") or "")
