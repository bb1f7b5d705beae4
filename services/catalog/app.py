"""The catalog service."""

import httpx
from fastapi import FastAPI

from services.catalog.settings import CatalogSettings
from shared.app import ServiceSpec, create_service_app


def create_app(
    settings: CatalogSettings | None = None, *, http_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or CatalogSettings()
    spec = ServiceSpec(
        name="catalog",
        title="Learning City: catalog",
        description="",
        routers=[],
        openapi_tags=[{"name": "health", "description": "Liveness and readiness"}],
    )
    return create_service_app(spec, settings, http_transport=http_transport)
