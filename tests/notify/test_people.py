"""A person's data in notify: exported whole for orgs' `GET /v1/me/export`, erased whole on
`person.erased` (no row of any notify table names them afterwards)."""

from datetime import timedelta

import httpx
from fastapi import FastAPI

from tests.notify.conftest import (
    INTERNAL,
    Bookings,
    Catalog,
    Mint,
    SmtpSink,
    hours_from_now,
    naming,
    put_contact,
)
from tests.support import Person, assert_problem


def export_url(person: Person) -> str:
    return f"http://notify.internal/internal/v1/people/{person.id}/export"


async def a_full_history(
    client: httpx.AsyncClient, app: FastAPI, catalog: Catalog, bookings: Bookings, person: Person
) -> None:
    await put_contact(app, person, email="erase.me@example.org", language="zh-CN", name="小红")
    chosen = {"email": True, "language": "zh-CN", "reminders_minutes_before": [60]}
    assert (await client.put("/v1/notifications/preferences", json=chosen, headers=person.headers)).status_code == 200
    assert (await client.post("/v1/calendar/feed", headers=person.headers)).status_code == 201
    session = await catalog.schedule(starts_at=hours_from_now(30))
    booking = await bookings.confirm(person.id, session.session_id)
    await bookings.send("waitlisted", person.id, (await catalog.schedule()).session_id, position=1)
    later = hours_from_now(40)
    await catalog.update(session, starts_at=later, ends_at=later + timedelta(hours=1))
    assert booking.booking_id


async def test_the_export_holds_everything_notify_keeps_about_the_person(
    client: httpx.AsyncClient,
    mailing: SmtpSink,
    apps: dict[str, FastAPI],
    catalog: Catalog,
    bookings: Bookings,
    mint: Mint,
) -> None:
    person = mint()
    await a_full_history(client, apps["notify"], catalog, bookings, person)
    response = await client.get(export_url(person), headers=INTERNAL)
    assert response.status_code == 200, response.text
    exported = response.json()
    assert set(exported) == {"preferences", "notifications", "reminders", "calendar_feed", "contact"}
    assert exported["preferences"]["reminders_minutes_before"] == [60]
    assert [n["kind"] for n in exported["notifications"]] == [
        "booking_confirmed",
        "booking_waitlisted",
        "session_changed",
    ]
    assert all(n["title"] and n["body"] for n in exported["notifications"])
    assert [r["minutes_before"] for r in exported["reminders"]] == [60]
    assert exported["calendar_feed"]["created_at"]
    assert exported["contact"]["email"] == "erase.me@example.org"

    nobody = await client.get(export_url(mint()), headers=INTERNAL)
    assert nobody.json() == {
        "preferences": None,
        "notifications": [],
        "reminders": [],
        "calendar_feed": None,
        "contact": None,
    }
    assert_problem(await client.get(export_url(person)), 401)  # service credentials only


async def test_erasure_leaves_no_row_naming_the_person(
    client: httpx.AsyncClient,
    mailing: SmtpSink,
    apps: dict[str, FastAPI],
    catalog: Catalog,
    bookings: Bookings,
    mint: Mint,
) -> None:
    notify = apps["notify"]
    person, neighbour = mint(), mint()
    await a_full_history(client, notify, catalog, bookings, person)
    await put_contact(notify, neighbour, email="stays@example.org", language="en")
    await bookings.confirm(neighbour.id, (await catalog.schedule()).session_id)
    assert {"notifications", "mails", "reminders", "preferences", "calendar_feeds", "contacts", "holdings"} <= set(
        await naming(notify, person.id, "erase.me@example.org")
    )

    erased = bookings.erased(person.id)
    assert await bookings.sender.deliver(erased) == ["applied"]
    assert await bookings.sender.deliver(erased) == ["duplicate"]
    assert await naming(notify, person.id, "erase.me@example.org") == {}
    # Everyone else's data stays.
    assert set(await naming(notify, neighbour.id)) == {"notifications", "mails", "reminders", "contacts", "holdings"}
