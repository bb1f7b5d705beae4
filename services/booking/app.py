"""The booking service."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.booking.models import SCHEMA, event_tables
from services.booking.settings import BookingSettings
from shared.app import ServiceSpec, create_service_app
from shared.events.inbox import inbox_router
from shared.events.wiring import service_events


def create_app(
    settings: BookingSettings | None = None, *, http_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or BookingSettings()

    @asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        async with service_events(app, producer=SCHEMA, tables=event_tables, handlers={}):
            yield

    spec = ServiceSpec(
        name=SCHEMA,
        title="Learning City: booking",
        description="",
        routers=[inbox_router()],
        openapi_tags=[{"name": "health", "description": "Liveness and readiness"}],
        resources=resources,
    )
    return create_service_app(spec, settings, http_transport=http_transport)
