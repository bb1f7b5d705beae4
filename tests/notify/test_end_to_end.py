"""notify with the real catalog, booking and orgs: public routes, their events delivered by their relays
(`deliver_events`), and mail to the in-process SMTP sink."""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import icalendar
from fastapi import FastAPI
from sqlalchemy import text

from tests.booking.conftest import book, organization
from tests.notify.conftest import SmtpSink, inbox, kinds, rows, send_mail
from tests.support import Person, new_email, register_and_login

Deliver = Callable[[], Awaitable[int]]


async def hosted_session(client: httpx.AsyncClient, capacity: int, starts_at: datetime) -> tuple[str, dict[str, str]]:
    """A session at a site, made through the catalog's public routes; its id and its host admin's headers."""
    org = await organization(client, roles=("admin",))
    admin = org["admin"].headers
    site = await client.post(
        "/v1/sites",
        json={
            "name": {"zh-CN": "湖滨图书馆", "en": "Hubin Library"},
            "kind": "library",
            "location": {"lat": 30.259, "lon": 120.165},
            "address": "1 Hubin Road",
            "owner_org_id": org.id,
        },
        headers=admin,
    )
    assert site.status_code == 201, site.text
    activity = await client.post(
        "/v1/activities",
        json={
            "title": {"zh-CN": "诗歌之夜", "en": "Poetry evening"},
            "kind": "reading",
            "host_org_id": org.id,
            "site_id": site.json()["id"],
        },
        headers=admin,
    )
    assert activity.status_code == 201, activity.text
    created = await client.post(
        f"/v1/activities/{activity.json()['id']}/sessions",
        json={
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + timedelta(hours=1)).isoformat(),
            "capacity": capacity,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    session_id: str = created.json()["items"][0]["id"]
    return session_id, admin


async def people(client: httpx.AsyncClient, count: int) -> list[Person]:
    return [await register_and_login(client, new_email("notify"), display_name=f"Reader {n}") for n in range(count)]


async def booked(client: httpx.AsyncClient, person: Person, session_id: str) -> dict[str, Any]:
    response = await book(client, person, session_id)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_cancellation_promotes_the_next_person_who_is_told_in_app_and_by_mail(
    client: httpx.AsyncClient, mailing: SmtpSink, apps: dict[str, FastAPI], deliver_events: Deliver
) -> None:
    session_id, _ = await hosted_session(client, 1, datetime.now().astimezone() + timedelta(days=2))
    first, second = await people(client, 2)
    holding = await booked(client, first, session_id)
    waiting = await booked(client, second, session_id)
    assert (holding["status"], waiting["status"]) == ("confirmed", "waitlisted")
    await deliver_events()

    cancelled = await client.post(f"/v1/bookings/{holding['id']}/cancel", headers=first.headers)
    assert cancelled.status_code == 200, cancelled.text
    await deliver_events()
    assert await kinds(client, first) == ["booking_confirmed", "booking_cancelled"]
    assert await kinds(client, second) == ["booking_waitlisted", "waitlist_promoted"]
    promoted = (await inbox(client, second))[0]
    assert promoted["booking_id"] == waiting["id"] and "Reader 1" in promoted["body"]

    await send_mail(apps["notify"])
    subjects = [message["Subject"] for message in mailing.to(second.email)]
    assert "候补成功：诗歌之夜" in subjects  # the default language: registration said none


async def test_a_host_cancellation_tells_each_holder_once_even_delivered_twice(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], deliver_events: Deliver
) -> None:
    session_id, admin = await hosted_session(client, 2, datetime.now().astimezone() + timedelta(days=2))
    holders = await people(client, 3)
    for person in holders:
        await booked(client, person, session_id)
    await deliver_events()

    cancelled = await client.post(f"/v1/sessions/{session_id}/cancel", json={"reason": "暴雨预警"}, headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    await deliver_events()
    # Every event to notify delivered a second time (as after a relay crash before it marked them).
    for producer in ("catalog", "booking"):
        async with apps[producer].state.database.sessionmaker.begin() as db:
            await db.execute(text(f"UPDATE {producer}.outbox SET status = 'pending' WHERE subscriber = 'notify'"))
    assert await deliver_events() > 0

    for person in holders:
        notices = [n for n in await inbox(client, person) if n["kind"] == "session_cancelled"]
        assert len(notices) == 1, notices
        assert "诗歌之夜" in notices[0]["title"]


async def test_a_moved_session_moves_its_reminders_and_calendar_event(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], deliver_events: Deliver
) -> None:
    starts_at = datetime.now().astimezone().replace(microsecond=0) + timedelta(days=2)
    session_id, admin = await hosted_session(client, 5, starts_at)
    (person,) = await people(client, 1)
    booking = await booked(client, person, session_id)
    await deliver_events()
    feed = await client.post("/v1/calendar/feed", headers=person.headers)
    assert feed.status_code == 201, feed.text

    moved_to = starts_at + timedelta(days=1, hours=2)
    patched = await client.patch(
        f"/v1/sessions/{session_id}",
        json={"starts_at": moved_to.isoformat(), "ends_at": (moved_to + timedelta(hours=1)).isoformat()},
        headers=admin,
    )
    assert patched.status_code == 200, patched.text
    await deliver_events()

    assert await kinds(client, person) == ["booking_confirmed", "session_changed"]
    due = await rows(
        apps["notify"],
        "SELECT minutes_before, due_at FROM notify.reminders WHERE booking_id = :id ORDER BY minutes_before",
        id=booking["id"],
    )
    assert [(row.minutes_before, row.due_at) for row in due] == [
        (120, moved_to - timedelta(hours=2)),
        (1440, moved_to - timedelta(days=1)),
    ]
    calendar = icalendar.Calendar.from_ical((await client.get(feed.json()["url"])).content)
    (event,) = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == moved_to
