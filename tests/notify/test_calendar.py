"""Personal calendar feeds: a secret rotatable URL, valid iCalendar with Asia/Shanghai times that
round-trip, following sessions as they move or are cancelled."""

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar
from fastapi import FastAPI

from tests.notify.conftest import GONGSHU_HALL, Bookings, Catalog, Mint, scalar
from tests.support import assert_problem

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(days: int, hour: int, minute: int = 0) -> datetime:
    day = datetime.now(SHANGHAI).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


async def feed_url(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    created = await client.post("/v1/calendar/feed", headers=headers)
    assert created.status_code == 201, created.text
    url: str = created.json()["url"]
    return url


async def events(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    """The feed's events by UID (the feed must parse)."""
    response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    assert "private" in response.headers["cache-control"]
    calendar = icalendar.Calendar.from_ical(response.content)
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


async def test_the_feed_holds_confirmed_sessions_in_shanghai_time(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    person = mint()
    evening = await catalog.schedule(starts_at=shanghai(2, 19), ends_at=shanghai(2, 20, 30))
    morning = await catalog.schedule(starts_at=shanghai(3, 9, 15), ends_at=shanghai(3, 11))
    waiting = await catalog.schedule()
    dropped = await catalog.schedule()
    booked = await bookings.confirm(person.id, evening.session_id, seats=2)
    await bookings.confirm(person.id, morning.session_id)
    await bookings.send("waitlisted", person.id, waiting.session_id, position=2)
    await bookings.cancel(await bookings.confirm(person.id, dropped.session_id), "by_owner")
    await bookings.confirm(mint().id, waiting.session_id)  # someone else's

    url = await feed_url(client, person.headers)
    assert url.startswith("http://gateway.test/v1/calendar/") and url.endswith(".ics")
    found = await events(client, url)
    assert len(found) == 2
    event = found[f"{booked.booking_id}@learncity"]
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    assert start == evening.starts_at and end == evening.ends_at  # the same instants...
    assert str(start.tzinfo) == "Asia/Shanghai" and (start.hour, start.minute) == (19, 0)  # ...in local time
    assert event["dtstart"].params["TZID"] == "Asia/Shanghai"
    assert "西湖读书会" in str(event["summary"])
    assert "湖滨图书馆" in str(event["location"])
    # Only the token's hash is kept.
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    stored = await scalar(
        apps["notify"], "SELECT token_hash FROM notify.calendar_feeds WHERE person_id = :id", id=person.id
    )
    assert stored != token and len(stored) == 64


async def test_the_feed_follows_moved_and_cancelled_sessions(
    client: httpx.AsyncClient, catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    person = mint()
    moving = await catalog.schedule(starts_at=shanghai(2, 19), ends_at=shanghai(2, 20))
    cancelled = await catalog.schedule()
    booking = await bookings.confirm(person.id, moving.session_id)
    await bookings.confirm(person.id, cancelled.session_id)
    url = await feed_url(client, person.headers)
    before = (await events(client, url))[f"{booking.booking_id}@learncity"]

    await catalog.update(
        moving, starts_at=shanghai(4, 14, 30), ends_at=shanghai(4, 16), site_id=GONGSHU_HALL.site_id, place=GONGSHU_HALL
    )
    assert await catalog.sender.deliver(catalog.cancelled(cancelled)) == ["applied"]
    found = await events(client, url)
    assert list(found) == [f"{booking.booking_id}@learncity"]
    after = found[f"{booking.booking_id}@learncity"]
    assert after.decoded("dtstart") == shanghai(4, 14, 30)
    assert after.decoded("dtstart").strftime("%H:%M") == "14:30"
    assert "拱墅文化馆" in str(after["location"])
    assert int(after["sequence"]) > int(before["sequence"])


async def test_a_new_url_replaces_the_old_one(client: httpx.AsyncClient, mint: Mint) -> None:
    person = mint()
    old = await feed_url(client, person.headers)
    new = await feed_url(client, person.headers)
    assert new != old
    assert_problem(await client.get(old), 404)
    assert (await client.get(new)).status_code == 200
    # An empty feed is still a calendar.
    assert await events(client, new) == {}


async def test_unknown_feeds_are_404_and_making_one_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/calendar/not-a-real-token.ics"), 404)
    assert_problem(await client.get(f"/v1/calendar/{'x' * 43}.ics"), 404)
    assert_problem(await client.post("/v1/calendar/feed"), 401)
