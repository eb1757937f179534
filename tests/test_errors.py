"""One error body shape for every error, in the requester's language."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from server.app import create_app
from server.errors import N_, ServiceUnavailable, ValidationError
from server.settings import Settings


def assert_error_shape(body: dict, status: int, code: str) -> None:  # type: ignore[type-arg]
    assert set(body) >= {"error"}
    error = body["error"]
    assert set(error) >= {"status", "code", "message", "parameter"}
    assert error["status"] == status
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]


@pytest.fixture
def error_client(tmp_path: Path):  # type: ignore[no-untyped-def]
    app = create_app(Settings(data_dir=tmp_path / "data"))
    from server.migrate import upgrade

    upgrade(app.state.museum.db)

    async def boom(request):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internal detail")

    async def busy(request):  # type: ignore[no-untyped-def]
        raise ServiceUnavailable(N_("The catalog is busy; please try again."))

    async def invalid(request):  # type: ignore[no-untyped-def]
        raise ValidationError(N_("The file has no records."), parameter="file")

    app.router.routes.extend(
        [Route("/boom", boom), Route("/invalid", invalid, methods=["POST"]), Route("/busy", busy)]
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/no/such/page", 404, "not_found"),
        ("GET", "/items/NO-SUCH-ITEM", 404, "not_found"),
        ("GET", "/api/v1/jobs/" + "0" * 32, 401, "unauthorized"),
        ("GET", "/api/v1/records/NO-SUCH", 404, "not_found"),
        ("DELETE", "/", 405, "method_not_allowed"),
        ("POST", "/healthz", 405, "method_not_allowed"),
        ("POST", "/invalid", 422, "validation_error"),
        ("GET", "/boom", 500, "internal_error"),
        ("GET", "/busy", 503, "service_unavailable"),
    ],
)
def test_every_error_has_the_same_shape(
    error_client, method: str, path: str, status: int, code: str
) -> None:  # type: ignore[no-untyped-def]
    response = error_client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert_error_shape(response.json(), status, code)
    assert "secret internal detail" not in response.text


def test_errors_speak_the_requesters_language(error_client) -> None:  # type: ignore[no-untyped-def]
    vi = error_client.get("/no/such/page").json()["error"]["message"]
    en = error_client.get("/no/such/page?lang=en").json()["error"]["message"]
    assert vi == "Không có nội dung nào tại địa chỉ này."
    assert en == "There is nothing at this address."
    invalid = error_client.post("/invalid?lang=vi").json()["error"]
    assert invalid["message"] == "Tệp không có bản ghi nào."
    assert invalid["parameter"] == "file"


def test_405_names_the_allowed_methods(error_client) -> None:  # type: ignore[no-untyped-def]
    response = error_client.delete("/")
    assert "GET" in response.headers["allow"]


def test_browsers_get_an_html_error_page(error_client) -> None:  # type: ignore[no-untyped-def]
    response = error_client.get(
        "/no/such/page", headers={"accept": "text/html,application/xhtml+xml"}
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Không có nội dung nào tại địa chỉ này." in response.text
    api = error_client.get("/api/v1/jobs/x", headers={"accept": "text/html"})
    assert api.headers["content-type"] == "application/json"


def test_busy_answers_503_with_retry_after(error_client) -> None:  # type: ignore[no-untyped-def]
    response = error_client.get("/busy?lang=vi")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"]["message"] == "Cơ sở dữ liệu đang bận; vui lòng thử lại."
