"""The FastAPI application factory every service uses: middleware, problem details, health, auth, lifespan."""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import text

from shared.auth import KeySource, RemoteJwks, TokenVerifier
from shared.clients import new_http_client
from shared.db import Database
from shared.errors import install_error_handlers, problem_response
from shared.logging import configure_logging
from shared.middleware import InputGuardMiddleware, RequestContextMiddleware
from shared.migrations import current_revision, head_revision
from shared.settings import ServiceSettings
from shared.topology import docs_paths


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # also the Postgres schema and the Alembic environment
    title: str
    description: str
    routers: Sequence[APIRouter]
    openapi_tags: Sequence[dict[str, Any]] = ()
    # How tokens are verified; default: the orgs JWKS over HTTP.
    key_source: Callable[[FastAPI], KeySource] | None = None
    # Service-specific resources (peer clients, event relay) living as long as the app.
    resources: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None
    version: str = "1.0.0"
    extra: dict[str, Any] = field(default_factory=dict)


def create_service_app(
    spec: ServiceSpec, settings: ServiceSettings, *, http_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """`http_transport` lets tests route service-to-service calls in-process."""
    configure_logging(json=settings.log_json, level=settings.log_level)
    expected_head = head_revision(spec.name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.database = Database(settings, application_name=f"learncity-{spec.name}")
        app.state.http = new_http_client(settings, http_transport)
        keys = spec.key_source(app) if spec.key_source else RemoteJwks(settings, app.state.http)
        app.state.token_verifier = TokenVerifier(settings, keys)
        try:
            if spec.resources is None:
                yield
            else:
                async with spec.resources(app):
                    yield
        finally:
            await app.state.http.aclose()
            await app.state.database.dispose()

    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version=spec.version,
        lifespan=lifespan,
        openapi_tags=list(spec.openapi_tags),
        separate_input_output_schemas=True,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(InputGuardMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, service=spec.name)
    for router in spec.routers:
        app.include_router(router)

    _install_docs(app, spec)

    @app.get("/healthz", tags=["health"], summary="Liveness", operation_id=f"{spec.name}_healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": spec.name}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Readiness: database reachable and migrations at head",
        operation_id=f"{spec.name}_readyz",
        responses={503: {"description": "Not ready"}},
    )
    async def readyz() -> JSONResponse:
        database: Database = app.state.database
        try:
            async with database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            revision = await current_revision(database.engine, spec.name)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with its reason
            return problem_response(503, f"database unreachable: {type(exc).__name__}", headers={"Retry-After": "2"})
        if revision != expected_head:
            return problem_response(
                503, f"migrations not at head (at {revision}, head {expected_head})", headers={"Retry-After": "5"}
            )
        return JSONResponse({"status": "ready", "service": spec.name, "revision": revision})

    return app


def _install_docs(app: FastAPI, spec: ServiceSpec) -> None:
    """Docs at `/docs` (own port) and at `/docs/<service>` (unique, so the gateway routes it by path)."""
    named_docs, named_spec = docs_paths(spec.name)

    @app.get(named_spec, include_in_schema=False)
    async def named_openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    def swagger(openapi_url: str) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{spec.title} API",
            init_oauth={"usePkceWithAuthorizationCodeGrant": False},
            swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True},
        )

    @app.get("/docs", include_in_schema=False)
    async def own_docs() -> HTMLResponse:
        return swagger("/openapi.json")

    @app.get(named_docs, include_in_schema=False)
    async def gateway_docs() -> HTMLResponse:
        return swagger(named_spec)
