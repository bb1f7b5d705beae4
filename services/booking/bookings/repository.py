"""Booking rows. Status changes happen only while the caller holds the session's inventory row lock,
so the waitlist order and the seat figures never disagree."""

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import (
    DateTime,
    Integer,
    Select,
    SmallInteger,
    String,
    Uuid,
    bindparam,
    case,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from services.booking.idempotency.repository import Remembered
from services.booking.inventory.repository import Figures, SeatPool
from services.booking.limits.repository import COUNT_REQUEST_BINDS, COUNT_REQUEST_SQL, HOLD_REQUEST_SQL
from services.booking.models import ACTIVE_STATUSES, AnyRow, Booking, Checkin, Inventory, table_of
from services.booking.publishing import (
    AVAILABILITY_OUTBOX_BINDS,
    AVAILABILITY_OUTBOX_CTES,
    CONFIRMED_OUTBOX_BINDS,
    CONFIRMED_OUTBOX_CTES,
    OUTBOX_NOTICE_READ,
    OutboxRows,
    outbox_notice,
)
from shared.driver import DriverStatement
from shared.errors import Conflict

bookings = table_of(Booking)
checkins = table_of(Checkin)
inventory = table_of(Inventory)
_b = bookings.c
_ACTIVE_INDEX = "uq_bookings_active_session_person"
_ORGANIZATION_BLOCK_INDEX = "uq_bookings_active_session_organization"
# What events and outputs need of a booking row.
BOOKING_COLUMNS = (
    _b.id,
    _b.session_id,
    _b.person_id,
    _b.organization_id,
    _b.seats,
    _b.status,
    _b.checkin_code,
    _b.created_at,
    _b.block_id,
    _b.seat_pool,
)
# What the two one-statement paths return of the session's row: its figures (see `Figures`) and end.
_FIGURES_RETURNED = (
    "session_id, capacity, confirmed_seats, waitlist_length, accessible_capacity, accessible_confirmed, "
    "online_capacity, online_confirmed, accessible_waitlist, online_waitlist"
)
# The standard pool's waitlisted bookings, on the inventory row (the other pools keep count of theirs).
_STANDARD_WAITING = "waitlist_length - accessible_waitlist - online_waitlist"


def new_checkin_code() -> str:
    """192 random bits, URL-safe (32 characters): unguessable, and short enough for a QR code."""
    return secrets.token_urlsafe(24)


def _waitlist_position() -> Any:
    ahead = bookings.alias("ahead")
    count_ahead = (
        select(func.count())
        .where(
            ahead.c.session_id == _b.session_id,
            ahead.c.seat_pool == _b.seat_pool,  # each pool has its own line
            ahead.c.status == "waitlisted",
            ahead.c.waitlist_seq <= _b.waitlist_seq,
        )
        .scalar_subquery()
    )
    return case((_b.status == "waitlisted", count_ahead), else_=None).label("waitlist_position")


def booking_view() -> Select[Any]:
    """Bookings as the API shows them: with waitlist position, check-in time, the host organization, a
    waitlisted block's named members and, for a member line, who holds its block (`block_holder_id`)."""
    block = bookings.alias("block")
    return (
        select(
            *BOOKING_COLUMNS,
            _b.cancelled_at,
            _b.pending_members,
            _waitlist_position(),
            checkins.c.checked_in_at,
            inventory.c.host_org_id,
            block.c.person_id.label("block_holder_id"),
        )
        .join(inventory, inventory.c.session_id == _b.session_id)
        .outerjoin(checkins, checkins.c.booking_id == _b.id)
        .outerjoin(block, block.c.id == _b.block_id)
    )


# The SQL twin of `inventory.service.refusal_reason(...) is None`: scheduled, not started, window open.
_BOOKABLE = """status = 'scheduled' AND starts_at > :now
    AND (booking_opens_at IS NULL OR booking_opens_at <= :now)
    AND (booking_closes_at IS NULL OR booking_closes_at > :now)"""
_ACTIVE = ", ".join(repr(status) for status in ACTIVE_STATUSES)
# The person's active bookings (confirmed or waitlisted, session not ended), counted up to :max_active: the
# limit only asks whether they reach it. One range scan of `ix_bookings_active_person`, no join to the
# sessions: a booking carries its session's end (`session_ends_at`).
_ACTIVE_HELD = f"""(SELECT count(*) FROM (
                SELECT 1 FROM booking.bookings
                WHERE person_id = :person_id AND status IN ({_ACTIVE}) AND block_id IS NULL
                    AND session_ends_at > :now
                LIMIT :max_active) AS held)"""
# The person's limit: :max_active, or less while their no-shows restrict them (see `Restriction`).
_MAX_ACTIVE = """LEAST(:max_active, COALESCE((SELECT max_active FROM booking.restrictions
                WHERE person_id = :person_id AND restricted_until > :now), :max_active))"""

# The hot path's two statements as plain SQL: SQLAlchemy would rebuild and re-key these Core trees on
# every request (about a millisecond each); their compiled form is cached either way.
_BEFORE_BOOKING = (
    text(
        f"""
        SELECT k.request_hash, k.response_status, k.response_body,
            {_ACTIVE_HELD} AS active_bookings,
            i.session_id, i.status, i.starts_at, i.booking_opens_at, i.booking_closes_at,
            r.max_active AS restricted_max_active, r.no_shows, r.restricted_until
        FROM (SELECT 1) AS one
        LEFT JOIN booking.idempotency_keys k ON k.person_id = :person_id AND k.key = :key AND k.expires_at > :now
        LEFT JOIN booking.inventory i ON i.session_id = :session_id
        LEFT JOIN booking.restrictions r ON r.person_id = :person_id AND r.restricted_until > :now
        """
    )
    .bindparams(
        bindparam("person_id", type_=Uuid),
        bindparam("key", type_=String),
        bindparam("session_id", type_=Uuid),
        bindparam("now", type_=DateTime(timezone=True)),
        bindparam("max_active", type_=Integer),
    )
    .columns(response_body=JSONB)
)
# What both one-statement booking paths bind (see `_statement_params`).
_BOOKING_BINDS = (
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
    *AVAILABILITY_OUTBOX_BINDS,
)
# Stores the key's record and response; an expired record of the key is replaced.
_REMEMBER = """remembered AS (
        INSERT INTO booking.idempotency_keys AS k
            (person_id, key, request_hash, response_status, response_body, created_at, expires_at)
        SELECT :person_id, :key, :request_hash, :status, {body}, :now, :expires_at FROM {source}
        ON CONFLICT (person_id, key) DO UPDATE SET
            request_hash = excluded.request_hash, response_status = excluded.response_status,
            response_body = excluded.response_body, created_at = excluded.created_at, expires_at = excluded.expires_at
        WHERE k.expires_at <= :now
        RETURNING k.person_id
    )"""
# The outbox rows of a confirmed new booking: `availability.changed` and `booking.confirmed`; of a booking
# joining the waitlist: `availability.changed` (its `booking.waitlisted` needs the position: `Outbox.emit`).
_CONFIRMED_OUTBOX = (
    AVAILABILITY_OUTBOX_CTES + CONFIRMED_OUTBOX_CTES + outbox_notice("availability_events", "confirmed_events")
)
_WAITLISTED_OUTBOX = AVAILABILITY_OUTBOX_CTES + outbox_notice("availability_events")
_CONFIRM_IF_FREE_SQL = f"""
    WITH admitted AS ({{admitted}}
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
    ), {_REMEMBER.format(body=":body", source="booked")}{_CONFIRMED_OUTBOX}, outcome AS (
        SELECT admitted.requests, admitted.window_started_at,
            (SELECT requests FROM booking.rate_windows
             WHERE person_id = :person_id AND window_started_at > :window_start) AS requests_in_snapshot,
            figures.*,
            (SELECT count(*) FROM remembered) AS remembered,
            (SELECT count(*) FROM availability_events) + {OUTBOX_NOTICE_READ} AS events,
            (SELECT count(*) FROM confirmed_events) AS confirmed_events
        FROM (SELECT) AS one LEFT JOIN admitted ON true LEFT JOIN figures ON true
    )
    SELECT * {{undo_unless_booked}} FROM outcome
    """
_CONFIRM_BINDS = (
    *_BOOKING_BINDS,
    *CONFIRMED_OUTBOX_BINDS,
    bindparam("checkin_code", type_=String),
    bindparam("max_active", type_=Integer),
    bindparam("rate_limit", type_=Integer),
    *COUNT_REQUEST_BINDS,
)
# Counting the request in the statement (the fast path), or holding the person's row counted before.
_CONFIRM_IF_FREE = {
    counting: text(
        _CONFIRM_IF_FREE_SQL.format(admitted=COUNT_REQUEST_SQL if counting else HOLD_REQUEST_SQL, undo_unless_booked="")
    ).bindparams(*_CONFIRM_BINDS)
    for counting in (True, False)
}
# The hot path's version runs on its own, without a transaction block (no BEGIN and COMMIT round trips):
# unless it booked cleanly (seats taken, the key's record stored, nothing interleaved), it raises and so
# undoes everything it did, as a rollback would (see `confirm_at_once`).
UNDO_SQLSTATE = "LC001"  # raised by booking.undo_statement(reason), see its migration
_CONFIRM_AT_ONCE = DriverStatement.of(
    text(
        _CONFIRM_IF_FREE_SQL.format(
            admitted=COUNT_REQUEST_SQL,
            undo_unless_booked="""
        , CASE WHEN session_id IS NULL OR remembered <> 1 OR requests - 1 <> COALESCE(requests_in_snapshot, 0)
          THEN booking.undo_statement('not booked at once') END AS undo""",
        )
    ).bindparams(*_CONFIRM_BINDS)
)
# The full session's path, one statement: join the back of the standard pool's waitlist (the row lock is
# then held only until commit), insert the waitlisted booking, store the key's response (with the position
# it got in that pool) and write `availability.changed`. Nothing when the session is not bookable or its
# standard seats fit after all.
_JOIN_WAITLIST = text(
    f"""
    WITH figures AS (
        UPDATE booking.inventory SET
            waitlist_length = waitlist_length + 1, waitlist_last_seq = waitlist_last_seq + 1, updated_at = :now
        WHERE session_id = :session_id AND {_BOOKABLE}
            AND NOT ({_STANDARD_WAITING} = 0 AND confirmed_seats + :seats <= capacity - accessible_capacity)
        RETURNING {_FIGURES_RETURNED}, waitlist_last_seq, ends_at
    ), booked AS (
        INSERT INTO booking.bookings
            (id, session_id, person_id, organization_id, seats, status, waitlist_seq, created_at, session_ends_at)
        SELECT :booking_id, session_id, :person_id, :organization_id, :seats, 'waitlisted', waitlist_last_seq, :now,
            ends_at
        FROM figures
        RETURNING id
    ), {
        _REMEMBER.format(
            body="CAST(:body AS jsonb) || jsonb_build_object('waitlist_position', "
            "figures.waitlist_length - figures.accessible_waitlist - figures.online_waitlist)",
            source="booked, figures",
        )
    }{_WAITLISTED_OUTBOX}
    SELECT {_FIGURES_RETURNED},
        (SELECT count(*) FROM remembered) AS remembered,
        (SELECT count(*) FROM availability_events) + {OUTBOX_NOTICE_READ} AS events
    FROM figures
    """
).bindparams(*_BOOKING_BINDS)


@dataclass(frozen=True, slots=True)
class FastPathLimits:
    now: datetime
    max_active: int
    rate_limit: int
    rate_window: timedelta
    key_lock: int
    ttl: timedelta
    # Count the request in the statement (else it was counted before and its person's row is only locked).
    counting: bool = True


@dataclass(frozen=True, slots=True)
class FastPathOutcome:
    """`requests` None: another request with the key is in flight (nothing done). `figures` None: not
    booked at once (look closer). `remembered` False: the key's record could not be stored.
    `interleaved`: a request of the same person committed between the statement's snapshot and its lock
    on the person's row, so what the statement read may be stale (roll back and book carefully)."""

    requests: int | None
    window_started_at: datetime | None
    figures: Figures | None
    remembered: bool
    interleaved: bool


@dataclass(frozen=True, slots=True)
class NewBooking:
    id: UUID
    session_id: UUID
    person_id: UUID
    organization_id: UUID | None
    seats: int
    checkin_code: str
    seat_pool: SeatPool = SeatPool.standard


def _statement_params(
    booking: NewBooking, remembered: Remembered, limits: FastPathLimits, outbox: OutboxRows
) -> dict[str, Any]:
    """What both one-statement booking paths bind: the booking, its key's record, the outbox rows."""
    return {
        "booking_id": booking.id,
        "session_id": booking.session_id,
        "person_id": booking.person_id,
        "organization_id": booking.organization_id,
        "seats": booking.seats,
        "key": remembered.key,
        "request_hash": remembered.request_hash,
        "status": remembered.status,
        "body": remembered.body,
        "now": limits.now,
        "expires_at": limits.now + limits.ttl,
        **outbox.params(),
    }


class BookingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _booking_statement(self, statement: Executable, params: dict[str, Any] | None = None) -> Result[Any]:
        """Run a statement that inserts a booking: the partial unique index's refusal is a 409."""
        try:
            return await self.session.execute(statement, params)
        except IntegrityError as exc:
            if _ACTIVE_INDEX in str(exc.orig):
                raise Conflict("You already hold an active booking for this session") from exc
            if _ORGANIZATION_BLOCK_INDEX in str(exc.orig):
                raise Conflict(
                    "The organization already holds a block for this session: name members to its seats, or "
                    "cancel it and book a larger one",
                    extra={"reason": "organization_block_exists"},
                ) from exc
            raise

    async def view(self, booking_id: UUID) -> AnyRow | None:
        row: AnyRow | None = (await self.session.execute(booking_view().where(_b.id == booking_id))).first()
        return row

    async def insert(
        self,
        booking: NewBooking,
        *,
        status: str,
        waitlist_seq: int | None,
        session_ends_at: datetime,
        now: datetime,
        pending_members: Sequence[UUID] = (),
    ) -> None:
        """`session_ends_at`: the session's `ends_at`, read under its row lock (held by the caller).
        `pending_members`: a waitlisted block's named members."""
        confirmed = status == "confirmed"
        statement = bookings.insert().values(
            id=booking.id,
            session_id=booking.session_id,
            person_id=booking.person_id,
            organization_id=booking.organization_id,
            seats=booking.seats,
            seat_pool=booking.seat_pool,
            status=status,
            waitlist_seq=waitlist_seq,
            checkin_code=booking.checkin_code if confirmed else None,
            confirmed_at=now if confirmed else None,
            created_at=now,
            session_ends_at=session_ends_at,
            pending_members=list(pending_members),
        )
        await self._booking_statement(statement)

    async def waitlist_at_once(
        self, booking: NewBooking, remembered: Remembered, limits: FastPathLimits, outbox: OutboxRows
    ) -> tuple[Figures, bool] | None:
        """Join the waitlist in one statement (see `_JOIN_WAITLIST`): the figures (the booking's position
        is the standard pool's waiting count) and whether the key's record was stored; None when not
        waitlisted."""
        params = _statement_params(booking, remembered, limits, outbox)
        row = (await self._booking_statement(_JOIN_WAITLIST, params)).first()
        return (Figures.of(row), row.remembered == 1) if row is not None else None

    async def holder_and_code(self, booking_id: UUID) -> AnyRow | None:
        """The booking's holder, status and check-in code (None when there is no such booking)."""
        statement = select(_b.person_id, _b.status, _b.checkin_code).where(_b.id == booking_id)
        return (await self.session.execute(statement)).first()

    async def holder_and_join_link(self, booking_id: UUID) -> AnyRow | None:
        """The booking's holder, status and seat pool, and its session's mode and join link (None when there
        is no such booking)."""
        statement = (
            select(_b.person_id, _b.status, _b.seat_pool, inventory.c.mode, inventory.c.join_url)
            .join(inventory, inventory.c.session_id == _b.session_id)
            .where(_b.id == booking_id)
        )
        return (await self.session.execute(statement)).first()

    async def lock(self, booking_id: UUID) -> AnyRow | None:
        statement = select(*BOOKING_COLUMNS).where(_b.id == booking_id).with_for_update()
        return (await self.session.execute(statement)).first()

    async def cancel(self, booking_id: UUID, now: datetime, reason: str) -> AnyRow:
        statement = (
            update(bookings)
            .where(_b.id == booking_id)
            .values(status="cancelled", checkin_code=None, cancelled_at=now, cancel_reason=reason)
            .returning(*BOOKING_COLUMNS)
        )
        return (await self.session.execute(statement)).one()

    async def cancel_all_active(self, session_id: UUID, now: datetime, reason: str) -> Sequence[AnyRow]:
        statement = (
            update(bookings)
            .where(_b.session_id == session_id, _b.status.in_(ACTIVE_STATUSES))
            .values(status="cancelled", checkin_code=None, cancelled_at=now, cancel_reason=reason)
            .returning(*BOOKING_COLUMNS)
        )
        return (await self.session.execute(statement)).all()

    async def move_session_end(self, session_id: UUID, ends_at: datetime) -> None:
        """The session moved: its bookings (every status) carry its new end. Call under the session's row
        lock, in the transaction that changes `inventory.ends_at`: a booking made concurrently waits for
        that lock and then copies the new end itself."""
        await self.session.execute(
            update(bookings)
            .where(_b.session_id == session_id, _b.session_ends_at.is_distinct_from(ends_at))
            .values(session_ends_at=ends_at)
        )

    async def waitlist_head_that_fits(self, session_id: UUID, pool: SeatPool, free_seats: int) -> Sequence[AnyRow]:
        """The longest prefix of the pool's waitlist (FIFO) whose seats together fit in `free_seats`.

        Strict FIFO: a head needing more seats than are free blocks those behind it (in its pool only)."""
        waiting = (
            select(_b.id, _b.waitlist_seq, func.sum(_b.seats).over(order_by=_b.waitlist_seq).label("running_seats"))
            .where(_b.session_id == session_id, _b.status == "waitlisted", _b.seat_pool == pool)
            .order_by(_b.waitlist_seq)
            .limit(free_seats)  # every booking takes a seat at least, so no more than this can fit
            .subquery()
        )
        statement = select(waiting.c.id).where(waiting.c.running_seats <= free_seats).order_by(waiting.c.waitlist_seq)
        return (await self.session.execute(statement)).all()

    async def promote(self, booking_ids: Sequence[UUID], now: datetime) -> Sequence[AnyRow]:
        await self.session.execute(
            update(bookings)
            .where(_b.id == bindparam("promoted_id"))
            .values(status="confirmed", checkin_code=bindparam("code"), confirmed_at=now),
            [{"promoted_id": booking_id, "code": new_checkin_code()} for booking_id in booking_ids],
        )
        statement = select(*BOOKING_COLUMNS).where(_b.id.in_(booking_ids)).order_by(_b.waitlist_seq)
        return (await self.session.execute(statement)).all()

    async def checked_in(self, booking_id: UUID) -> bool:
        statement = select(checkins.c.booking_id).where(checkins.c.booking_id == booking_id)
        return (await self.session.execute(statement)).first() is not None

    async def before_booking(
        self, person_id: UUID, key: str, session_id: UUID, now: datetime, max_active: int
    ) -> AnyRow:
        """Everything a booking checks, read in one round trip (after its locks are taken, so it sees
        whatever committed before): the key's unexpired record, the person's active bookings
        (confirmed or waitlisted, session not ended; counted up to `max_active`, the limit) and the
        session (NULL columns when unknown)."""
        params = {"person_id": person_id, "key": key, "session_id": session_id, "now": now, "max_active": max_active}
        return (await self.session.execute(_BEFORE_BOOKING, params)).one()

    async def confirm_if_free(
        self, booking: NewBooking, remembered: Remembered, limits: FastPathLimits, outbox: OutboxRows
    ) -> FastPathOutcome:
        """The fast path, one statement: count the request against the rate limit (after trying the
        key's lock), take the seats with a conditional UPDATE (bookable, seats free, nobody waiting, the
        person below the active-bookings limit, the key unused), insert the confirmed booking, store the
        key's response and write `availability.changed` and the booking's `booking.confirmed` to the outbox;
        or book nothing (look closer).

        Its reads share the statement's snapshot, taken before it may wait for the person's rate row: when
        a request of the same person committed meanwhile, the outcome says `interleaved` (its reads may be
        stale), and a duplicate key that committed meanwhile shows as `remembered` False (the primary key
        refuses a second record)."""
        params = _confirm_params(booking, remembered, limits, outbox)
        row = (await self._booking_statement(_CONFIRM_IF_FREE[limits.counting], params)).one()
        return _confirm_outcome(row._mapping, limits, outbox)


def _confirm_params(
    booking: NewBooking, remembered: Remembered, limits: FastPathLimits, outbox: OutboxRows
) -> dict[str, Any]:
    return {
        **_statement_params(booking, remembered, limits, outbox),
        "checkin_code": booking.checkin_code,
        "max_active": limits.max_active,
        "rate_limit": limits.rate_limit,
        "window_start": limits.now - limits.rate_window,
        "lock_id": limits.key_lock,
    }


def _confirm_outcome(row: Mapping[Any, Any], limits: FastPathLimits, outbox: OutboxRows) -> FastPathOutcome:
    figures = None
    if row["session_id"] is not None:
        figures = Figures.of_mapping(row)
        assert row["events"] == len(outbox.subscribers)
        assert row["confirmed_events"] == len(outbox.confirmed_subscribers)
    requests = row["requests"]
    counted_here = 1 if limits.counting else 0
    interleaved = requests is not None and requests - counted_here != (row["requests_in_snapshot"] or 0)
    return FastPathOutcome(requests, row["window_started_at"], figures, row["remembered"] == 1, interleaved)


async def confirm_at_once(
    connection: asyncpg.Connection,
    booking: NewBooking,
    remembered: Remembered,
    limits: FastPathLimits,
    outbox: OutboxRows,
) -> Figures | None:
    """`BookingRepository.confirm_if_free` (counting the request) as one statement on a connection of the
    driver pool, outside any transaction block: the hot path of POST /v1/bookings. The figures when it
    booked cleanly (committed); None when it did not, and then nothing happened (the careful path decides)."""
    params = _confirm_params(booking, remembered, limits, outbox)
    try:
        row = await connection.fetchrow(_CONFIRM_AT_ONCE.sql, *_CONFIRM_AT_ONCE.arguments(params))
    except asyncpg.UniqueViolationError:
        return None  # an active booking of the person's for the session
    except asyncpg.PostgresError as exc:
        if exc.sqlstate == UNDO_SQLSTATE:
            return None
        raise
    assert row is not None  # the statement always answers one row
    outcome = _confirm_outcome(row, limits, outbox)
    assert outcome.figures is not None and outcome.remembered and not outcome.interleaved
    return outcome.figures
