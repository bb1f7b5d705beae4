"""The FastAPI application factory every service uses: middleware, problem details, health, auth, lifespan."""

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from shared.auth import KeySource, RemoteJwks, TokenVerifier
from shared.clients import new_http_client
from shared.db import Database
from shared.docs import OFFLINE_ASSETS
from shared.errors import install_error_handlers, problem_response
from shared.logging import configure_logging
from shared.metrics import Metrics
from shared.middleware import CorsMiddleware, InputGuardMiddleware, RequestContextMiddleware
from shared.migrations import current_revision, head_revision, known_revisions
from shared.openapi import install_problem_openapi
from shared.revocation import RevocationFeed, RevokedSubjects
from shared.settings import ServiceSettings
from shared.topology import docs_paths

logger = structlog.get_logger(__name__)


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


def create_service_app(
    spec: ServiceSpec, settings: ServiceSettings, *, http_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """`http_transport` lets tests route service-to-service calls in-process."""
    configure_logging(json=settings.log_json, level=settings.log_level)
    expected_head = head_revision(spec.name)
    known = known_revisions(spec.name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.database = Database(settings, application_name=f"learncity-{spec.name}")
        app.state.http = new_http_client(settings, http_transport)
        keys = spec.key_source(app) if spec.key_source else RemoteJwks(settings, app.state.http)
        revoked = RevokedSubjects()
        app.state.token_verifier = TokenVerifier(settings, keys, revoked)
        # Verifying with the orgs JWKS, a service learns from orgs whose tokens to refuse before they expire
        # (erased people), every `revocation_refresh_s` in the background (0: never; tests call `refresh`).
        # Orgs itself checks its own rows.
        app.state.revocation = None
        revocation_task: asyncio.Task[None] | None = None
        if spec.key_source is None:
            app.state.revocation = feed = RevocationFeed(revoked, settings, app.state.http)
            if settings.revocation_refresh_s > 0:
                revocation_task = asyncio.create_task(feed.run_forever(), name=f"{spec.name}-revocation")
        # The objects made at start-up (app, routes, schemas, models: ~140,000) move to the permanent
        # generation, so a full collection stops walking them: it took ~50 ms, a pause that every request
        # in flight would wait out (the p99 of search and booking). And young collections come every 100,000
        # allocations instead of 700: a request allocates thousands of short-lived objects, nearly all freed
        # by reference counting, and the default made the collector run several times per request (~15% of
        # a booking's CPU, measured with bench/booking_bench.py; the cost is a few MB of garbage at most).
        gc.collect()
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(100_000, 50, 100)
        try:
            if spec.resources is None:
                yield
            else:
                async with spec.resources(app):
                    yield
        finally:
            if revocation_task is not None:
                revocation_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await revocation_task
            gc.set_threshold(*thresholds)
            gc.unfreeze()
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
        # Prometheus metrics and the access log are the services' telemetry. FastAPI's OpenTelemetry hooks,
        # on by default, would look for configured providers on every request (~5% of a booking's CPU).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    install_problem_openapi(app)
    app.state.metrics = metrics = Metrics(spec.name)
    app.add_middleware(InputGuardMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(
        RequestContextMiddleware,
        service=spec.name,
        metrics=metrics,
        trust_forwarded_for=settings.trust_forwarded_for,
    )
    if settings.cors_origins:
        # Outermost, so every answer to an allowed origin carries its headers, problems included.
        app.add_middleware(CorsMiddleware, origins=settings.cors_origins)
    for router in spec.routers:
        app.include_router(router)

    _install_docs(app, spec)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        relay = getattr(app.state, "relay", None)
        if relay is not None:
            try:
                for status, count in (await relay.backlog()).items():
                    metrics.outbox.labels(status).set(count)
            except Exception:  # noqa: BLE001 - a scrape must not fail because the database blinked
                logger.warning("outbox_backlog_unavailable")
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/healthz",
        tags=["health"],
        summary="Liveness",
        operation_id=f"{spec.name}Healthz",
        responses={200: {"content": {"application/json": {"example": {"status": "ok", "service": spec.name}}}}},
    )
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": spec.name}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Readiness: database reachable and migrations at head",
        operation_id=f"{spec.name}Readyz",
        responses={
            200: {
                "description": "Ready",
                "content": {
                    "application/json": {
                        "example": {"status": "ready", "service": spec.name, "revision": "f76c79a36b67", "ahead": False}
                    }
                },
            },
            503: {"description": "Not ready"},
        },
    )
    async def readyz() -> JSONResponse:
        database: Database = app.state.database
        try:
            async with database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            revision = await current_revision(database.engine, spec.name)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with its reason
            return problem_response(503, f"database unreachable: {type(exc).__name__}", headers={"Retry-After": "2"})
        # Behind (or unmigrated) is not ready. A revision this code does not know is newer: a rolling update
        # migrated ahead of this replica, and the expand/contract discipline keeps older code working.
        if revision is None or (revision in known and revision != expected_head):
            return problem_response(
                503, f"migrations not at head (at {revision}, head {expected_head})", headers={"Retry-After": "5"}
            )
        return JSONResponse(
            {"status": "ready", "service": spec.name, "revision": revision, "ahead": revision != expected_head}
        )

    return app


def _install_docs(app: FastAPI, spec: ServiceSpec) -> None:
    """Swagger UI and ReDoc with bundled assets (no CDN: works in intranets without internet access).

    Served at `/docs` (own port) and under `/docs/<service>` (unique, so the gateway routes it by path).
    """
    named_docs, named_spec = docs_paths(spec.name)
    assets = f"{named_docs}/static"
    app.mount(assets, StaticFiles(directory=OFFLINE_ASSETS), name="docs-assets")

    @app.get(named_spec, include_in_schema=False)
    async def named_openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    def swagger(openapi_url: str) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{spec.title} API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True},
        )

    @app.get("/docs", include_in_schema=False)
    async def own_docs() -> HTMLResponse:
        return swagger("/openapi.json")

    @app.get(named_docs, include_in_schema=False)
    async def gateway_docs() -> HTMLResponse:
        return swagger(named_spec)

    @app.get(f"{named_docs}/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=named_spec,
            title=f"{spec.title} API",
            redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon.png",
            with_google_fonts=False,
        )
