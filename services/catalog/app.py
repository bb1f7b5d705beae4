"""The catalog service: learning sites, series, activities and their sessions; walking-distance search and
15-minute coverage."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.catalog.activities.endpoints import router as activities_router
from services.catalog.audit.endpoints import router as audit_router
from services.catalog.availability.service import apply_availability_changed
from services.catalog.coverage.endpoints import router as coverage_router
from services.catalog.districts.endpoints import router as districts_router
from services.catalog.internal.endpoints import router as internal_router
from services.catalog.models import SCHEMA, event_tables
from services.catalog.search.endpoints import router as search_router
from services.catalog.series.endpoints import router as series_router
from services.catalog.sessions.endpoints import router as sessions_router
from services.catalog.settings import CatalogSettings
from services.catalog.sites.endpoints import router as sites_router
from shared.app import ServiceSpec, create_service_app
from shared.driver import driver_pool
from shared.events.inbox import inbox_router
from shared.events.wiring import service_events

DESCRIPTION = (
    "What there is to learn in the city, and where: learning sites (libraries, museums, theatres, cinemas, "
    "rural cultural halls, community centres), activities with multilingual titles, their bookable sessions "
    "(one-off or recurring by RRULE) and series such as the West Lake Reading Festival. "
    "Search finds upcoming sessions within a walk of a point (straight line at 75 m per minute: "
    "walk_minutes = ceil(distance_m / 75)); coverage shows how much of an area (or of each district, loaded "
    "by operators as GeoJSON polygons) is within a walk of a site, as JSON, GeoJSON or an SVG map. "
    "Reads are open to everyone; writes need a role in the owning or hosting organization (or the platform "
    "operator role). Free seats come from the booking service's `availability.changed` events; sessions "
    "reach booking as `session.scheduled`, `session.updated` and `session.cancelled` events."
)


def create_app(
    settings: CatalogSettings | None = None, *, http_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or CatalogSettings()

    @asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        handlers = {"availability.changed": apply_availability_changed}
        async with (
            driver_pool(app.state, settings, application_name="learncity-catalog-search"),
            service_events(app, producer=SCHEMA, tables=event_tables, handlers=handlers),
        ):
            yield

    spec = ServiceSpec(
        name=SCHEMA,
        title="Learning City: catalog",
        description=DESCRIPTION,
        routers=[
            sites_router,
            audit_router,  # before activities_router: `/v1/activities/audit` is no `/{activity_id}`
            activities_router,
            sessions_router,
            series_router,
            search_router,
            coverage_router,
            districts_router,
            internal_router,
            inbox_router(),
        ],
        openapi_tags=[
            {"name": "sites", "description": "Learning sites: where activities take place"},
            {"name": "activities", "description": "Courses, workshops, lectures, readings, screenings and more"},
            {"name": "sessions", "description": "Bookable occurrences of an activity"},
            {"name": "series", "description": "Festivals, programmes and courses grouping activities"},
            {"name": "search", "description": "Upcoming sessions within a walk"},
            {
                "name": "coverage",
                "description": "The 15-minute cultural circle: share of an area near a site; districts as shapes, "
                "coverage per district as JSON, GeoJSON or an SVG map",
            },
            {"name": "audit", "description": "Who changed or cancelled what, when: staff and operator actions"},
            {"name": "health", "description": "Liveness and readiness"},
        ],
        resources=resources,
    )
    return create_service_app(spec, settings, http_transport=http_transport)
