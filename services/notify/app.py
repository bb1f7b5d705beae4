"""The notify service: tells people what happened to their bookings (in-app inbox and email), reminds them
before their sessions, and keeps their calendar feed."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI

from services.notify.audit.endpoints import router as audit_router
from services.notify.calendar.endpoints import router as calendar_router
from services.notify.context import NotifyContext
from services.notify.events import event_handlers
from services.notify.mail_queue.repository import MAIL_CHANNEL
from services.notify.mail_queue.worker import MailQueue
from services.notify.models import SCHEMA, event_tables
from services.notify.notifications.endpoints import router as notifications_router
from services.notify.people.endpoints import router as people_router
from services.notify.preferences.endpoints import router as preferences_router
from services.notify.reminders.worker import ReminderWorker
from services.notify.settings import NotifySettings
from services.notify.workers import listen, run_forever
from shared.app import ServiceSpec, create_service_app
from shared.db import driver_url
from shared.events.inbox import inbox_router
from shared.events.wiring import service_events
from shared.tasks import running

DESCRIPTION = (
    "Tells people what happened to their bookings and sessions: booking confirmed (with the check-in QR "
    "code), waitlisted, promoted from the waitlist, cancelled; a session moved or cancelled by its host; "
    "and reminders before each confirmed session (by default 24 hours and 2 hours before). Every notice "
    "lands in the in-app inbox and, unless turned off, goes by email in the person's language (zh-CN or "
    "en) with the booking's .ics attached. Each notice is made once per person and cause, whatever the "
    "event redelivery. A secret, rotatable calendar feed holds each person's confirmed sessions. An "
    "organization's invitation is mailed once to the invited address, with its single-use link. notify learns "
    "from `booking.*`, `session.*`, `invitation.created` and `person.erased` events."
)


def create_app(
    settings: NotifySettings | None = None, *, http_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or NotifySettings()

    @asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        app.state.notify = context = NotifyContext.build(settings, app.state.http)
        app.state.reminders = reminders = ReminderWorker(app.state.database, context)
        app.state.mail_queue = mail_queue = MailQueue(app.state.database, settings)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(
                service_events(app, producer=SCHEMA, tables=event_tables, handlers=event_handlers(context))
            )
            if settings.workers_enabled:
                poll = settings.worker_poll_interval_s
                loops = [
                    run_forever("reminders", reminders.run_once, batch_size=reminders.batch_size, poll_interval_s=poll)
                ]
                if settings.mail_enabled:
                    mail_wake = asyncio.Event()
                    loops += [
                        run_forever(
                            "mail",
                            mail_queue.run_once,
                            batch_size=mail_queue.batch_size,
                            poll_interval_s=poll,
                            wake=mail_wake,
                        ),
                        listen(driver_url(settings.database_url), MAIL_CHANNEL, mail_wake),
                    ]
                await stack.enter_async_context(running(*loops))
            yield

    spec = ServiceSpec(
        name=SCHEMA,
        title="Learning City: notify",
        description=DESCRIPTION,
        routers=[
            audit_router,
            preferences_router,
            notifications_router,
            calendar_router,
            people_router,
            inbox_router(),
        ],
        openapi_tags=[
            {"name": "notifications", "description": "The in-app inbox and notice preferences"},
            {"name": "calendar", "description": "Personal iCalendar feeds"},
            {"name": "audit", "description": "Operator actions on notify: dead letters queued again"},
            {"name": "health", "description": "Liveness and readiness"},
        ],
        resources=resources,
    )
    return create_service_app(spec, settings, http_transport=http_transport)
