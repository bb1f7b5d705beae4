"""The active-bookings limit counts a person's bookings by the end their session carries
(`bookings.session_ends_at`): every way a booking row is made fills it from the inventory, a session that
moves moves its bookings, and the bounded count still refuses exactly at the limit."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from services.booking.models import Booking, Inventory
from shared.db import utcnow
from shared.events.schemas import SessionSnapshot
from tests.booking.conftest import CatalogStandIn, Mint, book, minutes_from_now, organization
from tests.support import Person, assert_problem

MAX_ACTIVE = 3


@contextmanager
def _max_active(apps: dict[str, FastAPI], limit: int) -> Iterator[int]:
    """BOOKING_MAX_ACTIVE_PER_PERSON set to `limit` meanwhile (both booking paths read the app's settings
    per request)."""
    state = apps["booking"].state
    saved = state.settings
    state.settings = saved.model_copy(update={"max_active_per_person": limit})
    try:
        yield limit
    finally:
        state.settings = saved


@pytest.fixture
def max_active(apps: dict[str, FastAPI]) -> Iterator[int]:
    with _max_active(apps, MAX_ACTIVE) as limit:
        yield limit


async def _ends_at(apps: dict[str, FastAPI], booking_id: str) -> tuple[datetime, datetime]:
    """(the booking's `session_ends_at`, its session's `ends_at`)."""
    statement = (
        select(Booking.session_ends_at, Inventory.ends_at)
        .join(Inventory, Inventory.session_id == Booking.session_id)
        .where(Booking.id == UUID(booking_id))
    )
    async with apps["booking"].state.database.sessionmaker() as db:
        ends, session_ends = (await db.execute(statement)).one()
    return ends, session_ends


async def _assert_every_booking_carries_its_session_end(apps: dict[str, FastAPI]) -> None:
    statement = (
        select(func.count())
        .select_from(Booking)
        .join(Inventory, Inventory.session_id == Booking.session_id)
        .where(Booking.session_ends_at != Inventory.ends_at)
    )
    async with apps["booking"].state.database.sessionmaker() as db:
        assert (await db.execute(statement)).scalar_one() == 0


async def _booked(client: httpx.AsyncClient, person: Person, session: SessionSnapshot, **fields: Any) -> str:
    response = await book(client, person, session.session_id, **fields)
    assert response.status_code == 201, response.text
    booking_id: str = response.json()["id"]
    return booking_id


async def _fill(client: httpx.AsyncClient, catalog: CatalogStandIn, person: Person, count: int) -> list[str]:
    """`count` confirmed bookings of the person, one session each."""
    return [await _booked(client, person, await catalog.schedule()) for _ in range(count)]


@pytest.mark.parametrize("last", ["confirmed", "waitlisted"])
async def test_the_limit_holds_exactly_at_its_boundary(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint, max_active: int, last: str
) -> None:
    person = mint()
    await _fill(client, catalog, person, max_active - 1)
    # One below the limit: one more (a free seat, or a full session's waitlist).
    last_session = await catalog.schedule(capacity=1)
    if last == "waitlisted":
        await _booked(client, mint(), last_session)  # someone else takes the seat
    made = await book(client, person, last_session.session_id, key="the-last-one")
    assert (made.status_code, made.json()["status"]) == (201, last), made.text
    # At the limit: 429 for a free seat and for a full session's waitlist alike, and nothing booked.
    limited = await book(client, person, (await catalog.schedule()).session_id)
    assert f"You hold {max_active} active bookings" in str(assert_problem(limited, 429)["detail"])
    assert int(limited.headers["retry-after"]) >= 1
    full = await catalog.schedule(capacity=1)
    await _booked(client, mint(), full)
    assert_problem(await book(client, person, full.session_id), 429)
    assert len((await client.get("/v1/bookings", headers=person.headers)).json()["items"]) == max_active
    # A replay of the booking made is still its answer, not a refusal.
    replayed = await book(client, person, last_session.session_id, key="the-last-one")
    assert (replayed.status_code, replayed.json()) == (201, made.json())
    await _assert_every_booking_carries_its_session_end(apps)


async def test_the_bounded_count_refuses_a_person_above_the_limit(
    client: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    catalog: CatalogStandIn,
    mint: Mint,
) -> None:
    """Counting stops at the limit: a person holding more (the limit was lowered) is refused as well."""
    person = mint()
    await _fill(client, catalog, person, MAX_ACTIVE + 2)
    full = await catalog.schedule(capacity=1)
    await _booked(client, mint(), full)
    with _max_active(apps, MAX_ACTIVE):
        assert_problem(await book(client, person, (await catalog.schedule()).session_id), 429)
        assert_problem(await book(client, person, full.session_id), 429)


async def test_an_organization_booking_counts_and_is_limited_like_any_other(
    client: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    catalog: CatalogStandIn,
    max_active: int,
) -> None:
    org = await organization(client, roles=("coordinator",))
    coordinator = org["coordinator"]
    await _fill(client, catalog, coordinator, max_active - 1)
    session = await catalog.schedule(capacity=20)
    booking_id = await _booked(client, coordinator, session, seats=5, organization_id=org.id)
    ends, session_ends = await _ends_at(apps, booking_id)
    assert ends == session_ends == session.ends_at
    assert_problem(await book(client, coordinator, (await catalog.schedule()).session_id, organization_id=org.id), 429)
    await _assert_every_booking_carries_its_session_end(apps)


async def test_bookings_of_ended_sessions_do_not_count(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint, max_active: int
) -> None:
    person = mint()
    sessions = [await catalog.schedule() for _ in range(max_active)]
    held = [await _booked(client, person, s) for s in sessions]
    assert_problem(await book(client, person, (await catalog.schedule()).session_id), 429)
    # The first session moves into the past (ended an hour ago): its booking stops counting.
    past = await catalog.update(
        sessions[0], starts_at=utcnow() - timedelta(hours=2), ends_at=utcnow() - timedelta(hours=1)
    )
    assert await _ends_at(apps, held[0]) == (past.ends_at, past.ends_at)
    replacement = await _booked(client, person, await catalog.schedule())
    assert_problem(await book(client, person, (await catalog.schedule()).session_id), 429)
    # It moves back into the future: it counts again, so even a freed place is taken by it.
    back = await catalog.update(past, starts_at=minutes_from_now(3 * 60), ends_at=minutes_from_now(4 * 60))
    assert await _ends_at(apps, held[0]) == (back.ends_at, back.ends_at)
    cancelled = await client.post(f"/v1/bookings/{replacement}/cancel", headers=person.headers)
    assert cancelled.json()["status"] == "cancelled"
    assert_problem(await book(client, person, (await catalog.schedule()).session_id), 429)
    await _assert_every_booking_carries_its_session_end(apps)


async def test_a_moved_session_moves_its_bookings_and_only_when_its_end_changes(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=1)
    confirmed = await _booked(client, mint(), session)
    waitlisted = await _booked(client, mint(), session)
    cancelled_by = mint()
    cancelled = await _booked(client, cancelled_by, session)
    await client.post(f"/v1/bookings/{cancelled}/cancel", headers=cancelled_by.headers)
    booking_ids = (confirmed, waitlisted, cancelled)
    for moved in (
        {"ends_at": session.ends_at + timedelta(hours=1)},  # later
        {"starts_at": session.starts_at - timedelta(hours=5), "ends_at": session.ends_at - timedelta(hours=5)},
    ):
        session = await catalog.update(session, **moved)
        for booking_id in booking_ids:  # every booking of the session, the cancelled one too
            assert await _ends_at(apps, booking_id) == (session.ends_at, session.ends_at)
    # A change that keeps the end (a new title) rewrites no booking row.
    versions = await _row_versions(apps, booking_ids)
    session = await catalog.update(session, title={"en": "Story time, renamed"})
    assert await _row_versions(apps, booking_ids) == versions
    await _assert_every_booking_carries_its_session_end(apps)


async def _row_versions(apps: dict[str, FastAPI], booking_ids: tuple[str, ...]) -> dict[UUID, str]:
    """Each booking row's `xmin`: it changes whenever the row is rewritten."""
    statement = text("SELECT id, xmin::text FROM booking.bookings WHERE id = ANY(:ids)")
    async with apps["booking"].state.database.sessionmaker() as db:
        rows = (await db.execute(statement, {"ids": [UUID(b) for b in booking_ids]})).all()
    return {row[0]: row[1] for row in rows}


async def test_every_kind_of_new_booking_fills_the_session_end(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    """NOT NULL would refuse a booking row without it; each new row also carries the right end: confirmed,
    waitlisted, a waitlisted block, a confirmed block and its member line."""
    session = await catalog.schedule(capacity=2, ends_at=minutes_from_now(26 * 60 + 7))
    made = [await _booked(client, mint(), session) for _ in range(3)]  # two confirmed, one waitlisted
    org = await organization(client, roles=("coordinator", "member"))
    made.append(await _booked(client, org["coordinator"], session, organization_id=org.id))  # waitlisted too
    other = await catalog.schedule(capacity=5)
    block = await client.post(
        "/v1/bookings",
        json={
            "session_id": str(other.session_id),
            "organization_id": org.id,
            "seats": 2,
            "members": [org["member"].id],
        },
        headers={**org["coordinator"].headers, "Idempotency-Key": "block"},
    )
    assert block.status_code == 201, block.text
    (line,) = block.json()["lines"]
    for booking_id in made:
        assert await _ends_at(apps, booking_id) == (session.ends_at, session.ends_at)
    for booking_id in (block.json()["id"], line["id"]):
        assert await _ends_at(apps, booking_id) == (other.ends_at, other.ends_at)
    await _assert_every_booking_carries_its_session_end(apps)


async def test_promoted_bookings_keep_the_session_end_also_after_a_move(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=1)
    holder = mint()
    held = await _booked(client, holder, session)
    first, second = await _booked(client, mint(), session), await _booked(client, mint(), session)
    session = await catalog.update(session, ends_at=session.ends_at + timedelta(minutes=30))
    # Promoted by a cancellation, then by a larger capacity (the event that also moves the end).
    await client.post(f"/v1/bookings/{held}/cancel", headers=holder.headers)
    session = await catalog.update(session, capacity=2, ends_at=session.ends_at + timedelta(minutes=30))
    for booking_id in (first, second):
        assert await _ends_at(apps, booking_id) == (session.ends_at, session.ends_at)
    async with apps["booking"].state.database.sessionmaker() as db:
        statuses = (
            await db.execute(select(Booking.status).where(Booking.id.in_([UUID(first), UUID(second)])))
        ).scalars()
        assert sorted(statuses) == ["confirmed", "confirmed"]
    await _assert_every_booking_carries_its_session_end(apps)
