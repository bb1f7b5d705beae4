"""The booking schema: booking's copy of each session, bookings, check-ins, idempotency keys, rate windows.

The invariants that must hold under any concurrency live here, in the database:
confirmed seats never exceed capacity (CHECK), one active booking per person and session (partial
UNIQUE), one check-in per booking (primary key), one waitlist sequence per session (UNIQUE).
"""

from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Row,
    SmallInteger,
    String,
    Table,
    Uuid,
)
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.audit import define_audit_table
from shared.db import IdMixin, TimestampMixin, service_metadata
from shared.events.tables import define_event_tables

SCHEMA = "booking"

SESSION_STATUSES = ("scheduled", "cancelled")
LEARNING_MODES = ("in_person", "online", "hybrid")
# standard: what a request asks for by default (in-person seats not kept apart, or an online session's seats);
# accessible: in-person seats kept for people who ask for one; online: a hybrid session's online seats.
SEAT_POOLS = ("standard", "accessible", "online")
# no_show: confirmed, not checked in by the session's end plus the grace period (never credited).
BOOKING_STATUSES = ("confirmed", "waitlisted", "cancelled", "no_show")
ACTIVE_STATUSES = ("confirmed", "waitlisted")
MAX_SEATS_PER_BOOKING = 10
# The hard ceiling of an organization block's seats; `BOOKING_ORGANIZATION_MAX_SEATS` (default 50) is the
# cap people meet, and may be raised up to this.
MAX_SEATS_PER_ORGANIZATION_BOOKING = 1000
ACTIVE_PREDICATE = "status IN ('confirmed', 'waitlisted')"
# The bookings a person's active-bookings limit counts: their own, not the member lines an organization
# booked for them (a line never counts against the coordinator either: it is the member's).
COUNTED_PREDICATE = f"{ACTIVE_PREDICATE} AND block_id IS NULL"
ASSIGNMENT_ACTIONS = ("assigned", "reassigned", "unassigned")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class BookingBase(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Inventory(BookingBase):
    """Booking's copy of one catalog session (fed by `session.*` events, fetched on a miss) and its seat
    figures. The row is the lock every seat change of the session takes, so changes of one session are
    serialized while different sessions never wait for each other."""

    __tablename__ = "inventory"
    __table_args__ = (
        # The standard pool: `capacity` less the accessible seats kept apart.
        CheckConstraint(
            "confirmed_seats >= 0 AND confirmed_seats <= capacity - accessible_capacity", name="seats_within_capacity"
        ),
        CheckConstraint(
            "accessible_confirmed >= 0 AND accessible_confirmed <= accessible_capacity "
            "AND accessible_capacity <= capacity",
            name="accessible_within_capacity",
        ),
        CheckConstraint("online_confirmed >= 0 AND online_confirmed <= online_capacity", name="online_within_capacity"),
        CheckConstraint(_in("mode", LEARNING_MODES), name="mode_known"),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("waitlist_length >= 0", name="waitlist_not_negative"),
        CheckConstraint(
            "accessible_waitlist >= 0 AND online_waitlist >= 0 "
            "AND accessible_waitlist + online_waitlist <= waitlist_length",
            name="pool_waitlists_within_waitlist",
        ),
        CheckConstraint(_in("status", SESSION_STATUSES), name="status_known"),
        # Participation figures: the sessions that started in a range.
        Index("ix_inventory_starts_at", "starts_at"),
    )

    session_id: Mapped[UUID] = mapped_column(primary_key=True)
    activity_id: Mapped[UUID]
    host_org_id: Mapped[UUID]
    site_id: Mapped[UUID | None]
    title: Mapped[dict[str, str]] = mapped_column(JSONB)
    kind: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    booking_opens_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    booking_closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    capacity: Mapped[int] = mapped_column(Integer)
    confirmed_seats: Mapped[int] = mapped_column(Integer, server_default="0")
    # Waitlisted bookings (not seats) of the session, kept with the seats so one row answers availability.
    waitlist_length: Mapped[int] = mapped_column(Integer, server_default="0")
    mode: Mapped[str] = mapped_column(String(16), server_default="in_person")
    join_url: Mapped[str | None] = mapped_column(String(500))
    accessible_capacity: Mapped[int] = mapped_column(Integer, server_default="0")
    accessible_confirmed: Mapped[int] = mapped_column(Integer, server_default="0")
    online_capacity: Mapped[int] = mapped_column(Integer, server_default="0")
    online_confirmed: Mapped[int] = mapped_column(Integer, server_default="0")
    # Of `waitlist_length`, the bookings waiting for an accessible or an online seat (the rest wait for
    # standard seats): on the row, so a conditional UPDATE can tell whether anyone waits in its pool.
    accessible_waitlist: Mapped[int] = mapped_column(Integer, server_default="0")
    online_waitlist: Mapped[int] = mapped_column(Integer, server_default="0")
    # The last waitlist sequence handed out: FIFO order, increased under the row lock, never reused.
    waitlist_last_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=sql("now()"))


class SitePlace(BookingBase):
    """Booking's copy of a site's kind and geography (fed by `site.changed`): participation is counted by
    district, urban/rural and site kind without reading the catalog's schema."""

    __tablename__ = "site_places"
    __table_args__ = (Index("ix_site_places_district_id", "district_id"),)

    site_id: Mapped[UUID] = mapped_column(primary_key=True)
    owner_org_id: Mapped[UUID]
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[dict[str, str]] = mapped_column(JSONB)
    district_id: Mapped[UUID | None]
    district_name: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    urban: Mapped[bool | None]
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=sql("now()"))


class SessionTally(BookingBase):
    """A finished session's participation figures, summed once (services/booking/participation/tallies.py):
    what participation reports read instead of the session's bookings and check-ins. Valid while
    `session_updated_at` equals the session's `inventory.updated_at`: whatever changes a session's bookings
    after it ended (its cancellation, an erasure freeing a seat) changes its inventory row too."""

    __tablename__ = "session_tallies"

    # No foreign key: inventory rows are never deleted, and a tally is never read without its session's row.
    session_id: Mapped[UUID] = mapped_column(primary_key=True)
    session_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    bookings: Mapped[int] = mapped_column(Integer)
    seats: Mapped[int] = mapped_column(Integer)
    no_shows: Mapped[int] = mapped_column(Integer)
    checkins: Mapped[int] = mapped_column(Integer)
    minutes: Mapped[int] = mapped_column(BigInteger)
    tallied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Booking(IdMixin, TimestampMixin, BookingBase):
    """A person's booking; or an organization's block of seats (`organization_id`, booked by a coordinator:
    `person_id`); or one member line of a block (`block_id`): one seat of the block, held by the named
    member, with its own check-in code, status and learning-record credit. A line's seat is counted once,
    in its block's `seats` (the inventory never counts lines again)."""

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint(f"seats BETWEEN 1 AND {MAX_SEATS_PER_ORGANIZATION_BOOKING}", name="seats_range"),
        CheckConstraint(
            f"organization_id IS NOT NULL OR seats <= {MAX_SEATS_PER_BOOKING}", name="personal_seats_range"
        ),
        CheckConstraint("block_id IS NULL OR (seats = 1 AND organization_id IS NOT NULL)", name="line_is_one_seat"),
        CheckConstraint(_in("seat_pool", SEAT_POOLS), name="seat_pool_known"),
        # Organization blocks and their lines take standard seats.
        CheckConstraint("organization_id IS NULL OR seat_pool = 'standard'", name="blocks_take_standard_seats"),
        CheckConstraint(_in("status", BOOKING_STATUSES), name="status_known"),
        # Exactly the confirmed bookings carry a check-in code; every waitlisted one has its place in line.
        CheckConstraint("(status = 'confirmed') = (checkin_code IS NOT NULL)", name="code_iff_confirmed"),
        CheckConstraint("status <> 'waitlisted' OR waitlist_seq IS NOT NULL", name="waitlisted_has_seq"),
        # One active seat-holding booking (own or member line) per person and session: an organization's block
        # is the organization's, so its coordinator may also hold a seat of their own, or a line of it.
        Index(
            "uq_bookings_active_session_person",
            "session_id",
            "person_id",
            unique=True,
            postgresql_where=sql(f"{ACTIVE_PREDICATE} AND (organization_id IS NULL OR block_id IS NOT NULL)"),
        ),
        # One active block per organization and session (more seats: a larger block).
        Index(
            "uq_bookings_active_session_organization",
            "session_id",
            "organization_id",
            unique=True,
            postgresql_where=sql(f"{ACTIVE_PREDICATE} AND organization_id IS NOT NULL AND block_id IS NULL"),
        ),
        Index("uq_bookings_session_id_waitlist_seq", "session_id", "waitlist_seq", unique=True),
        # The head of a session's waitlist, and positions (count of those ahead), straight from the index.
        Index("ix_bookings_waitlist", "session_id", "waitlist_seq", postgresql_where=sql("status = 'waitlisted'")),
        Index("ix_bookings_person_id_id", "person_id", "id"),
        # A person's active bookings whose session has not ended (the active-bookings limit, checked by every
        # booking): one range scan of this index, no join to the sessions (see `session_ends_at`).
        Index("ix_bookings_active_person", "person_id", "session_ends_at", postgresql_where=sql(COUNTED_PREDICATE)),
        Index("ix_bookings_session_id_id", "session_id", "id"),
        Index("ix_bookings_block_id", "block_id", postgresql_where=sql("block_id IS NOT NULL")),
        # The no-show sweep: confirmed bookings by when their session ends.
        Index("ix_bookings_confirmed_ends", "session_ends_at", postgresql_where=sql("status = 'confirmed'")),
        # A person's no-shows over the window (their standing).
        Index("ix_bookings_no_show_person", "person_id", "session_ends_at", postgresql_where=sql("status = 'no_show'")),
    )

    session_id: Mapped[UUID] = mapped_column(ForeignKey("inventory.session_id"))
    # Who booked (for an organization block: the coordinator who made it; for a line: the member).
    person_id: Mapped[UUID]
    organization_id: Mapped[UUID | None]
    # A member line: the block it is a seat of.
    block_id: Mapped[UUID | None] = mapped_column(ForeignKey("bookings.id"))
    # A waitlisted block's named members: their lines are made when the block is confirmed.
    pending_members: Mapped[list[UUID]] = mapped_column(ARRAY(Uuid), server_default=sql("'{}'"), default=list)
    seats: Mapped[int] = mapped_column(SmallInteger)
    seat_pool: Mapped[str] = mapped_column(String(16), server_default="standard")
    status: Mapped[str] = mapped_column(String(16))
    # The session's `inventory.ends_at`, copied when the booking is made and kept equal when the session
    # moves (same transaction, under the session's row lock), so the limit counts without a join.
    session_ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    waitlist_seq: Mapped[int | None] = mapped_column(BigInteger)
    checkin_code: Mapped[str | None] = mapped_column(String(64), unique=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str | None] = mapped_column(String(32))


class Checkin(BookingBase):
    """One per booking (the primary key makes a second check-in impossible). It is also the learning
    record: the session's scheduled minutes, title and kind as they were when the person attended."""

    __tablename__ = "checkins"
    __table_args__ = (
        CheckConstraint("minutes >= 0", name="minutes_not_negative"),
        Index("ix_checkins_person_id_starts_at", "person_id", "starts_at", "booking_id"),
        # A session's check-ins (participation figures).
        Index("ix_checkins_session_id", "session_id"),
    )

    booking_id: Mapped[UUID] = mapped_column(ForeignKey("bookings.id"), primary_key=True)
    person_id: Mapped[UUID]
    session_id: Mapped[UUID]
    host_org_id: Mapped[UUID]
    title: Mapped[dict[str, str]] = mapped_column(JSONB)
    kind: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    minutes: Mapped[int] = mapped_column(Integer)
    checked_in_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    checked_in_by: Mapped[UUID]


class LineAssignment(BookingBase):
    """The audit of a block's seats: who was named to a seat, replaced or removed, by whom, and when."""

    __tablename__ = "line_assignments"
    __table_args__ = (
        CheckConstraint(_in("action", ASSIGNMENT_ACTIONS), name="action_known"),
        Index("ix_line_assignments_block_id_at", "block_id", "at"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    block_id: Mapped[UUID] = mapped_column(ForeignKey("bookings.id"))
    # The line made (assigned, reassigned) or cancelled (unassigned).
    line_id: Mapped[UUID] = mapped_column(ForeignKey("bookings.id"))
    action: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[UUID]  # who holds (or held, unassigned) the seat
    previous_person_id: Mapped[UUID | None]  # reassigned: who held it before
    by_person_id: Mapped[UUID]
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Restriction(BookingBase):
    """A person whose no-shows reached `BOOKING_NO_SHOW_THRESHOLD` within the window: until `restricted_until`
    they may hold at most `max_active` active bookings. Kept by the no-show sweep; read by every booking (one
    primary-key probe of a small table)."""

    __tablename__ = "restrictions"
    __table_args__ = (CheckConstraint("max_active >= 0", name="max_active_not_negative"),)

    person_id: Mapped[UUID] = mapped_column(primary_key=True)
    max_active: Mapped[int] = mapped_column(Integer)
    no_shows: Mapped[int] = mapped_column(Integer)
    restricted_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IdempotencyKey(BookingBase):
    """`Idempotency-Key` of POST /v1/bookings, per person: the request's fingerprint and the response to
    replay, written in the booking's own transaction. Kept until `expires_at` (24 h by default)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)

    person_id: Mapped[UUID] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(SmallInteger)
    response_body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RateWindow(BookingBase):
    """Booking requests per person in the current fixed one-minute window (in the database, so the
    limit holds across replicas)."""

    __tablename__ = "rate_windows"
    __table_args__ = (Index("ix_rate_windows_window_started_at", "window_started_at"),)

    person_id: Mapped[UUID] = mapped_column(primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    requests: Mapped[int] = mapped_column(Integer)


# A result row of a Core statement (any columns).
AnyRow = Row[*tuple[Any, ...]]


def table_of(model: type[BookingBase]) -> Table:
    """The Core table of a model: the hot paths use Core statements (no identity map to maintain)."""
    return cast(Table, model.__table__)


metadata = BookingBase.metadata
event_tables = define_event_tables(metadata)
audit_log = define_audit_table(metadata)
