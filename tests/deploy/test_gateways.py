"""The gateways users meet, compose's nginx and the dev runner's Caddy, held to the same behaviour in front of
stub services: what each path reaches, the 404, 413 and 503 problems, /healthz, /docs and the forwarded
headers. Both run for real (tests/deploy/gateways.py)."""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.topology import SERVICES, docs_paths, owner_of
from tests.deploy.gateways import GATEWAYS, Gateway, StubService, gateway_process
from tests.deploy.routes import sample_paths
from tests.live import free_port
from tests.support import assert_problem


@pytest.fixture(scope="module", params=GATEWAYS)
def gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    stubs = {service: StubService(service) for service in SERVICES}
    folder = tmp_path_factory.mktemp(request.param)
    try:
        with gateway_process(request.param, folder, {s: stub.port for s, stub in stubs.items()}) as url:
            yield Gateway(url, stubs, request.param, folder)
    finally:
        for stub in stubs.values():
            stub.stop()


def test_the_configuration_is_valid(gateway: Gateway) -> None:
    assert httpx.get(gateway.url + "/healthz").status_code == 200  # it started, so it parsed


@pytest.mark.parametrize("path", [path for path in sample_paths() if owner_of(path)])
def test_each_route_reaches_its_service_with_the_path_unchanged(gateway: Gateway, path: str) -> None:
    response = httpx.get(gateway.url + path + "?limit=5")
    assert response.status_code == 200, response.text
    assert response.json()["service"] == owner_of(path)
    assert response.json()["path"] == path + "?limit=5"


@pytest.mark.parametrize(
    "path",
    ["/v1/notifications?unread=true", "/v1/notifications/0190c0de/read", "/v1/calendar/feed", "/v1/calendar/Zm9v.ics"],
)
def test_notices_and_calendar_feeds_reach_notify(gateway: Gateway, path: str) -> None:
    response = httpx.post(gateway.url + path) if path.endswith(("/read", "/feed")) else httpx.get(gateway.url + path)
    assert response.status_code == 200, response.text
    assert (response.json()["service"], response.json()["path"]) == ("notify", path)


@pytest.mark.parametrize("path", [path for path in sample_paths() if not owner_of(path) and path != "/readyz"])
def test_paths_no_service_serves_get_the_404_problem(gateway: Gateway, path: str) -> None:
    problem = assert_problem(httpx.post(gateway.url + path), 404)
    assert problem["detail"] == "No service serves this path"


def test_internal_checks_behind_healthz_are_not_reachable(gateway: Gateway) -> None:
    assert httpx.get(gateway.url + "/_ready/orgs").status_code == 404
    assert_problem(httpx.get(gateway.url + "/readyz"), 404)


def test_healthz_is_ok_only_while_every_service_is_ready(gateway: Gateway) -> None:
    healthy = httpx.get(gateway.url + "/healthz")
    assert healthy.status_code == 200
    assert healthy.json() == {"status": "ok", "services": dict.fromkeys(SERVICES, True)}
    gateway.stubs["catalog"].ready = False
    try:
        degraded = httpx.get(gateway.url + "/healthz")
    finally:
        gateway.stubs["catalog"].ready = True
    assert degraded.status_code == 503
    assert degraded.json() == {"status": "degraded", "services": {**dict.fromkeys(SERVICES, True), "catalog": False}}


def test_docs_index_links_every_service(gateway: Gateway) -> None:
    page = httpx.get(gateway.url + "/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for service in SERVICES:
        docs, spec = docs_paths(service)
        assert docs in page.text and spec in page.text


def test_client_address_replaces_a_claimed_one_and_request_ids_pass_through(gateway: Gateway) -> None:
    claimed = httpx.get(gateway.url + "/v1/me", headers={"X-Forwarded-For": "203.0.113.9", "X-Request-ID": "r-1"})
    headers = {k.lower(): v for k, v in claimed.json()["headers"].items()}
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-request-id"] == "r-1"
    made = [
        {k.lower(): v for k, v in httpx.get(gateway.url + "/v1/me").json()["headers"].items()}["x-request-id"]
        for _ in range(2)
    ]
    assert all(len(request_id) >= 32 for request_id in made) and made[0] != made[1]


def test_bodies_beyond_the_gateway_limit_get_a_413_problem(gateway: Gateway) -> None:
    assert_problem(httpx.post(gateway.url + "/v1/bookings", content=b"x" * (3 * 1024 * 1024)), 413)


@pytest.mark.parametrize("kind", GATEWAYS)
def test_a_service_that_is_down_gives_503_with_retry_after(tmp_path: Path, kind: str) -> None:
    up = StubService("orgs")
    ports = {service: up.port if service == "orgs" else free_port() for service in SERVICES}  # nothing listens there
    try:
        with gateway_process(kind, tmp_path, ports) as url:
            down = httpx.get(url + "/v1/sessions/1")
            health = httpx.get(url + "/healthz")
    finally:
        up.stop()
    assert_problem(down, 503)
    assert down.headers["retry-after"] == "2"
    assert health.status_code == 503
    assert health.json()["services"] == {service: service == "orgs" for service in SERVICES}


def test_caddy_writes_one_json_access_line_per_request_with_its_request_id(tmp_path: Path) -> None:
    """Under `learncity up`, Caddy logs to the data folder (nginx, in its container, to stdout)."""
    stub = StubService("catalog")
    ports = {service: stub.port if service == "catalog" else free_port() for service in SERVICES}
    try:
        with gateway_process("caddy", tmp_path, ports) as url:
            answered = httpx.get(url + "/v1/sessions/x", headers={"X-Request-ID": "access-log-1"})
            made = httpx.get(url + "/v1/sessions/y").json()["headers"]
    finally:
        stub.stop()
    assert answered.status_code == 200
    lines = [json.loads(line) for line in (tmp_path / "access.log").read_text().splitlines()]
    by_id = {line["request_id"]: line for line in lines}
    assert by_id["access-log-1"]["status"] == 200
    assert by_id["access-log-1"]["request"]["uri"] == "/v1/sessions/x"
    assert by_id[{k.lower(): v for k, v in made.items()}["x-request-id"]]["request"]["uri"] == "/v1/sessions/y"
