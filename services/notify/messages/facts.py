"""What a notice says, as plain values: the notify core fills these from its projections, the message
modules turn them into words, calendars and images."""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

Language = Literal["zh-CN", "en"]
NoticeKind = Literal[
    "booking_confirmed",
    "booking_waitlisted",
    "waitlist_promoted",
    "booking_cancelled",
    "session_changed",
    "session_cancelled",
    "reminder",
]
CancelledBy = Literal["by_owner", "by_org_admin", "session_cancelled"]


@dataclass(frozen=True)
class SessionFacts:
    """What a message says about the session."""

    session_id: UUID
    title: dict[str, str]  # by language tag; the reader's language is picked with fallbacks
    starts_at: datetime  # aware
    ends_at: datetime
    place_name: dict[str, str] | None
    address: str | None
    lat: float | None
    lon: float | None
    sequence: int  # bumps when the session changes (iCalendar SEQUENCE)
    status: Literal["scheduled", "cancelled"]


@dataclass(frozen=True)
class NoticeFacts:
    kind: NoticeKind
    language: Language
    display_name: str
    session: SessionFacts
    booking_id: UUID | None
    seats: int | None
    checkin_code: str | None  # booking_confirmed / waitlist_promoted / reminder (and session_changed: confirmed)
    waitlist_position: int | None  # booking_waitlisted
    cancelled_by: CancelledBy | None  # booking_cancelled
    minutes_before: int | None  # reminder
    previous: SessionFacts | None  # session_changed: the session as it was
    cancel_reason: str | None  # session_cancelled: the host's reason


@dataclass(frozen=True)
class RenderedNotice:
    title: str  # one line, also the mail subject
    body: str  # plain text: the in-app notice body, and the mail's text part
    html: str  # the mail's HTML part (autoescaped)
