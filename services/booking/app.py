"""The booking service."""

import httpx
from fastapi import FastAPI

from services.booking.settings import BookingSettings
from shared.app import ServiceSpec, create_service_app


def create_app(
    settings: BookingSettings | None = None, *, http_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or BookingSettings()
    spec = ServiceSpec(
        name="booking",
        title="Learning City: booking",
        description="",
        routers=[],
        openapi_tags=[{"name": "health", "description": "Liveness and readiness"}],
    )
    return create_service_app(spec, settings, http_transport=http_transport)
