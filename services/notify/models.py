"""The notify schema: what notify knows of bookings and sessions (from events), the notices it sent,
each person's preferences, reminders, mail to send and calendar feeds.

Exactly-once lives here: one notice per (person, cause) (UNIQUE), one reminder per (booking, offset)
(primary key), one mail per invitation (UNIQUE); a reminder or a mail is claimed by one worker at a time
(`FOR UPDATE SKIP LOCKED`)."""

from datetime import datetime
from typing import Any, cast, get_args
from uuid import UUID

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    Row,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.notify.messages.facts import Language, NoticeKind
from shared.audit import define_audit_table
from shared.db import service_metadata
from shared.events.tables import define_event_tables

SCHEMA = "notify"

LANGUAGES: tuple[str, ...] = get_args(Language)
NOTICE_KINDS: tuple[str, ...] = get_args(NoticeKind)
SESSION_STATUSES = ("scheduled", "cancelled")
HOLDING_STATUSES = ("confirmed", "waitlisted", "cancelled", "no_show")
MAIL_STATUSES = ("pending", "sent", "failed")
MAX_REMINDERS = 5
MIN_REMINDER_MINUTES = 5
MAX_REMINDER_MINUTES = 14 * 24 * 60


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class NotifyBase(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Contact(NotifyBase):
    """A person's contact as orgs gave it (`GET /internal/v1/people/{id}/contact`), reused for
    `NOTIFY_CONTACT_CACHE_S`. A person orgs does not know has no row (no email channel)."""

    __tablename__ = "contacts"
    __table_args__ = (CheckConstraint(f"language IS NULL OR {_in('language', LANGUAGES)}", name="language_known"),)

    person_id: Mapped[UUID] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(8))
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Preference(NotifyBase):
    """What a person chose (`PUT /v1/notifications/preferences`); without a row, the defaults apply."""

    __tablename__ = "preferences"
    __table_args__ = (
        CheckConstraint(_in("language", LANGUAGES), name="language_known"),
        CheckConstraint(f"cardinality(reminders_minutes_before) <= {MAX_REMINDERS}", name="reminders_bounded"),
    )

    person_id: Mapped[UUID] = mapped_column(primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str] = mapped_column(String(8))
    reminders_minutes_before: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=sql("now()"))


class Session(NotifyBase):
    """notify's copy of a catalog session (from `session.*` events, or fetched on a miss). `sequence`
    counts its changes of time or place and its cancellation (the iCalendar SEQUENCE)."""

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint(_in("status", SESSION_STATUSES), name="status_known"),
        CheckConstraint("ends_at >= starts_at", name="ends_after_start"),
    )

    session_id: Mapped[UUID] = mapped_column(primary_key=True)
    title: Mapped[dict[str, str]] = mapped_column(JSONB)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    site_id: Mapped[UUID | None]
    place_name: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    address: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float | None] = mapped_column(Double)
    lon: Mapped[float | None] = mapped_column(Double)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    sequence: Mapped[int] = mapped_column(Integer, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=sql("now()"))


class Holding(NotifyBase):
    """A booking as its `booking.*` events told it: who holds seats (or waits) for which session, and how
    it ended (cancelled, or no_show: not checked in by the session's end and booking's grace period)."""

    __tablename__ = "holdings"
    __table_args__ = (
        CheckConstraint(_in("status", HOLDING_STATUSES), name="status_known"),
        Index("ix_holdings_person_id", "person_id"),
        Index("ix_holdings_session_id", "session_id"),
    )

    booking_id: Mapped[UUID] = mapped_column(primary_key=True)
    person_id: Mapped[UUID]
    session_id: Mapped[UUID] = mapped_column(ForeignKey("sessions.session_id"))
    status: Mapped[str] = mapped_column(String(16))
    seats: Mapped[int] = mapped_column(SmallInteger)
    checkin_code: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=sql("now()"))


class Notification(NotifyBase):
    """A notice in a person's inbox. `cause` names what it is about (`booking_confirmed:<booking id>`,
    `session_cancelled:<session id>`, `reminder:<booking id>:<minutes>:<starts_at>`): one per person and
    cause, however often the cause is delivered and however many replicas handle it."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(_in("kind", NOTICE_KINDS), name="kind_known"),
        UniqueConstraint("person_id", "cause"),
        # The inbox, newest first, and its unread part.
        Index("ix_notifications_person_id_created_at_id", "person_id", "created_at", "id"),
        Index("ix_notifications_unread", "person_id", "created_at", "id", postgresql_where=sql("read_at IS NULL")),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    person_id: Mapped[UUID]
    kind: Mapped[str] = mapped_column(String(32))
    cause: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    booking_id: Mapped[UUID | None]
    session_id: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=sql("now()"))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Reminder(NotifyBase):
    """A reminder of a confirmed booking, `minutes_before` its session starts. Unsent ones (`sent_at`
    NULL) are the reminder worker's queue; a moved session moves them (and re-arms sent ones whose new
    time is still ahead)."""

    __tablename__ = "reminders"
    __table_args__ = (
        CheckConstraint("minutes_before > 0", name="minutes_positive"),
        Index("ix_reminders_due", "due_at", postgresql_where=sql("sent_at IS NULL")),
        Index("ix_reminders_person_id", "person_id"),
        Index("ix_reminders_session_id", "session_id"),
    )

    booking_id: Mapped[UUID] = mapped_column(primary_key=True)
    minutes_before: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[UUID]
    session_id: Mapped[UUID]
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Mail(NotifyBase):
    """An email to send: a notice's (to its person) or an invitation's (to an address that may have no
    account yet). Its words are rendered when it is queued (in the reader's language); a notice's
    attachments (the booking's .ics, the check-in QR) are made from the notice's `facts` when it is sent,
    so the event handler that makes the notice does not pay for them. The mail worker leases due pending
    rows (moves `next_attempt_at` ahead and commits) before sending, so no lock is held over SMTP.

    An invitation's mail carries the invitee's token in its link: once sent or given up it keeps only its
    key and outcome (address and words NULL), so notify holds the token no longer than the mail needs."""

    __tablename__ = "mails"
    __table_args__ = (
        CheckConstraint(_in("status", MAIL_STATUSES), name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint(
            "(invitation_id IS NULL AND notification_id IS NOT NULL AND person_id IS NOT NULL AND facts IS NOT NULL)"
            " OR (invitation_id IS NOT NULL AND notification_id IS NULL AND person_id IS NULL AND facts IS NULL)",
            name="notice_or_invitation",
        ),
        CheckConstraint(
            "num_nulls(to_address, subject, text_body, html_body)"
            " = CASE WHEN invitation_id IS NOT NULL AND status <> 'pending' THEN 4 ELSE 0 END",
            name="invitation_forgotten_when_done",
        ),
        Index("ix_mails_due", "next_attempt_at", "id", postgresql_where=sql("status = 'pending'")),
        Index("ix_mails_person_id", "person_id"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    notification_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), unique=True
    )
    invitation_id: Mapped[UUID | None] = mapped_column(unique=True)
    person_id: Mapped[UUID | None]
    to_address: Mapped[str | None] = mapped_column(String(320))
    to_name: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(Text)
    text_body: Mapped[str | None] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=sql("now()"))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=sql("now()"))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CalendarFeed(NotifyBase):
    """A person's secret calendar feed: only the SHA-256 of its token is kept (a new one replaces it)."""

    __tablename__ = "calendar_feeds"

    person_id: Mapped[UUID] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=sql("now()"))


# A result row of a Core statement (any columns).
AnyRow = Row[*tuple[Any, ...]]


def table_of(model: type[NotifyBase]) -> Table:
    """The Core table of a model (notify queries with Core statements: no identity map across the inbox's
    savepoints)."""
    return cast(Table, model.__table__)


metadata = NotifyBase.metadata
event_tables = define_event_tables(metadata)
audit_log = define_audit_table(metadata)
