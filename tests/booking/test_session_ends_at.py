"""The active-bookings limit counts a person's bookings by the end their session carries
(`bookings.session_ends_at`): every way a booking row is made fills it from the inventory, a session that
moves moves its bookings, and the bounded count still refuses exactly at the limit."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from services.booking.bookings import service as booking_service
from services.booking.bookings.repository import BookingRepository, confirm_at_once
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


@pytest.fixture
def inserted_by(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The insert paths that made booking rows, in order: each statement that inserts a booking is spied on."""
    paths: list[str] = []
    at_once, confirm_if_free = confirm_at_once, BookingRepository.confirm_if_free
    waitlist_at_once, insert = BookingRepository.waitlist_at_once, BookingRepository.insert

    async def spy_at_once(*args: Any) -> Any:
        figures = await at_once(*args)
        if figures is not None:
            paths.append("fast path")
        return figures

    async def spy_confirm_if_free(self: BookingRepository, *args: Any) -> Any:
        outcome = await confirm_if_free(self, *args)
        if outcome.figures is not None:
            limits = args[2]
            paths.append("careful, counting" if limits.counting else "careful, person's row held")
        return outcome

    async def spy_waitlist_at_once(self: BookingRepository, *args: Any) -> Any:
        joined = await waitlist_at_once(self, *args)
        if joined is not None:
            paths.append("waitlist")
        return joined

    async def spy_insert(self: BookingRepository, *args: Any, **kwargs: Any) -> None:
        await insert(self, *args, **kwargs)
        paths.append(f"locked, {kwargs['status']}")

    monkeypatch.setattr(booking_service, "confirm_at_once", spy_at_once)
    monkeypatch.setattr(BookingRepository, "confirm_if_free", spy_confirm_if_free)
    monkeypatch.setattr(BookingRepository, "waitlist_at_once", spy_waitlist_at_once)
    monkeypatch.setattr(BookingRepository, "insert", spy_insert)
    return paths


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


@pytest.mark.parametrize("last", ["fast path", "waitlist"])
async def test_the_limit_holds_exactly_at_its_boundary(
    client: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    catalog: CatalogStandIn,
    mint: Mint,
    max_active: int,
    inserted_by: list[str],
    last: str,
) -> None:
    person = mint()
    await _fill(client, catalog, person, max_active - 1)
    # One below the limit: one more (a free seat, or a full session's waitlist).
    last_session = await catalog.schedule(capacity=1)
    if last == "waitlist":
        await _booked(client, mint(), last_session)  # someone else takes the seat (the fast path)
    made = await book(client, person, last_session.session_id, key="the-last-one")
    assert made.status_code == 201, made.text
    assert inserted_by == ["fast path"] * (max_active - 1) + (
        ["fast path", "waitlist"] if last == "waitlist" else [last]
    )
    # At the limit: 429 whichever path looks, and nothing inserted.
    inserted_by.clear()
    limited = await book(client, person, (await catalog.schedule()).session_id)
    assert f"You hold {max_active} active bookings" in str(assert_problem(limited, 429)["detail"])
    assert int(limited.headers["retry-after"]) >= 1
    full = await catalog.schedule(capacity=1)
    await _booked(client, mint(), full)
    inserted_by.clear()
    assert_problem(await book(client, person, full.session_id), 429)
    assert inserted_by == []
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
    inserted_by: list[str],
) -> None:
    org = await organization(client, roles=("coordinator",))
    coordinator = org["coordinator"]
    await _fill(client, catalog, coordinator, max_active - 1)
    session = await catalog.schedule(capacity=20)
    booking_id = await _booked(client, coordinator, session, seats=5, organization_id=org.id)
    # An organization's block is booked under the session's row lock (its lines are more than one row).
    assert inserted_by[-1] == "locked, confirmed"
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


async def test_every_insert_path_fills_the_session_end(
    client: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    catalog: CatalogStandIn,
    mint: Mint,
    monkeypatch: pytest.MonkeyPatch,
    inserted_by: list[str],
) -> None:
    """NOT NULL would refuse a path that forgot it; each path's row also carries the right end."""
    session = await catalog.schedule(capacity=2, ends_at=minutes_from_now(26 * 60 + 7))
    made = [
        await _booked(client, mint(), session),  # fast path
        await _booked(client, mint(), session),  # fast path, the last seat
        await _booked(client, mint(), session),  # the waitlist, one statement
    ]
    org = await organization(client, roles=("coordinator",))
    made.append(await _booked(client, org["coordinator"], session, organization_id=org.id))  # waitlisted too
    assert inserted_by == ["fast path", "fast path", "waitlist", "locked, waitlisted"]
    # The careful path as after a request of the same person interleaved: the person's row is locked (and
    # the request counted) first, then the booking statement runs holding it, without counting again.
    monkeypatch.setattr(booking_service, "book_at_once", _never_books_at_once)
    monkeypatch.setattr(booking_service, "Attempt", partial(booking_service.Attempt, careful=True))
    other = await catalog.schedule(capacity=2)
    made.append(await _booked(client, mint(), other))
    assert inserted_by[-1] == "careful, person's row held"
    # The session's row locked (when the one-statement waitlist finds the session changed meanwhile).
    monkeypatch.setattr(BookingRepository, "waitlist_at_once", _never_waitlists_at_once)
    made.append(await _booked(client, mint(), session))
    assert inserted_by[-1] == "locked, waitlisted"
    for booking_id in made[:4] + made[5:]:
        assert await _ends_at(apps, booking_id) == (session.ends_at, session.ends_at)
    assert await _ends_at(apps, made[4]) == (other.ends_at, other.ends_at)
    await _assert_every_booking_carries_its_session_end(apps)


async def _never_waitlists_at_once(self: BookingRepository, *args: Any) -> None:
    return None


async def _never_books_at_once(*args: Any) -> None:
    return None


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
