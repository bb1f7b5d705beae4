"""Bookings as iCalendar (RFC 5545): one booking's event for a mail's `invite.ics` (PUBLISH, or CANCEL when
it ends), and a person's feed of booked sessions. Times carry the zone's TZID and a VTIMEZONE, so calendar
apps show the local time whatever zone they run in."""

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import icalendar

from services.notify.messages import wording
from services.notify.messages.facts import Language, NoticeFacts, SessionFacts
from services.notify.messages.render import detail_lines

PRODID = "-//Learning City//notify//EN"


@dataclass(frozen=True)
class FeedEntry:
    booking_id: UUID
    session: SessionFacts
    seats: int


def event_uid(booking_id: UUID) -> str:
    """One event per booking, the same in every mail and feed, so an update or a cancel replaces it."""
    return f"{booking_id}@learncity"


def booking_ics(facts: NoticeFacts, timezone: ZoneInfo, *, method: Literal["PUBLISH", "CANCEL"]) -> bytes:
    if facts.booking_id is None:
        raise ValueError("a booking's calendar event needs the booking's id")
    details = [("seats", str(facts.seats))] if facts.seats is not None else []
    if facts.cancel_reason:
        details.append(("reason", facts.cancel_reason))
    # The code is the holder's credential: only in a confirmation, never in a cancel.
    if facts.checkin_code and method == "PUBLISH":
        details.append(("code", facts.checkin_code))
    event = _event(
        facts.booking_id,
        facts.session,
        timezone,
        facts.language,
        description=detail_lines(facts.language, details),
        cancelled=method == "CANCEL",
    )
    return _calendar([event], timezone, method=method, name=None)


def feed_ics(entries: Sequence[FeedEntry], timezone: ZoneInfo, *, name: str, language: Language = "zh-CN") -> bytes:
    """A feed calendar apps poll. It holds no check-in codes: feeds get shared with and synced through
    third-party calendar services, a code belongs in the holder's own app and mail only."""
    events = [
        _event(
            entry.booking_id,
            entry.session,
            timezone,
            language,
            description=detail_lines(language, [("seats", str(entry.seats))]),
            cancelled=False,
        )
        for entry in entries
    ]
    return _calendar(events, timezone, method="PUBLISH", name=name)


def _event(
    booking_id: UUID,
    session: SessionFacts,
    timezone: ZoneInfo,
    language: Language,
    *,
    description: str,
    cancelled: bool,
) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", event_uid(booking_id))
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", session.starts_at.astimezone(timezone))
    event.add("dtend", session.ends_at.astimezone(timezone))
    event.add("summary", wording.session_title(session, language))
    location = wording.place(session, language)
    if location:
        event.add("location", location)
    if session.lat is not None and session.lon is not None:
        event.add("geo", (session.lat, session.lon))
    if description:
        event.add("description", description)
    event.add("status", "CANCELLED" if cancelled or session.status == "cancelled" else "CONFIRMED")
    event.add("sequence", session.sequence)
    return event


def _calendar(events: Iterable[icalendar.Event], timezone: ZoneInfo, *, method: str, name: str | None) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    if name is not None:
        calendar.add("name", name)
        calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", timezone.key)
    for event in events:
        calendar.add_component(event)
    years = [moment.year for event in calendar.events for moment in (event.start, event.end)]
    if years:
        # VTIMEZONE components come before the events that name them.
        calendar.subcomponents.insert(0, _vtimezone(timezone.key, min(years), max(years)))
    ical: bytes = calendar.to_ical()
    return ical


@functools.lru_cache(maxsize=64)
def _vtimezone(zone: str, first_year: int, last_year: int) -> icalendar.Timezone:
    """The zone's rules over the years the events span (not icalendar's default 1970-2038 history). Built
    from the tz database once per zone and span: building it takes ~10 ms, the rest of a calendar ~1 ms.
    Shared between calendars, never modified."""
    return icalendar.Timezone.from_tzinfo(
        ZoneInfo(zone), tzid=zone, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1)
    )
