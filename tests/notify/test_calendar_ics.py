"""Bookings as iCalendar (RFC 5545), read back with the `icalendar` parser: Shanghai times round-trip, the
event keeps one UID per booking, and the text is CRLF-folded."""

from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import icalendar
import pytest

from services.notify.messages.calendar import FeedEntry, booking_ics, feed_ics
from tests.notify.test_messages import CODE, SHANGHAI, notice_facts, session_facts

BOOKING_ID = UUID("00000000-0000-7000-8000-0000000000b1")


def _parse(ics: bytes) -> icalendar.Calendar:
    calendar = icalendar.Calendar.from_ical(ics)
    assert isinstance(calendar, icalendar.Calendar)
    for component in calendar.walk():
        assert not component.errors, component.errors
    return calendar


def _only_event(calendar: icalendar.Calendar) -> icalendar.Event:
    (event,) = calendar.events
    return event


def test_a_confirmation_is_a_published_event_at_shanghai_local_time() -> None:
    ics = booking_ics(notice_facts(checkin_code=CODE), SHANGHAI, method="PUBLISH")
    calendar = _parse(ics)
    event = _only_event(calendar)

    assert calendar["PRODID"] == "-//Learning City//notify//EN"
    assert calendar["VERSION"] == "2.0"
    assert calendar["CALSCALE"] == "GREGORIAN"
    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["X-WR-TIMEZONE"] == "Asia/Shanghai"
    assert [timezone["TZID"] for timezone in calendar.timezones] == ["Asia/Shanghai"]
    assert str(event["UID"]) == f"{BOOKING_ID}@learncity"
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    # 19:00 in Shanghai is 11:00Z, whatever zone the reader runs in.
    assert start == datetime(2026, 12, 3, 19, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert start.astimezone(UTC) == datetime(2026, 12, 3, 11, 0, tzinfo=UTC)
    assert (start.tzinfo, start.hour, start.minute) == (ZoneInfo("Asia/Shanghai"), 19, 0)
    assert end.astimezone(UTC) == datetime(2026, 12, 3, 12, 30, tzinfo=UTC)
    assert b"DTSTART;TZID=Asia/Shanghai:20261203T190000\r\n" in ics
    assert b"DTEND;TZID=Asia/Shanghai:20261203T203000\r\n" in ics
    assert event["SUMMARY"] == "宋词夜读"
    assert event["LOCATION"] == "杭州图书馆（总馆），杭州市上城区解放东路58号"
    geo = event.decoded("GEO")
    assert geo == (30.2453, 120.2108)
    assert event["STATUS"] == "CONFIRMED"
    assert event.decoded("SEQUENCE") == 3
    assert event["DESCRIPTION"] == f"座位：2\n签到码：{CODE}"
    stamp = event.decoded("DTSTAMP")
    assert stamp.tzinfo is not None
    assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=1)


def test_the_vtimezone_gives_the_zones_offset() -> None:
    calendar = _parse(booking_ics(notice_facts(), SHANGHAI, method="PUBLISH"))
    (timezone,) = calendar.timezones

    assert timezone.to_tz().utcoffset(datetime(2026, 12, 3, 19, 0)) == timedelta(hours=8)


def test_a_cancellation_cancels_the_same_event_without_the_code() -> None:
    calendar = _parse(booking_ics(notice_facts("booking_cancelled", checkin_code=CODE), SHANGHAI, method="CANCEL"))
    event = _only_event(calendar)

    assert calendar["METHOD"] == "CANCEL"
    assert event["STATUS"] == "CANCELLED"
    assert str(event["UID"]) == f"{BOOKING_ID}@learncity"
    assert CODE not in str(event["DESCRIPTION"])


def test_a_cancelled_session_gives_its_reason_in_english() -> None:
    facts = notice_facts(
        "session_cancelled", "en", session=session_facts(status="cancelled", sequence=4), cancel_reason="Speaker ill"
    )
    event = _only_event(_parse(booking_ics(facts, SHANGHAI, method="CANCEL")))

    assert event["SUMMARY"] == "Song Poetry Night Reading"
    assert event["DESCRIPTION"] == "Seats: 2\nReason: Speaker ill"
    assert event.decoded("SEQUENCE") == 4


def test_an_online_session_has_neither_location_nor_geo() -> None:
    online = session_facts(place_name=None, address=None, lat=None, lon=None)
    event = _only_event(_parse(booking_ics(notice_facts(session=online), SHANGHAI, method="PUBLISH")))

    assert "LOCATION" not in event
    assert "GEO" not in event


def test_a_booking_calendar_needs_the_booking() -> None:
    with pytest.raises(ValueError, match="booking"):
        booking_ics(notice_facts(booking_id=None), SHANGHAI, method="PUBLISH")


def test_a_feed_holds_each_booked_session_by_name() -> None:
    moved = session_facts(
        session_id=UUID("00000000-0000-7000-8000-000000000002"),
        starts_at=datetime(2027, 1, 5, 1, 30, tzinfo=UTC),
        ends_at=datetime(2027, 1, 5, 3, 0, tzinfo=UTC),
        sequence=7,
    )
    cancelled = session_facts(session_id=UUID("00000000-0000-7000-8000-000000000003"), status="cancelled")
    second, third = UUID(int=2), UUID(int=3)
    entries = [FeedEntry(BOOKING_ID, session_facts(), 2), FeedEntry(second, moved, 1), FeedEntry(third, cancelled, 1)]
    calendar = _parse(feed_ics(entries, SHANGHAI, name="王芳的学习日程"))

    assert calendar["X-WR-CALNAME"] == "王芳的学习日程"
    assert calendar["METHOD"] == "PUBLISH"
    events = {str(event["UID"]): event for event in calendar.events}
    assert set(events) == {f"{BOOKING_ID}@learncity", f"{second}@learncity", f"{third}@learncity"}
    later = events[f"{second}@learncity"]
    assert later.decoded("DTSTART") == datetime(2027, 1, 5, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert later.decoded("SEQUENCE") == 7
    assert later["DESCRIPTION"] == "座位：1"
    assert events[f"{third}@learncity"]["STATUS"] == "CANCELLED"
    # One VTIMEZONE, covering both years.
    assert [timezone["TZID"] for timezone in calendar.timezones] == ["Asia/Shanghai"]


def test_a_feed_never_holds_check_in_codes_and_speaks_the_language_asked() -> None:
    calendar = _parse(
        feed_ics([FeedEntry(BOOKING_ID, session_facts(), 1)], SHANGHAI, name="My sessions", language="en")
    )
    event = _only_event(calendar)

    assert event["SUMMARY"] == "Song Poetry Night Reading"
    assert event["DESCRIPTION"] == "Seats: 1"


def test_an_empty_feed_is_a_valid_calendar() -> None:
    calendar = _parse(feed_ics([], SHANGHAI, name="empty"))

    assert calendar.events == []
    assert calendar["X-WR-CALNAME"] == "empty"


def test_the_text_is_crlf_folded_at_75_octets() -> None:
    long_title = "终身学习" * 40 + " long English words " * 10
    facts = notice_facts(session=session_facts(title={"zh-CN": long_title}), checkin_code=CODE)
    ics = booking_ics(facts, SHANGHAI, method="PUBLISH")

    assert ics.endswith(b"\r\n")
    lines = ics.split(b"\r\n")[:-1]
    assert all(b"\n" not in line and b"\r" not in line for line in lines)
    assert all(len(line) <= 75 for line in lines)
    assert any(line.startswith(b" ") for line in lines)  # the title was folded...
    for line in lines:
        line.decode("utf-8")  # ...between characters, never inside one
    assert _only_event(_parse(ics))["SUMMARY"] == long_title
