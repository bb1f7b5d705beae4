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
from shared.events.schemas import BookingCause, BookingChanged

BOOKINGS_ENTERED = ("learncity_bookings_total", "Bookings by the status they entered", ["status"])
BOOKING_EVENT_TYPES = {
    "confirmed": "booking.confirmed",
    "waitlisted": "booking.waitlisted",
    "cancelled": "booking.cancelled",
    "no_show": "booking.no_show",
}


async def availability_changed(session: AsyncSession, outbox: Outbox, figures: Figures) -> None:
    await outbox.emit(session, "availability.changed", figures.session_id, figures.payload())


def booking_changed(booking: Any, cause: BookingCause) -> BookingChanged:
    """The payload of `booking.<status>` for a booking (a row or a `BookingOut`) that entered its status:
    a confirmed one carries its check-in code, a waitlisted one its place in line (`waitlist_position`)."""
    return BookingChanged(
        booking_id=booking.id,
        session_id=booking.session_id,
        person_id=booking.person_id,
        organization_id=booking.organization_id,
        seats=booking.seats,
        status=booking.status,
        cause=cause,
        waitlist_position=booking.waitlist_position if booking.status == "waitlisted" else None,
        checkin_code=booking.checkin_code if booking.status == "confirmed" else None,
        block_id=getattr(booking, "block_id", None),
    )


async def bookings_changed(
    session: AsyncSession, outbox: Outbox, bookings: Iterable[Any], entered: Counter, cause: BookingCause
) -> None:
    """Each booking (id, session_id, person_id, organization_id, seats, status, checkin_code, and
    waitlist_position when waitlisted) entered its status because of `cause`: counted in
    `learncity_bookings_total{status}` (`entered`) and told as `booking.<status>` to its subscribers
    (nothing is written while nobody subscribes)."""
    for booking in bookings:
        entered.labels(str(booking.status)).inc()
        event_type = BOOKING_EVENT_TYPES[booking.status]
        if outbox.subscribers_of(event_type):
            await outbox.emit(session, event_type, booking.id, booking_changed(booking, cause))


# The booking statements write their outbox rows inside the one statement: the same rows `Outbox.emit`
# writes (sequence per aggregate, one row per subscriber, NOTIFY at commit), as SQL, because emitting
# through `Outbox.emit` costs three more round trips and about a millisecond of statement building per
# booking. Their ids come from PostgreSQL 18's `uuidv7()` (time-ordered, like `new_id`): a random draw in
# Python is a syscall that lets the token-checking threads take the GIL mid-request.
# `tests/booking/test_publishing.py` pins them to `Outbox.emit`'s.


def _outbox_ctes(name: str, *, event_type: str, source: str, aggregate: str, subscribers: str, payload: str) -> str:
    """CTEs `<name>_sequence`, `<name>_event` and `<name>_events` writing `event_type` for the one row of CTE
    `source` (or nothing without one): the aggregate's next sequence, one event id, and a row per subscriber
    of the text[] bind `subscribers` with the JSON `payload` (SQL over `source`). Like `Outbox.emit`, nothing
    at all (not even a sequence) while nobody subscribes."""
    return f""", {name}_sequence AS (
        INSERT INTO booking.outbox_sequences AS q (aggregate_id, last_sequence)
        SELECT {source}.{aggregate}, 1 FROM {source} WHERE cardinality(CAST(:{subscribers} AS text[])) > 0
        ON CONFLICT (aggregate_id) DO UPDATE SET last_sequence = q.last_sequence + 1
        RETURNING last_sequence
    ), {name}_event AS (
        SELECT uuidv7() AS event_id
    ), {name}_events AS (
        INSERT INTO booking.outbox (id, event_id, subscriber, type, aggregate_id, sequence, occurred_at, payload)
        SELECT uuidv7(), {name}_event.event_id, delivery.subscriber, '{event_type}', {source}.{aggregate},
            {name}_sequence.last_sequence, :now, {payload}
        FROM {source}, {name}_sequence, {name}_event,
            unnest(CAST(:{subscribers} AS text[])) AS delivery(subscriber)
        RETURNING id
    )"""


# `availability.changed`, as `Figures.payload()` makes it. Expects a CTE `figures` (one row or none) with
# session_id, capacity, confirmed_seats, waitlist_length, accessible_capacity, accessible_confirmed,
# online_capacity, online_confirmed.
AVAILABILITY_OUTBOX_CTES = _outbox_ctes(
    "availability",
    event_type="availability.changed",
    source="figures",
    aggregate="session_id",
    subscribers="subscribers",
    payload="""jsonb_build_object(
                'session_id', figures.session_id, 'capacity', figures.capacity,
                'confirmed_seats', figures.confirmed_seats,
                'seats_available',
                    GREATEST(figures.capacity - figures.accessible_capacity - figures.confirmed_seats, 0),
                'waitlist_length', figures.waitlist_length,
                'accessible_capacity', figures.accessible_capacity,
                'accessible_available', GREATEST(figures.accessible_capacity - figures.accessible_confirmed, 0),
                'online_capacity', figures.online_capacity,
                'online_available', GREATEST(figures.online_capacity - figures.online_confirmed, 0))""",
)
AVAILABILITY_OUTBOX_BINDS = (
    bindparam("subscribers", type_=ARRAY(String)),
    bindparam("channel", type_=String),
)
# `booking.confirmed` of a new booking (cause `booked`), as `booking_changed` makes it. Expects a CTE
# `booked` (the booking just confirmed, one row or none) with id, session_id, person_id, organization_id,
# seats, checkin_code.
CONFIRMED_OUTBOX_CTES = _outbox_ctes(
    "confirmed",
    event_type="booking.confirmed",
    source="booked",
    aggregate="id",
    subscribers="confirmed_subscribers",
    payload="""jsonb_build_object(
                'booking_id', booked.id, 'session_id', booked.session_id, 'person_id', booked.person_id,
                'organization_id', booked.organization_id, 'seats', booked.seats, 'status', 'confirmed',
                'cause', 'booked', 'waitlist_position', NULL, 'checkin_code', booked.checkin_code,
                'block_id', NULL)""",
)
CONFIRMED_OUTBOX_BINDS = (bindparam("confirmed_subscribers", type_=ARRAY(String)),)


def outbox_notice(*events: str) -> str:
    """The CTE `outbox_notice` that wakes the relay when the CTEs named `events` wrote outbox rows. Only when
    no event is already due: then the relay is idle and this wakes it. While events are due the relay is at
    work and looks again after its round (`Relay.run_forever`), and a NOTIFY would serialize every
    booking's commit on PostgreSQL's notify lock (held through the commit's flush).
    A CTE without writes runs only when read: a statement reads it through `OUTBOX_NOTICE_READ`."""
    written = " OR ".join(f"EXISTS (SELECT FROM {name})" for name in events)
    return f""", outbox_notice AS (
        SELECT pg_notify(:channel, '') WHERE ({written})
            AND NOT EXISTS (SELECT FROM booking.outbox WHERE status = 'pending' AND next_attempt_at <= :now)
    )"""


OUTBOX_NOTICE_READ = "0 * (SELECT count(*) FROM outbox_notice)"


@dataclass(frozen=True, slots=True)
class OutboxRows:
    """Who receives the events a booking statement writes as SQL (from the outbox's subscriptions):
    `availability.changed` and a new booking's `booking.confirmed`; and the NOTIFY channel."""

    subscribers: tuple[str, ...]
    confirmed_subscribers: tuple[str, ...]
    channel: str

    @classmethod
    def of(cls, outbox: Outbox) -> "OutboxRows":
        return cls(
            tuple(outbox.subscribers_of("availability.changed")),
            tuple(outbox.subscribers_of(BOOKING_EVENT_TYPES["confirmed"])),
            notify_channel(SCHEMA),
        )

    def params(self) -> dict[str, Any]:
        return {
            "subscribers": list(self.subscribers),
            "confirmed_subscribers": list(self.confirmed_subscribers),
            "channel": self.channel,
        }
