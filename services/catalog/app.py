"""The catalog service."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.catalog.models import SCHEMA, event_tables
from services.catalog.settings import CatalogSettings
from shared.app import ServiceSpec, create_service_app
from shared.events.inbox import inbox_router
from shared.events.wiring import service_events


def create_app(
    settings: CatalogSettings | None = None, *, http_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or CatalogSettings()

    @asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        async with service_events(app, producer=SCHEMA, tables=event_tables, handlers={}):
            yield

    spec = ServiceSpec(
        name=SCHEMA,
        title="Learning City: catalog",
        description="",
        routers=[inbox_router()],
        openapi_tags=[{"name": "health", "description": "Liveness and readiness"}],
        resources=resources,
    )
    return create_service_app(spec, settings, http_transport=http_transport)
