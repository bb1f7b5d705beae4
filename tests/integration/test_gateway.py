"""The gateway in front of the services (the dev runner's, or nginx under docker compose): every route
reaches the service that owns it, the rest is a 404 problem, and each service's docs are served."""

import uuid
from typing import Any

import httpx
import pytest

from shared.topology import ROUTE_SEGMENTS, SERVICES, docs_paths
from tests.support import assert_problem

pytestmark = pytest.mark.system


def _spec(api: httpx.Client, service: str) -> dict[str, Any]:
    response = api.get(docs_paths(service)[1])
    assert response.status_code == 200, response.text
    spec: dict[str, Any] = response.json()
    return spec


def test_health_reports_every_service_ready(api: httpx.Client) -> None:
    health = api.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "services": dict.fromkeys(SERVICES, True)}


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_serves_its_docs_and_exactly_its_segments(api: httpx.Client, service: str) -> None:
    docs = api.get(docs_paths(service)[0])
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = _spec(api, service)
    assert service in spec["info"]["title"]
    segments = {path.split("/")[2] for path in spec["paths"] if path.startswith("/v1/")}
    assert segments == set(ROUTE_SEGMENTS[service])


@pytest.mark.parametrize(
    ("service", "segment"), [(service, segment) for service in SERVICES for segment in ROUTE_SEGMENTS[service]]
)
def test_each_segment_reaches_its_service(api: httpx.Client, service: str, segment: str) -> None:
    """One operation of the segment, with a random id and an empty body: whatever the service answers (401,
    404, 422...), it answered, not the gateway: services stamp every response with X-Request-ID."""
    path, operations = next(
        (path, operations)
        for path, operations in _spec(api, service)["paths"].items()
        if path.split("/")[1:3] == ["v1", segment]
    )
    method = next(method for method in ("get", "post", "patch", "delete") if method in operations)
    concrete = "/".join(str(uuid.uuid4()) if part.startswith("{") else part for part in path.split("/"))
    response = api.request(method.upper(), concrete, json={} if method in ("post", "patch") else None)
    assert response.status_code < 500, response.text
    assert "x-request-id" in response.headers, f"{method.upper()} {concrete} did not reach {service}"


@pytest.mark.parametrize(
    "path", ["/v1/unknown", "/v1/sessionsx", "/internal/v1/sessions/" + str(uuid.uuid4()), "/metrics", "/readyz"]
)
def test_paths_no_service_serves_publicly_are_a_404_problem_from_the_gateway(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    problem = assert_problem(response, 404)
    assert str(problem["detail"]).startswith("No service serves")
    assert "x-request-id" not in response.headers


def test_the_public_signing_keys_and_the_docs_index_are_served(api: httpx.Client) -> None:
    keys = api.get("/.well-known/jwks.json")
    assert keys.status_code == 200
    assert [key["kty"] for key in keys.json()["keys"]] and all(key["kty"] == "OKP" for key in keys.json()["keys"])
    index = api.get("/docs")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    for service in SERVICES:
        assert docs_paths(service)[1] in index.text
