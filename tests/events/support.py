"""Plumbing of the event tests: a subscriber app on the booking schema, a transport that can fail like a
network, and relays over the catalog schema's outbox."""

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.models import event_tables as booking_tables
from services.booking.settings import BookingSettings
from services.catalog.models import event_tables as catalog_tables
from shared.db import Database
from shared.errors import install_error_handlers
from shared.events.inbox import Handler, Inbox, SetHandler, inbox_router
from shared.events.relay import Relay, RelayPolicy
from shared.events.schemas import AvailabilityChanged, EventEnvelope, SessionSnapshot
from shared.ids import new_id

SECRET = "test-internal-secret"


def snapshot(session_id: UUID, capacity: int = 10) -> SessionSnapshot:
    now = datetime.now(UTC)
    return SessionSnapshot(
        session_id=session_id,
        activity_id=new_id(),
        host_org_id=new_id(),
        site_id=None,
        title={"en": "Story time"},
        kind="reading",
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=1),
        capacity=capacity,
        status="scheduled",
        booking_opens_at=None,
        booking_closes_at=None,
    )


def figures(session_id: UUID, confirmed: int) -> AvailabilityChanged:
    return AvailabilityChanged(
        session_id=session_id,
        capacity=100,
        confirmed_seats=confirmed,
        seats_available=100 - confirmed,
        waitlist_length=0,
    )


class Consumer:
    """A subscriber app on the booking schema whose handlers record what they applied, and in which
    transaction: `session.updated` one event at a time, `availability.changed` set-based (`SetHandler`).
    A capacity (session.updated) or confirmed seat count (availability.changed) equal to
    `poison_capacity` makes the handler raise."""

    def __init__(self, database: Database) -> None:
        self.applied: list[tuple[UUID, int]] = []
        self.received: Counter[UUID] = Counter()
        self.transactions: dict[UUID, int] = {}  # event id -> the transaction that applied it
        self.set_calls: list[int] = []  # events per `apply_many` call
        self.poison_capacity = -1
        self.slow_s = 0.0
        self.app = FastAPI()
        install_error_handlers(self.app)
        self.app.state.database = database
        self.app.state.settings = BookingSettings(internal_secret=SECRET, database_url="unused")
        handlers: dict[str, Handler] = {
            "session.updated": self._apply,
            "availability.changed": SetHandler(self._apply_many),
        }
        self.inbox = self.app.state.inbox = Inbox(booking_tables, handlers)
        self.app.include_router(inbox_router())

    async def _apply(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        self.received[envelope.id] += 1
        if self.slow_s:
            await asyncio.sleep(self.slow_s)
        if SessionSnapshot.model_validate(envelope.payload).capacity == self.poison_capacity:
            raise RuntimeError("poison")
        await self._record(session, [envelope])

    async def _apply_many(self, session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
        self.set_calls.append(len(envelopes))
        for envelope in envelopes:
            self.received[envelope.id] += 1
            if AvailabilityChanged.model_validate(envelope.payload).confirmed_seats == self.poison_capacity:
                raise RuntimeError("poison")
        await self._record(session, envelopes)

    async def _record(self, session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
        transaction = int((await session.execute(text("SELECT pg_current_xact_id()::text"))).scalar_one())
        for envelope in envelopes:
            self.applied.append((envelope.aggregate_id, envelope.sequence))
            self.transactions[envelope.id] = transaction

    def applied_of(self, aggregate_id: UUID) -> list[int]:
        return [sequence for aggregate, sequence in self.applied if aggregate == aggregate_id]


class Switch(httpx.AsyncBaseTransport):
    """Routes to the consumer app while `up`; refuses connections while down; can die after delivering."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.up = True
        self.die_after_delivery = False
        self.delay_s = 0.0
        self.deliveries = 0  # requests answered
        self.sent: list[UUID] = []  # event ids, in the order they travelled
        self.batches: list[list[UUID]] = []  # event ids per request
        self.body_sizes: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("subscriber down", request=request)
        await asyncio.sleep(self.delay_s)
        content = await request.aread()
        response = await self.inner.handle_async_request(request)
        self.deliveries += 1
        body = json.loads(content)
        batch = [UUID(event["id"]) for event in body.get("events", [body])]
        self.sent.extend(batch)
        self.batches.append(batch)
        self.body_sizes.append(len(content))
        if self.die_after_delivery:
            raise KilledAfterDelivery
        return response


class KilledAfterDelivery(BaseException):
    """Stands in for SIGKILL between delivering and marking: nothing after it runs."""


def make_relay(database: Database, transport: Switch, **policy: Any) -> Relay:
    return Relay(
        database=database,
        tables=catalog_tables,
        producer="catalog",
        subscriber_urls={"booking": "http://booking.internal"},
        http=httpx.AsyncClient(transport=transport),
        internal_secret=SECRET,
        listen_dsn=None,
        policy=RelayPolicy(**({"backoff_base_s": 0.001, "backoff_cap_s": 0.001} | policy)),
    )
