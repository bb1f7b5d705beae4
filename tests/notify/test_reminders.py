"""Reminders: armed per confirmed booking and offset, sent once when due (whatever the workers), moved with
their session, dropped with their booking, and following the person's preferences."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.notify.reminders.worker import ReminderWorker
from tests.notify.conftest import Bookings, Catalog, Mint, hours_from_now, inbox, kinds, rows, scalar


async def armed(app: FastAPI, booking_id: UUID) -> dict[int, tuple[datetime, bool]]:
    """A booking's reminders: minutes before -> (due at, sent)."""
    found = await rows(
        app,
        "SELECT minutes_before, due_at, sent_at FROM notify.reminders WHERE booking_id = :id",
        id=booking_id,
    )
    return {row.minutes_before: (row.due_at, row.sent_at is not None) for row in found}


async def come_due(app: FastAPI, booking_id: UUID, minutes_before: int) -> None:
    """Time passes for one reminder: it is due now."""
    async with app.state.database.sessionmaker.begin() as session:
        await session.execute(
            text("UPDATE notify.reminders SET due_at = :now WHERE booking_id = :id AND minutes_before = :minutes"),
            {"id": booking_id, "minutes": minutes_before, "now": datetime.now(UTC) - timedelta(seconds=1)},
        )


async def reminders_of(client: httpx.AsyncClient, person: Any) -> list[dict[str, Any]]:
    return [n for n in await inbox(client, person) if n["kind"] == "reminder"]


async def test_a_confirmed_booking_arms_the_default_reminders_still_ahead(
    apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    notify = apps["notify"]
    far = await catalog.schedule(starts_at=hours_from_now(48))
    near = await catalog.schedule(starts_at=hours_from_now(3))
    person = mint()
    at_far = await bookings.confirm(person.id, far.session_id)
    at_near = await bookings.confirm(person.id, near.session_id)
    waiting = await bookings.send("waitlisted", person.id, far.session_id, position=1)

    assert await armed(notify, at_far.booking_id) == {
        1440: (far.starts_at - timedelta(days=1), False),
        120: (far.starts_at - timedelta(hours=2), False),
    }
    assert await armed(notify, at_near.booking_id) == {120: (near.starts_at - timedelta(hours=2), False)}
    assert await armed(notify, waiting.booking_id) == {}


async def test_a_due_reminder_is_sent_once(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    notify = apps["notify"]
    session = await catalog.schedule(starts_at=hours_from_now(30))
    person = mint()
    booking = await bookings.confirm(person.id, session.session_id)
    assert await notify.state.reminders.run_once() == 0  # nothing due yet

    await come_due(notify, booking.booking_id, 1440)
    assert await notify.state.reminders.run_once() == 1
    assert await notify.state.reminders.run_once() == 0
    (reminder,) = await reminders_of(client, person)
    assert reminder["title"] == "活动提醒：“西湖读书会”明天开始"
    assert reminder["booking_id"] == str(booking.booking_id)
    assert booking.checkin_code is not None and booking.checkin_code in reminder["body"]
    assert (await armed(notify, booking.booking_id))[1440][1] is True
    assert (await armed(notify, booking.booking_id))[120][1] is False


async def test_two_workers_at_once_send_each_reminder_once(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    notify = apps["notify"]
    session = await catalog.schedule(starts_at=hours_from_now(30))
    people = [mint() for _ in range(12)]
    for person in people:
        booking = await bookings.confirm(person.id, session.session_id)
        await come_due(notify, booking.booking_id, 1440)
        await come_due(notify, booking.booking_id, 120)

    # Two replicas, each taking small batches until nothing is due.
    replicas = [ReminderWorker(notify.state.database, notify.state.notify, batch_size=5) for _ in range(2)]

    async def drain(worker: ReminderWorker) -> int:
        total = 0
        while handled := await worker.run_once():
            total += handled
        return total

    counts = await asyncio.gather(*(drain(worker) for worker in replicas))
    assert sum(counts) == 24
    for person in people:
        assert len(await reminders_of(client, person)) == 2
    assert await scalar(notify, "SELECT count(*) FROM notify.reminders WHERE sent_at IS NULL") == 0


async def test_reminders_follow_a_moved_session(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    notify = apps["notify"]
    session = await catalog.schedule(starts_at=hours_from_now(30))
    person = mint()
    booking = await bookings.confirm(person.id, session.session_id)
    await come_due(notify, booking.booking_id, 1440)
    assert await notify.state.reminders.run_once() == 1  # the day-before reminder went out

    later = hours_from_now(72)
    await catalog.update(session, starts_at=later, ends_at=later + timedelta(hours=1))
    # Both move to the new time; the one already sent is armed again, its new time being ahead.
    assert await armed(notify, booking.booking_id) == {
        1440: (later - timedelta(days=1), False),
        120: (later - timedelta(hours=2), False),
    }
    await come_due(notify, booking.booking_id, 1440)
    assert await notify.state.reminders.run_once() == 1
    assert len(await reminders_of(client, person)) == 2  # one per start time

    # Moved to within two hours: no reminder time is ahead any more, so none is pending.
    soon = datetime.now(UTC) + timedelta(minutes=90)
    await catalog.update(session, starts_at=soon, ends_at=soon + timedelta(hours=1))
    assert not any(sent is False for _, sent in (await armed(notify, booking.booking_id)).values())


async def test_cancellations_drop_unsent_reminders(
    apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    notify = apps["notify"]
    session = await catalog.schedule(starts_at=hours_from_now(30))
    other = await catalog.schedule(starts_at=hours_from_now(30))
    person = mint()
    own = await bookings.confirm(person.id, session.session_id)
    await bookings.cancel(own, "by_owner")
    assert await armed(notify, own.booking_id) == {}

    held = await bookings.confirm(person.id, other.session_id)
    assert len(await armed(notify, held.booking_id)) == 2
    assert await catalog.sender.deliver(catalog.cancelled(other)) == ["applied"]
    assert await armed(notify, held.booking_id) == {}


async def test_a_reminder_of_a_session_already_begun_says_nothing(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    notify = apps["notify"]
    session = await catalog.schedule(starts_at=hours_from_now(30))
    person = mint()
    booking = await bookings.confirm(person.id, session.session_id)
    async with notify.state.database.sessionmaker.begin() as db:
        await db.execute(
            text("UPDATE notify.sessions SET starts_at = now() - interval '1 minute' WHERE session_id = :id"),
            {"id": session.session_id},
        )
    await come_due(notify, booking.booking_id, 120)
    assert await notify.state.reminders.run_once() == 1
    assert await reminders_of(client, person) == []
    assert (await armed(notify, booking.booking_id))[120][1] is True


async def test_preferences_rearm_unsent_reminders(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    notify = apps["notify"]
    session = await catalog.schedule(starts_at=hours_from_now(30))
    person = mint()
    booking = await bookings.confirm(person.id, session.session_id)

    chosen = {"email": True, "language": "en", "reminders_minutes_before": [60, 2880, 30]}
    saved = await client.put("/v1/notifications/preferences", json=chosen, headers=person.headers)
    assert saved.status_code == 200, saved.text
    # 2880 minutes before is already past: not armed.
    assert await armed(notify, booking.booking_id) == {
        60: (session.starts_at - timedelta(minutes=60), False),
        30: (session.starts_at - timedelta(minutes=30), False),
    }
    # New bookings take the person's offsets too.
    other = await catalog.schedule(starts_at=hours_from_now(50))
    assert set(await armed(notify, (await bookings.confirm(person.id, other.session_id)).booking_id)) == {
        2880,
        60,
        30,
    }

    off = await client.put(
        "/v1/notifications/preferences", json=chosen | {"reminders_minutes_before": []}, headers=person.headers
    )
    assert off.status_code == 200, off.text
    assert await armed(notify, booking.booking_id) == {}
    assert await kinds(client, person) == ["booking_confirmed", "booking_confirmed"]
