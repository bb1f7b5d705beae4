"""No-shows: a confirmed seat (own booking or member line, never an organization's block) nobody checked in by
the session's end plus the grace period becomes `no_show`, exactly once whatever the concurrency, and too
many of them within the window lower the person's active-bookings limit (the fairness rule)."""

import asyncio
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from services.booking.attendance.service import NoShowSweep
from services.booking.attendance.worker import no_show_sweeper
from services.booking.bookings.repository import new_checkin_code
from services.booking.limits.service import NO_SHOW_RULE
from services.booking.models import Booking, Restriction
from shared.db import utcnow
from shared.events.schemas import SessionSnapshot
from shared.ids import new_id
from tests.booking.conftest import CatalogStandIn, Mint, book, minutes_from_now, notices_for_notify, organization
from tests.support import Person, assert_problem


def no_show_sweep(apps: dict[str, FastAPI]) -> NoShowSweep:
    state = apps["booking"].state
    return NoShowSweep(state.database, state.outbox, state.bookings_entered, state.settings)


async def end_in_past(catalog: CatalogStandIn, session: SessionSnapshot, ended_ago: timedelta) -> SessionSnapshot:
    """The catalog moves the session so that it ended `ended_ago` ago (after 90 minutes)."""
    ends_at = utcnow() - ended_ago
    return await catalog.update(session, starts_at=ends_at - timedelta(minutes=90), ends_at=ends_at)


async def booked(client: httpx.AsyncClient, person: Person, session: SessionSnapshot, **fields: Any) -> dict[str, Any]:
    response = await book(client, person, session.session_id, **fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def status_of(client: httpx.AsyncClient, person: Person, booking_id: str) -> str:
    response = await client.get(f"/v1/bookings/{booking_id}", headers=person.headers)
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    # Only a confirmed booking carries a code: a no-show's died with it.
    assert ("checkin_code" in response.json()) == (status == "confirmed")
    return status


async def insert_line(apps: dict[str, FastAPI], block: dict[str, Any], member: Person) -> UUID:
    """A member line of `block` for `member`, written as the lines code writes one: one seat of the block,
    counted in the block's seats (the inventory does not count it again)."""
    line_id = new_id()
    async with apps["booking"].state.database.sessionmaker.begin() as db:
        ends_at = (
            await db.execute(select(Booking.session_ends_at).where(Booking.id == UUID(block["id"])))
        ).scalar_one()
        db.add(
            Booking(
                id=line_id,
                session_id=UUID(block["session_id"]),
                person_id=UUID(member.id),
                organization_id=UUID(block["organization_id"]),
                block_id=UUID(block["id"]),
                seats=1,
                status="confirmed",
                checkin_code=new_checkin_code(),
                confirmed_at=utcnow(),
                session_ends_at=ends_at,
            )
        )
    return line_id


async def no_show_events(apps: dict[str, FastAPI], *booking_ids: UUID | str) -> list[dict[str, Any]]:
    return [row for row in await notices_for_notify(apps["booking"], *booking_ids) if row["type"] == "booking.no_show"]


async def restriction_of(apps: dict[str, FastAPI], person: Person) -> Restriction | None:
    async with apps["booking"].state.database.sessionmaker() as db:
        restriction: Restriction | None = await db.get(Restriction, UUID(person.id))
        return restriction


async def test_only_unattended_confirmed_seats_become_no_shows_after_the_grace(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    host = await organization(client, roles=("coordinator",))
    club = await organization(client, roles=("coordinator", "member"))
    absent, present, waiting, cancelling = mint(), mint(), mint(), mint()
    # Starts in 30 minutes, so check-in is open now; 4 seats: two people and a block of two.
    reading = await catalog.schedule(host_org_id=host.id, starts_at=minutes_from_now(30), capacity=4)
    missed = await booked(client, absent, reading)
    attended = await booked(client, present, reading)
    block = await booked(client, club["coordinator"], reading, seats=2, organization_id=club.id)
    line_id = await insert_line(apps, block, club["member"])
    waitlisted = await booked(client, waiting, reading)
    assert waitlisted["status"] == "waitlisted"
    other = await catalog.schedule(host_org_id=host.id, starts_at=minutes_from_now(40))
    cancelled = await booked(client, cancelling, other)
    cancel = await client.post(f"/v1/bookings/{cancelled['id']}/cancel", headers=cancelling.headers)
    assert cancel.status_code == 200, cancel.text
    checkin = await client.post(
        "/v1/checkins", json={"code": attended["checkin_code"]}, headers=host["coordinator"].headers
    )
    assert checkin.status_code == 200, checkin.text

    sweep = no_show_sweep(apps)
    grace = apps["booking"].state.settings.no_show_grace
    assert grace == timedelta(minutes=30)
    # Within the grace period nothing happens, even once the session has ended.
    assert (await sweep.run_once(now=reading.ends_at + grace - timedelta(seconds=1))).marked == 0
    assert await status_of(client, absent, missed["id"]) == "confirmed"

    assert (await sweep.run_once(now=reading.ends_at + grace + timedelta(seconds=1))).marked == 2
    assert await status_of(client, absent, missed["id"]) == "no_show"
    assert await status_of(client, club["member"], str(line_id)) == "no_show"
    assert await status_of(client, present, attended["id"]) == "confirmed"  # checked in
    assert await status_of(client, waiting, waitlisted["id"]) == "waitlisted"
    assert await status_of(client, cancelling, cancelled["id"]) == "cancelled"
    assert await status_of(client, club["coordinator"], block["id"]) == "confirmed"  # a block never is
    listed = await client.get("/v1/bookings", params={"status": "no_show"}, headers=absent.headers)
    assert [item["id"] for item in listed.json()["items"]] == [missed["id"]]

    # Each no-show told once, as `booking.no_show` (cause no_show), in the transaction that marked it.
    events = await no_show_events(apps)
    assert sorted(event["aggregate_id"] for event in events) == sorted([UUID(missed["id"]), line_id])
    by_booking = {event["payload"]["booking_id"]: event["payload"] for event in events}
    told = by_booking[missed["id"]]
    assert (told["status"], told["cause"], told["person_id"], told["checkin_code"]) == (
        "no_show",
        "no_show",
        absent.id,
        None,
    )
    assert by_booking[str(line_id)]["block_id"] == block["id"]
    assert by_booking[str(line_id)]["person_id"] == club["member"].id

    # A second sweep finds nothing; the dead code admits nobody; nothing is credited.
    assert (await sweep.run_once(now=reading.ends_at + grace + timedelta(hours=1))).marked == 0
    assert len(await no_show_events(apps)) == 2
    late = await client.post("/v1/checkins", json={"code": missed["checkin_code"]}, headers=host["coordinator"].headers)
    assert_problem(late, 404)
    record = (await client.get("/v1/learning-records/me", headers=absent.headers)).json()
    assert (record["total_minutes"], record["sessions_attended"], record["items"]) == (0, 0, [])
    assert (await client.get("/v1/learning-records/me", headers=present.headers)).json()["total_minutes"] == 90
    assert apps["booking"].state.settings.no_show_sweep_interval_s == 0  # tests sweep by hand


async def test_concurrent_sweeps_mark_and_tell_each_no_show_once(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    people = [mint() for _ in range(12)]
    lecture = await catalog.schedule(capacity=12)
    bookings = [await booked(client, person, lecture) for person in people]
    await end_in_past(catalog, lecture, timedelta(hours=1))
    sweep = no_show_sweep(apps)
    # Small batches, so the two sweeps interleave: each skips the rows the other holds.
    outcomes = await asyncio.gather(sweep.run_once(batch_size=3), sweep.run_once(batch_size=3))
    assert sum(outcome.marked for outcome in outcomes) == 12
    events = await no_show_events(apps)
    assert sorted(event["aggregate_id"] for event in events) == sorted(UUID(b["id"]) for b in bookings)
    assert [(await sweep.run_once()).marked for _ in range(2)] == [0, 0]
    assert len(await no_show_events(apps)) == 12
    for person, booking in zip(people, bookings, strict=True):
        assert await status_of(client, person, booking["id"]) == "no_show"


async def test_the_background_sweeper_runs_every_interval_and_zero_turns_it_off(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    person = mint()
    session = await catalog.schedule()
    booking = await booked(client, person, session)
    await end_in_past(catalog, session, timedelta(hours=1))
    async with no_show_sweeper(no_show_sweep(apps), interval_s=0):
        await asyncio.sleep(0.2)
    assert await status_of(client, person, booking["id"]) == "confirmed"
    async with no_show_sweeper(no_show_sweep(apps), interval_s=0.05):
        for _ in range(100):
            if await status_of(client, person, booking["id"]) == "no_show":
                break
            await asyncio.sleep(0.05)
    assert await status_of(client, person, booking["id"]) == "no_show"
    assert len(await no_show_events(apps, booking["id"])) == 1


async def test_too_many_no_shows_lower_the_active_bookings_limit(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    settings = apps["booking"].state.settings
    assert (settings.no_show_threshold, settings.no_show_window_days, settings.no_show_max_active) == (3, 90, 2)
    person = mint()
    sweep = no_show_sweep(apps)

    async def miss(ended_ago: timedelta) -> datetime:
        session = await catalog.schedule()
        await booked(client, person, session)
        moved = await end_in_past(catalog, session, ended_ago)
        assert (await sweep.run_once(ended_after=moved.ends_at - timedelta(seconds=1))).marked == 1
        return moved.ends_at

    async def standing() -> dict[str, Any]:
        response = await client.get("/v1/learning-records/me", headers=person.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()["standing"]
        return body

    assert await standing() == {
        "no_shows": 0,
        "window_days": 90,
        "threshold": 3,
        "max_active_bookings": 20,
        "restricted_until": None,
    }
    # A no-show older than the window never counts; a booking that old is not even swept by default.
    old = await catalog.schedule()
    await booked(client, person, old)
    old = await end_in_past(catalog, old, timedelta(days=91))
    assert (await sweep.run_once()).marked == 0
    assert (await sweep.run_once(ended_after=old.ends_at - timedelta(seconds=1))).marked == 1
    oldest_counted = await miss(timedelta(hours=5))
    await miss(timedelta(hours=4))
    assert await standing() == {
        "no_shows": 2,
        "window_days": 90,
        "threshold": 3,
        "max_active_bookings": 20,
        "restricted_until": None,
    }
    assert await restriction_of(apps, person) is None
    await miss(timedelta(hours=3))
    # Restricted until the oldest of the three counted leaves the window.
    restricted_until = oldest_counted + timedelta(days=90)
    held = await standing()
    assert held["no_shows"] == 3 and held["max_active_bookings"] == 2
    assert datetime.fromisoformat(held["restricted_until"]) == restricted_until

    wanted = [await catalog.schedule() for _ in range(3)]
    assert [(await book(client, person, s.session_id)).status_code for s in wanted[:2]] == [201, 201]
    refused = await book(client, person, wanted[2].session_id)
    problem = assert_problem(refused, 429)
    assert problem["rule"] == NO_SHOW_RULE
    assert problem["max_active_bookings"] == 2 and problem["no_shows"] == 3
    assert datetime.fromisoformat(str(problem["restricted_until"])) == restricted_until
    assert int(refused.headers["retry-after"]) >= 1
    # Someone without no-shows is not affected.
    assert (await book(client, mint(), wanted[2].session_id)).status_code == 201

    # Once the time is up the sweep drops the restriction (cancel first: a later sweep would mark them).
    for booking in (await client.get("/v1/bookings", params={"status": "confirmed"}, headers=person.headers)).json()[
        "items"
    ]:
        assert (await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=person.headers)).status_code == 200
    assert (await sweep.run_once(now=restricted_until - timedelta(seconds=1))).lapsed == 0
    assert await restriction_of(apps, person) is not None
    assert (await sweep.run_once(now=restricted_until + timedelta(seconds=1))).lapsed == 1
    assert await restriction_of(apps, person) is None
