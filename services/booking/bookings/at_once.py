"""The uncontended booking, decided in one statement: most requests book a session nobody else is booking
from this process at that moment, with seats free and nobody waiting. For them the batch path's
transaction (BEGIN, the row lock, the claims, the reads, the writes, COMMIT: about ten round trips) costs
more than the decision: `bench/booking_bench.py` measured 598 bookings/s with the batch path alone against
1,009 with this statement in front of it, on many sessions.

One statement, run on its own (no transaction block): count the request against the person's rate window
(after trying the key's advisory lock), take the seats with a conditional UPDATE (bookable, seats free,
nobody waiting, the person below their active-bookings limit, the key unused), insert the confirmed
booking, store the key's response, and write `availability.changed` and `booking.confirmed` to the outbox.
Unless it booked cleanly it raises SQLSTATE LC001 (`booking.undo_statement`), which undoes all of it as a
rollback would, and the request goes to its session's batch (`bookings.decisions`), which decides
everything else: a full session, the waitlist, replays, limits, organizations, other seat pools, unknown
sessions. So every refusal and every contended request is decided in one place; this statement only ever
confirms.

Its reads share the statement's snapshot, taken before it may wait for the person's rate row: if another
request of the same person committed meanwhile (`requests_in_snapshot` then differs), its reads may be
stale, and it undoes itself too.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from pydantic_core import to_jsonable_python
from sqlalchemy import ARRAY, BigInteger, DateTime, Integer, SmallInteger, String, Uuid, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from services.booking.bookings.repository import new_checkin_code
from services.booking.bookings.schemas import BookingCreate
from services.booking.idempotency import service as idempotency
from services.booking.idempotency.repository import replace_expired_record
from services.booking.inventory.repository import FIGURE_NAMES, SeatPool
from services.booking.limits import service as limits
from services.booking.limits.repository import active_bookings_held
from services.booking.models import SCHEMA
from services.booking.publishing import BOOKING_EVENT_TYPES
from services.booking.settings import BookingSettings
from shared.db import utcnow
from shared.driver import DriverPool, DriverStatement
from shared.errors import ServiceUnavailable
from shared.events.outbox import Outbox, notify_channel
from shared.ids import new_id

logger = structlog.get_logger(__name__)

UNDO_SQLSTATE = "LC001"  # raised by booking.undo_statement(reason), see its migration

# Counts one request of :person_id in its current fixed window (a new one once :window_start has passed
# it), after trying the advisory lock :lock_id (nothing is counted while another transaction holds it).
# The upsert's row lock serializes one person's bookings until they commit.
COUNT_REQUEST_SQL = """
    INSERT INTO booking.rate_windows AS r (person_id, window_started_at, requests)
    SELECT :person_id, :now, 1 WHERE :lock_id IS NULL OR pg_try_advisory_xact_lock(:lock_id)
    ON CONFLICT (person_id) DO UPDATE SET
        requests = CASE WHEN r.window_started_at > :window_start THEN r.requests + 1 ELSE 1 END,
        window_started_at = CASE WHEN r.window_started_at > :window_start THEN r.window_started_at ELSE :now END
    RETURNING r.requests, r.window_started_at"""
# What the statement returns of the session's row: its figures (see `Figures`).
_FIGURES_RETURNED = ", ".join(FIGURE_NAMES)
# The standard pool's waitlisted bookings, on the inventory row (the other pools keep count of theirs).
_STANDARD_WAITING = "waitlist_length - accessible_waitlist - online_waitlist"


# The SQL twin of `inventory.service.refusal_reason(...) is None`: scheduled, not started, window open.
_BOOKABLE = """status = 'scheduled' AND starts_at > :now
    AND (booking_opens_at IS NULL OR booking_opens_at <= :now)
    AND (booking_closes_at IS NULL OR booking_closes_at > :now)"""
_ACTIVE_HELD = active_bookings_held(":person_id", ":now", ":max_active")
# The person's limit: :max_active, or less while their no-shows restrict them (see `Restriction`).
_MAX_ACTIVE = """LEAST(:max_active, COALESCE((SELECT max_active FROM booking.restrictions
                WHERE person_id = :person_id AND restricted_until > :now), :max_active))"""


# Booking's outbox rows written as SQL inside the statement: the same rows `Outbox.emit` writes (sequence per
# aggregate, one row per subscriber, NOTIFY at commit), since emitting through `Outbox.emit` costs three
# more round trips. Their ids come from PostgreSQL 18's `uuidv7()` (time-ordered, like `new_id`).
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


_CONFIRMED_OUTBOX = (
    AVAILABILITY_OUTBOX_CTES + CONFIRMED_OUTBOX_CTES + outbox_notice("availability_events", "confirmed_events")
)
# Stores the key's record and response; an expired record of the key is replaced.
_REMEMBER = f"""remembered AS (
        INSERT INTO booking.idempotency_keys AS k
            (person_id, key, request_hash, response_status, response_body, created_at, expires_at)
        SELECT :person_id, :key, :request_hash, :status, :body, :now, :expires_at FROM booked
        {replace_expired_record(":now")}
        RETURNING k.person_id
    )"""
_CONFIRM_AT_ONCE_SQL = f"""
    WITH admitted AS ({COUNT_REQUEST_SQL}
    ), figures AS (
        UPDATE booking.inventory SET confirmed_seats = confirmed_seats + :seats, updated_at = :now
        WHERE session_id = :session_id AND {_BOOKABLE}
            AND EXISTS (SELECT FROM admitted WHERE requests <= :rate_limit)
            AND {_STANDARD_WAITING} = 0 AND confirmed_seats + :seats <= capacity - accessible_capacity
            AND {_ACTIVE_HELD} < {_MAX_ACTIVE}
            AND NOT EXISTS (SELECT FROM booking.idempotency_keys
                            WHERE person_id = :person_id AND key = :key AND expires_at > :now)
        RETURNING {_FIGURES_RETURNED}, ends_at
    ), booked AS (
        INSERT INTO booking.bookings
            (id, session_id, person_id, organization_id, seats, status, checkin_code, confirmed_at, created_at,
             session_ends_at)
        SELECT :booking_id, session_id, :person_id, :organization_id, :seats, 'confirmed', :checkin_code, :now, :now,
            ends_at
        FROM figures
        RETURNING id, session_id, person_id, organization_id, seats, checkin_code
    ), {_REMEMBER}{_CONFIRMED_OUTBOX}, outcome AS (
        SELECT admitted.requests, admitted.window_started_at,
            (SELECT requests FROM booking.rate_windows
             WHERE person_id = :person_id AND window_started_at > :window_start) AS requests_in_snapshot,
            figures.*,
            (SELECT count(*) FROM remembered) AS remembered,
            (SELECT count(*) FROM availability_events) + {OUTBOX_NOTICE_READ} AS events,
            (SELECT count(*) FROM confirmed_events) AS confirmed_events
        FROM (SELECT) AS one LEFT JOIN admitted ON true LEFT JOIN figures ON true
    )
    SELECT *, CASE WHEN session_id IS NULL OR remembered <> 1 OR requests - 1 <> COALESCE(requests_in_snapshot, 0)
        THEN booking.undo_statement('not booked at once') END AS undo
    FROM outcome
    """
_CONFIRM_AT_ONCE = DriverStatement.of(
    text(_CONFIRM_AT_ONCE_SQL).bindparams(
        bindparam("booking_id", type_=Uuid),
        bindparam("session_id", type_=Uuid),
        bindparam("person_id", type_=Uuid),
        bindparam("organization_id", type_=Uuid),
        bindparam("seats", type_=SmallInteger),
        bindparam("key", type_=String),
        bindparam("request_hash", type_=String),
        bindparam("status", type_=SmallInteger),
        bindparam("body", type_=JSONB),
        bindparam("now", type_=DateTime(timezone=True)),
        bindparam("expires_at", type_=DateTime(timezone=True)),
        bindparam("checkin_code", type_=String),
        bindparam("max_active", type_=Integer),
        bindparam("rate_limit", type_=Integer),
        bindparam("window_start", type_=DateTime(timezone=True)),
        bindparam("lock_id", type_=BigInteger),
        *AVAILABILITY_OUTBOX_BINDS,
        *CONFIRMED_OUTBOX_BINDS,
    )
)


def eligible(body: BookingCreate) -> bool:
    """Whether the statement may decide the request: a person's own standard seats (an organization's
    coordinator role is asked of orgs, and the other pools are decided under the session's row lock)."""
    return body.organization_id is None and body.seat == SeatPool.standard


@dataclass(frozen=True, slots=True)
class Subscribers:
    """Who receives the statement's events (from the outbox's subscriptions), and the NOTIFY channel."""

    availability: list[str]
    confirmed: list[str]
    channel: str

    @classmethod
    def of(cls, outbox: Outbox) -> "Subscribers":
        return cls(
            outbox.subscribers_of("availability.changed"),
            outbox.subscribers_of(BOOKING_EVENT_TYPES["confirmed"]),
            notify_channel(SCHEMA),
        )


def confirmed_body(booking_id: Any, body: BookingCreate, person_id: Any, checkin_code: str, now: Any) -> dict[str, Any]:
    """The 201 body of a booking confirmed here, as `BookingOut.model_dump(mode="json")` gives it with its unset
    optional fields left out (built directly: a model and its dump cost ~2% of a booking; a test pins the
    two to each other)."""
    return {
        "id": str(booking_id),
        "session_id": str(body.session_id),
        "person_id": str(person_id),
        "organization_id": None,
        "seats": body.seats,
        "status": "confirmed",
        "checkin_code": checkin_code,
        "created_at": to_jsonable_python(now),
    }


async def book_at_once(
    state: Any, person_id: UUID, body: BookingCreate, key: str, fingerprint: str
) -> idempotency.StoredResponse | None:
    """The 201 of a booking confirmed in one statement (committed), or None: nothing happened, and the
    request's batch decides it (a failure too: the batch answers it, 503 when the database is unreachable).
    `state` is the app's: its settings, driver pool, outbox and metrics."""
    settings: BookingSettings = state.settings
    now = utcnow()
    booking_id, checkin_code = new_id(), new_checkin_code()
    response = confirmed_body(booking_id, body, person_id, checkin_code, now)
    subscribers = Subscribers.of(state.outbox)
    ttl: timedelta = settings.idempotency_ttl
    params = {
        "booking_id": booking_id,
        "session_id": body.session_id,
        "person_id": person_id,
        "organization_id": None,
        "seats": body.seats,
        "key": key,
        "request_hash": fingerprint,
        "status": 201,
        "body": response,
        "now": now,
        "expires_at": now + ttl,
        "checkin_code": checkin_code,
        "max_active": settings.max_active_per_person,
        "rate_limit": settings.rate_per_minute,
        "window_start": now - limits.RATE_WINDOW,
        "lock_id": idempotency.lock_id(person_id, key),
        "subscribers": subscribers.availability,
        "confirmed_subscribers": subscribers.confirmed,
        "channel": subscribers.channel,
    }
    driver: DriverPool = state.driver_pool
    try:
        async with driver.connection() as connection:
            await connection.fetchrow(_CONFIRM_AT_ONCE.sql, *_CONFIRM_AT_ONCE.arguments(params))
    except asyncpg.UniqueViolationError:
        return None  # an active booking of the person's for the session: the batch says so
    except asyncpg.PostgresError as exc:
        if exc.sqlstate != UNDO_SQLSTATE:
            logger.warning("booking_at_once_failed", sqlstate=exc.sqlstate)
        return None
    except (asyncpg.InterfaceError, OSError, ServiceUnavailable):
        return None  # the connection or the database is gone
    state.bookings_entered.labels("confirmed").inc()
    return idempotency.StoredResponse(201, response)
