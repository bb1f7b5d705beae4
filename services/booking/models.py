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
)
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import IdMixin, TimestampMixin, service_metadata
from shared.events.tables import define_event_tables

SCHEMA = "booking"

SESSION_STATUSES = ("scheduled", "cancelled")
BOOKING_STATUSES = ("confirmed", "waitlisted", "cancelled")
ACTIVE_STATUSES = ("confirmed", "waitlisted")
MAX_SEATS_PER_BOOKING = 10
ACTIVE_PREDICATE = "status IN ('confirmed', 'waitlisted')"


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
        CheckConstraint("confirmed_seats >= 0 AND confirmed_seats <= capacity", name="seats_within_capacity"),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("waitlist_length >= 0", name="waitlist_not_negative"),
        CheckConstraint(_in("status", SESSION_STATUSES), name="status_known"),
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
    # The last waitlist sequence handed out: FIFO order, increased under the row lock, never reused.
    waitlist_last_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=sql("now()"))


class Booking(IdMixin, TimestampMixin, BookingBase):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint(f"seats BETWEEN 1 AND {MAX_SEATS_PER_BOOKING}", name="seats_range"),
        CheckConstraint(_in("status", BOOKING_STATUSES), name="status_known"),
        # Exactly the confirmed bookings carry a check-in code; every waitlisted one has its place in line.
        CheckConstraint("(status = 'confirmed') = (checkin_code IS NOT NULL)", name="code_iff_confirmed"),
        CheckConstraint("status <> 'waitlisted' OR waitlist_seq IS NOT NULL", name="waitlisted_has_seq"),
        Index(
            "uq_bookings_active_session_person",
            "session_id",
            "person_id",
            unique=True,
            postgresql_where=sql(ACTIVE_PREDICATE),
        ),
        Index("uq_bookings_session_id_waitlist_seq", "session_id", "waitlist_seq", unique=True),
        # The head of a session's waitlist, and positions (count of those ahead), straight from the index.
        Index("ix_bookings_waitlist", "session_id", "waitlist_seq", postgresql_where=sql("status = 'waitlisted'")),
        Index("ix_bookings_person_id_id", "person_id", "id"),
        # A person's active bookings whose session has not ended (the active-bookings limit, checked by every
        # booking): one range scan of this index, no join to the sessions (see `session_ends_at`).
        Index("ix_bookings_active_person", "person_id", "session_ends_at", postgresql_where=sql(ACTIVE_PREDICATE)),
        Index("ix_bookings_session_id_id", "session_id", "id"),
    )

    session_id: Mapped[UUID] = mapped_column(ForeignKey("inventory.session_id"))
    # Who booked (for an organization booking: the coordinator who made it).
    person_id: Mapped[UUID]
    organization_id: Mapped[UUID | None]
    seats: Mapped[int] = mapped_column(SmallInteger)
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
