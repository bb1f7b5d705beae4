"""The platform every service shares: request ids, metrics, offline docs, problem details."""

import re

import httpx
from fastapi import FastAPI

from shared.docs import combined_docs_html
from shared.topology import SERVICES, docs_paths, owner_of
from tests.support import assert_problem


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    made = await client.get("/v1/organizations")
    assert len(made.headers["x-request-id"]) >= 32
    echoed = await client.get("/v1/organizations", headers={"X-Request-ID": "trace-me-123"})
    assert echoed.headers["x-request-id"] == "trace-me-123"


async def test_metrics_count_requests_by_route_template(apps: dict[str, FastAPI], client: httpx.AsyncClient) -> None:
    await client.get("/v1/organizations/0190a000-0000-7000-8000-000000000000")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=apps["orgs"]), base_url="http://orgs") as direct:
        metrics = (await direct.get("/metrics")).text
    labels = r'method="GET",route="/v1/organizations/\{organization_id\}",status="404"'
    assert re.search(r"learncity_http_requests_total\{" + labels + r"\} [1-9]", metrics)
    assert "learncity_http_request_duration_seconds_bucket" in metrics


async def test_outbox_backlog_is_exported(apps: dict[str, FastAPI]) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=apps["catalog"]), base_url="http://c") as direct:
        metrics = (await direct.get("/metrics")).text
    assert 'learncity_outbox_deliveries{status="pending"} 0.0' in metrics
    assert 'learncity_outbox_deliveries{status="failed"} 0.0' in metrics


async def test_docs_use_bundled_assets_only(client: httpx.AsyncClient) -> None:
    for service in SERVICES:
        docs, spec = docs_paths(service)
        page = (await client.get(docs)).text
        assert f"{docs}/static/swagger-ui-bundle.js" in page
        assert "cdn" not in page.lower()
        assert (await client.get(f"{docs}/static/swagger-ui-bundle.js")).status_code == 200
        assert (await client.get(spec)).json()["info"]["title"].startswith("Learning City")
        redoc = (await client.get(f"{docs}/redoc")).text
        assert f"{docs}/static/redoc.standalone.js" in redoc
        assert "fonts.googleapis" not in redoc


def test_combined_docs_page_lists_every_spec_and_loads_nothing_external() -> None:
    page = combined_docs_html()
    for service in SERVICES:
        assert docs_paths(service)[1] in page
    assert not re.search(r"(src|href)=\"https?://", page)
    assert all(owner_of(path) for path in re.findall(r'(?:src|href)="(/[^"]+)"', page))


async def test_unknown_paths_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/organizations/x/y"), 404)
    assert_problem(await client.put("/v1/organizations"), 405)
