"""The booking service: seats without overbooking, a FIFO waitlist, idempotent requests, check-in and
lifelong learning records."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.booking.attendance.service import NoShowSweep
from services.booking.attendance.worker import no_show_sweeper
from services.booking.audit.endpoints import router as audit_router
from services.booking.availability.endpoints import router as availability_router
from services.booking.bookings.decisions import booking_queues
from services.booking.bookings.endpoints import router as bookings_router
from services.booking.checkins.endpoints import router as checkins_router
from services.booking.inventory.service import session_event_handler
from services.booking.janitor import janitor
from services.booking.learning_records.endpoints import router as learning_records_router
from services.booking.lines.endpoints import router as lines_router
from services.booking.lines.service import membership_handler
from services.booking.models import SCHEMA, event_tables
from services.booking.participation.endpoints import router as participation_router
from services.booking.participation.tallies import tallier
from services.booking.people.endpoints import router as people_router
from services.booking.people.service import erasure_handler
from services.booking.places.service import site_changed_handler
from services.booking.publishing import BOOKINGS_ENTERED
from services.booking.settings import BookingSettings
from shared.app import ServiceSpec, create_service_app
from shared.driver import driver_pool
from shared.events.inbox import inbox_router
from shared.events.outbox import Outbox
from shared.events.wiring import service_events

SESSION_EVENTS = ("session.scheduled", "session.updated", "session.cancelled")


def create_app(
    settings: BookingSettings | None = None, *, http_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or BookingSettings()

    @asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        def outbox() -> Outbox:
            current: Outbox = app.state.outbox
            return current

        entered = app.state.bookings_entered
        handlers = dict.fromkeys(SESSION_EVENTS, session_event_handler(outbox, entered))
        handlers["person.erased"] = erasure_handler(outbox, entered)
        handlers["membership.changed"] = membership_handler(outbox, entered)
        handlers["site.changed"] = site_changed_handler
        async with (
            driver_pool(app.state, settings, application_name="learncity-booking-batches"),
            booking_queues(app.state, settings),
            service_events(app, producer=SCHEMA, tables=event_tables, handlers=handlers),
            janitor(app.state.database, settings.janitor_interval_s),
            no_show_sweeper(
                NoShowSweep(app.state.database, app.state.outbox, entered, settings), settings.no_show_sweep_interval_s
            ),
            tallier(app.state.database, settings.tally_interval_s),
        ):
            yield

    spec = ServiceSpec(
        name=SCHEMA,
        title="Learning City: booking",
        description="Book seats of learning sessions without overbooking, whatever the concurrency; a first "
        "come, first served waitlist; idempotent booking requests; check-in at the door with an unguessable "
        "code; and the lifelong learning record each check-in adds to. Sessions come from the catalog "
        "(`session.*` events, or asked on a miss); seat figures go back as `availability.changed`, and every "
        "booking change goes to notify as `booking.*`. A person's erasure (`person.erased`) cancels their "
        "bookings and keeps only aggregates without their identity; a member leaving an organization "
        "(`membership.changed`) gives the seats it named them to back to its bookings. Booking keeps each site's kind "
        "and district (`site.changed`), so operators see participation by district, urban/rural, site kind, "
        "activity kind and month.",
        routers=[
            audit_router,  # before bookings_router: `/v1/bookings/audit` is no `/{booking_id}`
            bookings_router,
            lines_router,
            availability_router,
            checkins_router,
            learning_records_router,
            participation_router,
            people_router,
            inbox_router(),
        ],
        openapi_tags=[
            {"name": "bookings", "description": "Seats, the waitlist and cancellations"},
            {"name": "availability", "description": "Seat figures of a session"},
            {"name": "checkins", "description": "Check-in at the door by host staff"},
            {"name": "learning-records", "description": "Minutes of learning, per person and per organization"},
            {"name": "audit", "description": "Who checked in or cancelled what, when: staff and operator actions"},
            {"name": "health", "description": "Liveness and readiness"},
        ],
        resources=resources,
    )
    app = create_service_app(spec, settings, http_transport=http_transport)
    app.state.bookings_entered = app.state.metrics.counter(*BOOKINGS_ENTERED)
    return app
