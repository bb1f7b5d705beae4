"""Browsers on other origins (api-contract.md, "Browsers on other origins"): every service answers CORS for
the origins of `LEARNCITY_CORS_ORIGINS` and for no other. The in-process services allow `CORS_ORIGIN`."""

import uuid

import httpx
import pytest
from pydantic import ValidationError

from shared.settings import ServiceSettings
from shared.topology import ROUTE_SEGMENTS
from tests.conftest import CORS_ORIGIN
from tests.support import assert_problem

OTHER_ORIGIN = "https://evil.example"
CLIENT_HEADERS = "authorization, content-type, idempotency-key, accept-language"
# One route of every segment of every service.
PATHS = [f"/v1/{segment}" for segments in ROUTE_SEGMENTS.values() for segment in segments]


async def _preflight(
    client: httpx.AsyncClient, path: str, origin: str, method: str = "POST", headers: str = CLIENT_HEADERS
) -> httpx.Response:
    return await client.options(
        path,
        headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
    )


@pytest.mark.parametrize("path", PATHS)
async def test_a_preflight_from_an_allowed_origin_allows_what_a_bearer_client_sends(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await _preflight(client, path, CORS_ORIGIN)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == CORS_ORIGIN
    assert {m.strip() for m in response.headers["access-control-allow-methods"].split(",")} >= {
        "GET",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
    }
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert allowed >= {"authorization", "content-type", "idempotency-key", "accept-language"}
    assert "origin" in response.headers["vary"].lower()


@pytest.mark.parametrize("path", PATHS)
async def test_another_origin_gets_no_cors_headers_at_all(client: httpx.AsyncClient, path: str) -> None:
    preflight = await _preflight(client, path, OTHER_ORIGIN)
    simple = await client.get(path, headers={"Origin": OTHER_ORIGIN})
    for response in (preflight, simple):
        assert not [name for name in response.headers if name.lower().startswith("access-control-")]
    assert preflight.status_code >= 400  # nothing allowed it: the browser will not send the request


async def test_answers_to_an_allowed_origin_carry_it_and_expose_what_clients_read(client: httpx.AsyncClient) -> None:
    """Successes and problems alike (401s without a token, a 404), so a web app can read the status, the
    problem and the headers it needs."""
    origin = {"Origin": CORS_ORIGIN}
    answers = [
        await client.get("/v1/search/sessions", headers=origin),
        await client.get("/v1/me", headers=origin),
        await client.get(f"/v1/sessions/{uuid.uuid4()}", headers=origin),
        await client.post("/v1/bookings", json={}, headers=origin),
    ]
    assert [answer.status_code for answer in answers] == [200, 401, 404, 401]
    for answer in answers:
        assert answer.headers["access-control-allow-origin"] == CORS_ORIGIN
        exposed = {h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")}
        assert exposed >= {"retry-after", "idempotent-replayed", "x-request-id"}
    assert_problem(answers[1], 401)


async def test_a_preflight_for_a_header_the_api_does_not_take_is_a_400_problem(client: httpx.AsyncClient) -> None:
    response = await _preflight(client, "/v1/bookings", CORS_ORIGIN, headers="authorization, x-secret-sauce")
    problem = assert_problem(response, 400)
    assert "headers" in str(problem["detail"])


async def test_requests_without_an_origin_are_untouched(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/search/sessions")
    assert response.status_code == 200
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


def test_the_setting_is_one_comma_separated_name_for_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ServiceSettings().cors_origins == []  # none unless configured
    monkeypatch.setenv("LEARNCITY_CORS_ORIGINS", " https://portal.example, http://localhost:5173/ ,")
    assert ServiceSettings().cors_origins == ["https://portal.example", "http://localhost:5173"]
    monkeypatch.setenv("LEARNCITY_CORS_ORIGINS", "")
    assert ServiceSettings().cors_origins == []


@pytest.mark.parametrize("value", ["portal.example", "https://portal.example/app", "ftp://portal.example", "*"])
def test_what_is_not_an_origin_is_refused_at_start(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LEARNCITY_CORS_ORIGINS", value)
    with pytest.raises(ValidationError, match="not an origin"):
        ServiceSettings()
