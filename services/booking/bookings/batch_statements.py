"""The statements of one batch's transaction (`bookings.decisions`), as plain SQL on one asyncpg connection of
the driver pool: a batch runs about ten of them whatever its size, and through SQLAlchemy's session each
would cost five times the CPU (a lone request on a quiet session is a batch of one, so that is every
booking's cost). Each statement answers for the whole batch (arrays in, one row per request out)."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from services.booking.idempotency.repository import Remembered, replace_expired_record
from services.booking.inventory.repository import FIGURE_NAMES, Figures
from services.booking.limits.repository import active_bookings_held
from services.booking.lines.repository import Assignment
from shared.ids import new_id

# The session's row, locked until commit: its figures (see `Figures`), its waitlist's last sequence and what
# decides whether and how it takes bookings.
_LOCK_SESSION = f"""
    SELECT {", ".join(FIGURE_NAMES)}, waitlist_last_seq, status, starts_at, ends_at, booking_opens_at,
        booking_closes_at, mode
    FROM booking.inventory WHERE session_id = $1 FOR UPDATE"""
# Each request's Idempotency-Key lock (a transaction-level advisory lock, tried without waiting: a key in
# flight in another transaction is refused), then the requests counted in their people's rate windows (a new
# window once the current one is older than $5; $3: whether the request counts, not when it counted before).
# The people's rows are locked in one order, so batches sharing people never deadlock; they stay locked
# until commit, which serializes one person's bookings across sessions and replicas.
_CLAIM = """
    WITH asked AS MATERIALIZED (
        SELECT position, person_id, counting, pg_try_advisory_xact_lock(lock_id) AS key_free
        FROM unnest($1::uuid[], $2::bigint[], $3::boolean[])
            WITH ORDINALITY AS a(person_id, lock_id, counting, position)
    ), counted AS (
        INSERT INTO booking.rate_windows AS r (person_id, window_started_at, requests)
        SELECT person_id, $4, count(*) FILTER (WHERE counting) FROM asked WHERE key_free
        GROUP BY person_id ORDER BY person_id
        ON CONFLICT (person_id) DO UPDATE SET
            requests = CASE WHEN r.window_started_at > $5 THEN r.requests ELSE 0 END + excluded.requests,
            window_started_at = CASE WHEN r.window_started_at > $5 THEN r.window_started_at ELSE $4 END
        RETURNING r.person_id, r.requests, r.window_started_at
    )
    SELECT asked.key_free, counted.requests, counted.window_started_at
    FROM asked LEFT JOIN counted USING (person_id) ORDER BY asked.position"""
# What each request's decision depends on, read after the locks (so whatever committed before is seen): its
# key's unexpired record, its person's active bookings (confirmed or waitlisted, session not ended; their
# own and their blocks, counted up to $4, the limit) and no-show restriction.
_READ = f"""
    SELECT k.request_hash, k.response_status, k.response_body,
        {active_bookings_held("a.person_id", "$3", "$4")} AS active_bookings,
        x.max_active AS restricted_max_active, x.no_shows, x.restricted_until
    FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS a(person_id, key, position)
    LEFT JOIN booking.idempotency_keys k ON k.person_id = a.person_id AND k.key = a.key AND k.expires_at > $3
    LEFT JOIN booking.restrictions x ON x.person_id = a.person_id AND x.restricted_until > $3
    ORDER BY a.position"""
# The session's active bookings of these people ($2) or these organizations' blocks ($3).
_HOLDINGS = """
    SELECT person_id, organization_id, block_id FROM booking.bookings
    WHERE session_id = $1 AND status IN ('confirmed', 'waitlisted')
        AND (person_id = ANY($2::uuid[]) OR (organization_id = ANY($3::uuid[]) AND block_id IS NULL))"""
_STORE_FIGURES = """
    UPDATE booking.inventory SET confirmed_seats = $2, waitlist_length = $3, accessible_confirmed = $4,
        online_confirmed = $5, accessible_waitlist = $6, online_waitlist = $7, waitlist_last_seq = $8,
        updated_at = $9
    WHERE session_id = $1"""
BOOKING_COLUMNS = (
    "id",
    "session_id",
    "person_id",
    "organization_id",
    "block_id",
    "seats",
    "seat_pool",
    "status",
    "waitlist_seq",
    "checkin_code",
    "confirmed_at",
    "created_at",
    "session_ends_at",
    "pending_members",
)
_INSERT_BOOKINGS = f"""
    INSERT INTO booking.bookings ({", ".join(BOOKING_COLUMNS)})
    VALUES ({", ".join(f"${n}" for n in range(1, len(BOOKING_COLUMNS) + 1))})"""
_INSERT_ASSIGNMENTS = """
    INSERT INTO booking.line_assignments
        (id, block_id, line_id, action, person_id, previous_person_id, by_person_id, at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"""
# A new key's record; an expired record of the key is replaced.
_REMEMBER = f"""
    INSERT INTO booking.idempotency_keys AS k
        (person_id, key, request_hash, response_status, response_body, created_at, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    {replace_expired_record("$6")}"""
# The rows `Outbox.emit` writes, for events of distinct aggregates: each aggregate's next sequence, one row per
# subscriber ($2..$6: one element per row), and the NOTIFY that wakes the relay at commit. Only when no event
# is due already: then the relay is idle and this wakes it; while events are due it is at work and looks
# again after its round (`Relay.run_forever`), and a NOTIFY would serialize every batch's commit on
# PostgreSQL's notify lock (held through the commit's flush).
_EMIT = """
    WITH sequenced AS (
        INSERT INTO booking.outbox_sequences AS q (aggregate_id, last_sequence)
        SELECT aggregate_id, 1 FROM unnest($1::uuid[]) AS e(aggregate_id) ORDER BY aggregate_id
        ON CONFLICT (aggregate_id) DO UPDATE SET last_sequence = q.last_sequence + 1
        RETURNING aggregate_id, last_sequence
    ), written AS (
        INSERT INTO booking.outbox (id, event_id, subscriber, type, aggregate_id, sequence, occurred_at, payload)
        SELECT uuidv7(), r.event_id, r.subscriber, r.type, r.aggregate_id, sequenced.last_sequence, $7, r.payload::jsonb
        FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[])
            AS r(aggregate_id, event_id, subscriber, type, payload)
        JOIN sequenced USING (aggregate_id)
        RETURNING id
    )
    SELECT pg_notify($8, '') FROM (SELECT) AS once
    WHERE EXISTS (SELECT FROM written)
        AND NOT EXISTS (SELECT FROM booking.outbox WHERE status = 'pending' AND next_attempt_at <= $7)"""


@dataclass(frozen=True, slots=True)
class Claim:
    """A request's claim: whether its key was free, and its person's rate window (None when not counted)."""

    key_free: bool
    requests: int | None
    window_started_at: datetime | None


@dataclass(frozen=True, slots=True)
class Event:
    """An event for the outbox: its type, aggregate, payload (as JSON) and subscribers."""

    type: str
    aggregate_id: UUID
    payload: dict[str, Any]
    subscribers: Sequence[str]


class BatchStatements:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def lock_session(self, session_id: UUID) -> asyncpg.Record | None:
        """The session's inventory row, locked until commit; None when booking has not heard of it."""
        row: asyncpg.Record | None = await self.connection.fetchrow(_LOCK_SESSION, session_id)
        return row

    async def claim(
        self,
        people: Sequence[UUID],
        lock_ids: Sequence[int],
        counting: Sequence[bool],
        now: datetime,
        window: timedelta,
    ) -> list[Claim]:
        rows = await self.connection.fetch(_CLAIM, people, lock_ids, counting, now, now - window)
        return [Claim(row["key_free"], row["requests"], row["window_started_at"]) for row in rows]

    async def read(
        self, people: Sequence[UUID], keys: Sequence[str], now: datetime, max_active: int
    ) -> list[asyncpg.Record]:
        """Per request (`request_hash`, `response_status`, `response_body`: its key's record, or NULL;
        `active_bookings`; `restricted_max_active`, `no_shows`, `restricted_until`: a restriction, or NULL)."""
        rows: list[asyncpg.Record] = await self.connection.fetch(_READ, people, keys, now, max_active)
        return rows

    async def holdings(
        self, session_id: UUID, people: Sequence[UUID], organizations: Sequence[UUID]
    ) -> tuple[set[UUID], set[UUID]]:
        """Who of `people` holds a seat of the session (their own booking or a member line), and which of
        `organizations` holds a block of it."""
        holders, blocks = set(), set()
        for row in await self.connection.fetch(_HOLDINGS, session_id, people, organizations):
            if row["organization_id"] is None or row["block_id"] is not None:
                holders.add(row["person_id"])
            elif row["organization_id"] in organizations:
                blocks.add(row["organization_id"])
        return holders, blocks

    async def store_figures(self, figures: Figures, waitlist_last_seq: int, now: datetime) -> None:
        await self.connection.execute(
            _STORE_FIGURES,
            figures.session_id,
            figures.confirmed_seats,
            figures.waitlist_length,
            figures.accessible_confirmed,
            figures.online_confirmed,
            figures.accessible_waitlist,
            figures.online_waitlist,
            waitlist_last_seq,
            now,
        )

    async def insert_bookings(self, rows: Sequence[dict[str, Any]]) -> None:
        """Booking rows (each with every one of `BOOKING_COLUMNS`; a block before its lines)."""
        await self.connection.executemany(_INSERT_BOOKINGS, [[row[name] for name in BOOKING_COLUMNS] for row in rows])

    async def record_assignments(self, assignments: Sequence[Assignment], now: datetime) -> None:
        if assignments:
            await self.connection.executemany(
                _INSERT_ASSIGNMENTS,
                [
                    (new_id(), a.block_id, a.line_id, a.action, a.person_id, a.previous_person_id, a.by_person_id, now)
                    for a in assignments
                ],
            )

    async def remember(self, records: Sequence[Remembered], now: datetime, ttl: timedelta) -> None:
        await self.connection.executemany(
            _REMEMBER,
            [(r.person_id, r.key, r.request_hash, r.status, r.body, now, now + ttl) for r in records],
        )

    async def emit(self, events: Sequence[Event], now: datetime, channel: str) -> None:
        """Outbox rows for events of distinct aggregates (each once: its sequence is its last plus one)."""
        subscribed = [event for event in events if event.subscribers]
        assert len({event.aggregate_id for event in subscribed}) == len(subscribed)
        rows = [
            (event.aggregate_id, event_id, subscriber, event.type, json.dumps(event.payload))
            for event in subscribed
            for event_id in (new_id(),)
            for subscriber in event.subscribers
        ]
        if rows:
            columns = list(zip(*rows, strict=True))
            await self.connection.execute(
                _EMIT, [event.aggregate_id for event in subscribed], *map(list, columns), now, channel
            )
