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
# Who ended a booking, as its notice tells it. unassigned and left_organization end only member lines (a seat
# of an organization block): the coordinator gave the seat to someone else or to nobody; the member left.
CancelledBy = Literal["by_owner", "by_org_admin", "session_cancelled", "unassigned", "left_organization"]


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
    # A member line: a seat the person's organization booked for them (booking_confirmed, booking_cancelled).
    organization_seat: bool = False


@dataclass(frozen=True)
class InvitationFacts:
    """What an invitation's mail says: who invites the reader into which organization, in which role, and
    the link (with the single-use token) that takes them there until it expires."""

    language: Language
    organization_name: dict[str, str]  # by language tag, like session titles
    role: str
    invited_by_name: str | None
    expires_at: datetime  # aware
    link: str


@dataclass(frozen=True)
class RenderedNotice:
    """A notice's words (an invitation's mail has the same three)."""

    title: str  # one line, also the mail subject
    body: str  # plain text: the in-app notice body, and the mail's text part
    html: str  # the mail's HTML part (autoescaped)
