"""What booking tells other services, always inside the transaction of the change it reports."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from sqlalchemy import ARRAY, String, bindparam
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.inventory.repository import Figures
from services.booking.models import SCHEMA
from shared.events.outbox import Outbox, notify_channel
from shared.events.schemas import BookingChanged

BOOKINGS_ENTERED = ("learncity_bookings_total", "Bookings by the status they entered", ["status"])
BOOKING_EVENT_TYPES = {
    "confirmed": "booking.confirmed",
    "waitlisted": "booking.waitlisted",
    "cancelled": "booking.cancelled",
}


async def availability_changed(session: AsyncSession, outbox: Outbox, figures: Figures) -> None:
    await outbox.emit(session, "availability.changed", figures.session_id, figures.payload())


async def bookings_changed(session: AsyncSession, outbox: Outbox, bookings: Iterable[Any], entered: Counter) -> None:
    """Each booking row (id, session_id, person_id, organization_id, seats, status) entered its status:
    counted in `learncity_bookings_total{status}` (`entered`) and told as `booking.<status>`.

    The events are skipped while nobody subscribes (the default): they are for future subscribers, and a
    booking request should not pay for events nobody reads."""
    for booking in bookings:
        entered.labels(str(booking.status)).inc()
        event_type = BOOKING_EVENT_TYPES[booking.status]
        if not outbox.subscribers_of(event_type):
            continue
        payload = BookingChanged(
            booking_id=booking.id,
            session_id=booking.session_id,
            person_id=booking.person_id,
            organization_id=booking.organization_id,
            seats=booking.seats,
            status=booking.status,
        )
        await outbox.emit(session, event_type, booking.id, payload)


# The fast booking path writes its `availability.changed` rows inside its one statement: the same rows
# `Outbox.emit` writes (sequence per aggregate, one row per subscriber, NOTIFY at commit), as SQL, because
# emitting through `Outbox.emit` costs three more round trips and about a millisecond of statement
# building per booking. Their ids come from PostgreSQL 18's `uuidv7()` (time-ordered, like `new_id`): a
# random draw in Python is a syscall that lets the token-checking threads take the GIL mid-request.
# `tests/booking/test_publishing.py` pins the two to each other.
# Expects a CTE `figures` (one row or none) with session_id, capacity, confirmed_seats, waitlist_length.
AVAILABILITY_OUTBOX_CTES = """, availability_sequence AS (
        INSERT INTO booking.outbox_sequences AS q (aggregate_id, last_sequence)
        SELECT session_id, 1 FROM figures
        ON CONFLICT (aggregate_id) DO UPDATE SET last_sequence = q.last_sequence + 1
        RETURNING last_sequence
    ), availability_event AS (
        SELECT uuidv7() AS event_id
    ), availability_events AS (
        INSERT INTO booking.outbox (id, event_id, subscriber, type, aggregate_id, sequence, occurred_at, payload)
        SELECT uuidv7(), availability_event.event_id, delivery.subscriber, 'availability.changed', figures.session_id,
            availability_sequence.last_sequence, :now,
            jsonb_build_object(
                'session_id', figures.session_id, 'capacity', figures.capacity,
                'confirmed_seats', figures.confirmed_seats,
                'seats_available', GREATEST(figures.capacity - figures.confirmed_seats, 0),
                'waitlist_length', figures.waitlist_length)
        FROM figures, availability_sequence, availability_event,
            unnest(CAST(:subscribers AS text[])) AS delivery(subscriber)
        RETURNING id
    ), availability_notice AS (
        -- Only when no event is already due: then the relay is idle and this wakes it. While events are due
        -- the relay is at work and looks again after its round (`Relay.run_forever`), and a NOTIFY would
        -- serialize every booking's commit on PostgreSQL's notify lock (held through the commit's flush).
        SELECT pg_notify(:channel, '') FROM (SELECT FROM availability_events LIMIT 1) AS first_event
        WHERE NOT EXISTS (SELECT FROM booking.outbox WHERE status = 'pending' AND next_attempt_at <= :now)
    )"""
AVAILABILITY_OUTBOX_COUNT = (
    "(SELECT count(*) FROM availability_events) + 0 * (SELECT count(*) FROM availability_notice)"
)
AVAILABILITY_OUTBOX_BINDS = (
    bindparam("subscribers", type_=ARRAY(String)),
    bindparam("channel", type_=String),
)


@dataclass(frozen=True, slots=True)
class OutboxRows:
    """Who receives `availability.changed` (from the outbox's subscriptions) and the NOTIFY channel."""

    subscribers: tuple[str, ...]
    channel: str

    @classmethod
    def availability(cls, outbox: Outbox) -> "OutboxRows":
        return cls(tuple(outbox.subscribers_of("availability.changed")), notify_channel(SCHEMA))

    def params(self) -> dict[str, Any]:
        return {
            "subscribers": list(self.subscribers),
            "channel": self.channel,
        }
