"""The dev runner's gateway: one base URL, routing `/v1/<segment>` to the owning service by HTTP.

docker-compose uses nginx and Kubernetes an Ingress for the same job; all three follow
`shared.topology`, the one route table.
"""

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from shared.docs import combined_docs_html
from shared.errors import problem_response
from shared.topology import SERVICES, owner_of

# Hop-by-hop headers (RFC 9110 7.6.1) are never forwarded.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "x-forwarded-for",
    "x-forwarded-proto",
}


def create_gateway(upstreams: Mapping[str, str], *, timeout_s: float = 30.0) -> Starlette:
    """`upstreams` maps each service to its base URL, e.g. `{"orgs": "http://127.0.0.1:8001"}`."""
    client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=2.0), limits=httpx.Limits(max_connections=500))

    async def proxy(request: Request) -> Response:
        service = owner_of(request.url.path)
        if service is None:
            return problem_response(404, f"No service serves {request.url.path}")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        # Overwritten, never appended: the first hop is ours, so a client cannot spoof its address.
        headers.append(("x-forwarded-for", request.client.host if request.client else ""))
        headers.append(("x-forwarded-proto", request.url.scheme))
        upstream = client.build_request(
            request.method,
            upstreams[service] + request.url.path,
            params=request.url.query,
            headers=headers,
            content=request.stream(),
        )
        try:
            response = await client.send(upstream, stream=True)
        except httpx.TransportError:
            return problem_response(503, f"The {service} service is unavailable", headers={"Retry-After": "2"})
        return StreamingResponse(
            response.aiter_raw(),
            status_code=response.status_code,
            headers={k: v for k, v in response.headers.items() if k.lower() not in _HOP_BY_HOP},
            background=BackgroundTask(response.aclose),
        )

    async def healthz(_: Request) -> JSONResponse:
        async def ready(service: str) -> tuple[str, bool]:
            try:
                response = await client.get(upstreams[service] + "/readyz", timeout=2.0)
            except httpx.HTTPError:
                return service, False
            return service, response.status_code == 200

        results = dict(await asyncio.gather(*(ready(service) for service in SERVICES)))
        status = 200 if all(results.values()) else 503
        return JSONResponse({"status": "ok" if status == 200 else "degraded", "services": results}, status)

    async def docs_index(_: Request) -> HTMLResponse:
        return HTMLResponse(combined_docs_html())

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/docs", docs_index, methods=["GET"]),
            Route("/{path:path}", proxy, methods=methods),
        ],
        lifespan=lifespan,
    )
