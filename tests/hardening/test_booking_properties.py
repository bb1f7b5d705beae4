"""Property tests of the booking rules against the real database, through the real catalog and booking apps.

For any interleaving of book, cancel, capacity change (catalog PATCH -> `session.updated`), session cancel
(`session.cancelled`) and event delivery, after every step:
  * confirmed seats never exceed capacity, and booking's counters equal its rows;
  * the waitlist keeps its order: whoever leaves it other than by cancelling leaves from the head;
  * each freed seat promotes exactly one waitlisted booking: promoted bookings are confirmed once, and no
    seat stays idle while the head of the line fits in it (strict first come, first served);
and after the last step and `deliver_events()`, the catalog's `seats_available` equals booking's.

Every example schedules a new session (the autouse truncation runs per test, not per example)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bench.load_and_fault import City, build_city
from services.booking.models import Booking, Inventory, table_of
from shared.ids import new_id
from tests.support import Person

bookings = table_of(Booking)
inventory = table_of(Inventory)
PEOPLE = 6

Deliver = Callable[[], Awaitable[int]]


@pytest.fixture
async def host(client: httpx.AsyncClient, jwt_key_file: Path) -> City:
    """An organization (its owner a real account, so orgs answers memberships), a site and an activity."""
    return await build_city(client, jwt_key_file, sessions=0, capacity=1, people=0)


@dataclass(frozen=True)
class Seat:
    id: UUID
    seats: int


@dataclass(frozen=True)
class State:
    capacity: int
    status: str
    confirmed: dict[UUID, int]
    waitlist: list[Seat]  # in waitlist order
    counters: tuple[int, int]  # inventory.confirmed_seats, inventory.waitlist_length


async def booking_state(apps: dict[str, FastAPI], session_id: UUID) -> State | None:
    async with apps["booking"].state.database.sessionmaker() as db:
        row = (await db.execute(select(inventory).where(inventory.c.session_id == session_id))).one_or_none()
        if row is None:
            return None
        rows = (
            await db.execute(
                select(bookings.c.id, bookings.c.seats, bookings.c.status, bookings.c.waitlist_seq).where(
                    bookings.c.session_id == session_id
                )
            )
        ).all()
    waiting = sorted((r for r in rows if r.status == "waitlisted"), key=lambda r: r.waitlist_seq)
    return State(
        capacity=row.capacity,
        status=row.status,
        confirmed={r.id: r.seats for r in rows if r.status == "confirmed"},
        waitlist=[Seat(r.id, r.seats) for r in waiting],
        counters=(row.confirmed_seats, row.waitlist_length),
    )


def check_step(before: State, after: State, cancelled_now: set[UUID], created_now: set[UUID]) -> None:
    confirmed_seats = sum(after.confirmed.values())
    assert confirmed_seats <= after.capacity, "overbooked"
    assert after.counters == (confirmed_seats, len(after.waitlist)), "counters differ from the rows"
    # Order: the line before, less those cancelled, loses a prefix (the promoted) and gains a tail (new).
    remaining = [seat for seat in before.waitlist if seat.id not in cancelled_now]
    kept = [seat for seat in after.waitlist if seat.id not in created_now]
    promoted = remaining[: len(remaining) - len(kept)]
    assert remaining[len(promoted) :] == kept, "the waitlist order changed"
    assert all(seat.id not in before.confirmed for seat in promoted)
    if after.status == "scheduled":
        assert all(after.confirmed.get(seat.id) == seat.seats for seat in promoted), "promoted but not confirmed"
        if after.waitlist:
            free = after.capacity - confirmed_seats
            assert after.waitlist[0].seats > free, "a seat stays free while the head of the line fits in it"
    else:
        assert not after.confirmed and not after.waitlist, "a cancelled session keeps active bookings"


Step = tuple[Any, ...]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("book"), st.integers(0, PEOPLE - 1), st.integers(1, 3)),
        st.tuples(st.just("book"), st.integers(0, PEOPLE - 1), st.just(1)),
        st.tuples(st.just("cancel"), st.integers(0, PEOPLE - 1)),
        st.tuples(st.just("capacity"), st.integers(1, 8)),
        st.tuples(st.just("cancel_session")),
        st.tuples(st.just("deliver")),
    ),
    min_size=1,
    max_size=14,
)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(capacity=st.integers(1, 4), plan=steps)
async def test_any_interleaving_keeps_the_booking_rules(
    apps: dict[str, FastAPI],
    client: httpx.AsyncClient,
    deliver_events: Deliver,
    host: City,
    capacity: int,
    plan: list[Step],
) -> None:
    starts_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    created = await client.post(
        f"/v1/activities/{host.activity_id}/sessions",
        json={
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + timedelta(hours=1)).isoformat(),
            "capacity": capacity,
        },
        headers=host.staff,
    )
    assert created.status_code == 201, created.text
    session_id = UUID(created.json()["items"][0]["id"])
    await deliver_events()  # booking hears `session.scheduled`
    people = [_minted(apps) for _ in range(PEOPLE)]
    held: dict[int, str] = {}  # person index -> their active booking id
    state = await booking_state(apps, session_id)
    assert state is not None and state.capacity == capacity

    for step in plan:
        cancelled_now: set[UUID] = set()
        created_now: set[UUID] = set()
        if step[0] == "book":
            _, who, seats = step
            response = await client.post(
                "/v1/bookings",
                json={"session_id": str(session_id), "seats": seats},
                headers={**people[who].headers, "Idempotency-Key": str(new_id())},
            )
            if who in held or state.status == "cancelled":
                assert response.status_code == 409, response.text
            else:
                assert response.status_code == 201, response.text
                held[who] = response.json()["id"]
                created_now.add(UUID(held[who]))
        elif step[0] == "cancel" and step[1] in held:
            booking_id = held.pop(step[1])
            response = await client.post(f"/v1/bookings/{booking_id}/cancel", headers=people[step[1]].headers)
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "cancelled"
            cancelled_now.add(UUID(booking_id))
        elif step[0] == "capacity":
            response = await client.patch(f"/v1/sessions/{session_id}", json={"capacity": step[1]}, headers=host.staff)
            assert response.status_code in (200, 409), response.text
        elif step[0] == "cancel_session":
            response = await client.post(f"/v1/sessions/{session_id}/cancel", headers=host.staff)
            assert response.status_code == 200, response.text
        elif step[0] == "deliver":
            await deliver_events()
        after = await booking_state(apps, session_id)
        assert after is not None
        check_step(state, after, cancelled_now, created_now)
        if after.status == "cancelled":
            held.clear()
        state = after

    await deliver_events()
    final = await booking_state(apps, session_id)
    assert final is not None
    check_step(state, final, set(), set())
    figures = (await client.get(f"/v1/availability/{session_id}")).json()
    catalog_view = (await client.get(f"/v1/sessions/{session_id}")).json()
    assert catalog_view["seats_available"] == figures["seats_available"], (catalog_view, figures)
    assert catalog_view["waitlist_length"] == figures["waitlist_length"]


def _minted(apps: dict[str, FastAPI]) -> Person:
    """A token for a fresh person id: booking needs no account, and fresh people keep the abuse limits away."""
    person_id = new_id()
    token, _ = apps["orgs"].state.signing_keys.issue_access_token(person_id, [])
    return Person(id=str(person_id), email="", token=token)
