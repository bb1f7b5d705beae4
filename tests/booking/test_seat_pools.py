"""Seat pools: accessible seats kept apart, a hybrid session's online seats, an online session's seats, and
the join link for confirmed holders, against real PostgreSQL (in-process apps, real parallel requests)."""

import asyncio
from collections import Counter
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from services.booking.bookings.schemas import BookingCreate
from services.booking.idempotency.service import request_fingerprint
from services.booking.models import Booking, Inventory
from shared.events.schemas import AvailabilityChanged
from shared.ids import new_id
from tests.booking.conftest import CatalogStandIn, Mint, availability, book, organization
from tests.support import Person, assert_problem

JOIN_URL = "https://meet.example.org/learncity/poetry-circle"


async def _view(client: httpx.AsyncClient, booking: dict[str, Any], person: Person) -> dict[str, Any]:
    response = await client.get(f"/v1/bookings/{booking['id']}", headers=person.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _pool_seats(apps: dict[str, FastAPI], session_id: UUID) -> dict[tuple[str, str], int]:
    """Seats of the session's bookings by (seat pool, status), as the bookings table holds them (personal
    bookings and blocks; a block's member lines hold seats of their block)."""
    statement = (
        select(Booking.seat_pool, Booking.status, func.sum(Booking.seats))
        .where(Booking.session_id == session_id, Booking.block_id.is_(None))
        .group_by(Booking.seat_pool, Booking.status)
    )
    async with apps["booking"].state.database.sessionmaker() as db:
        return {(pool, status): int(seats) for pool, status, seats in (await db.execute(statement)).all()}


async def _inventory(apps: dict[str, FastAPI], session_id: UUID) -> Any:
    async with apps["booking"].state.database.sessionmaker() as db:
        return (await db.execute(select(Inventory).where(Inventory.session_id == session_id))).scalar_one()


async def test_accessible_seats_go_only_to_people_who_ask(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=4, accessible_seats=2)
    assert await availability(client, session.session_id) == {
        "session_id": str(session.session_id),
        "capacity": 4,
        "confirmed_seats": 0,
        "seats_available": 2,
        "waitlist_length": 0,
        "accessible_capacity": 2,
        "accessible_available": 2,
        "online_capacity": 0,
        "online_available": 0,
    }
    standard = [(await book(client, mint(), session.session_id)).json() for _ in range(3)]
    assert [b["status"] for b in standard] == ["confirmed", "confirmed", "waitlisted"]
    assert standard[2]["waitlist_position"] == 1  # the accessible seats stay free for people who ask
    assert all("seat" not in b for b in standard)
    asker = mint()
    accessible = await book(client, asker, session.session_id, seat="accessible")
    assert accessible.status_code == 201, accessible.text
    assert (accessible.json()["status"], accessible.json()["seat"]) == ("confirmed", "accessible")
    assert (await _view(client, accessible.json(), asker))["seat"] == "accessible"
    figures = await availability(client, session.session_id)
    assert (figures["seats_available"], figures["accessible_available"], figures["waitlist_length"]) == (0, 1, 1)


async def test_accessible_and_standard_seats_raced_in_parallel_are_never_overbooked(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    """40 standard and 20 accessible requests at once for 8 standard and 4 accessible seats."""
    session = await catalog.schedule(capacity=12, accessible_seats=4)
    asks = ["standard"] * 40 + ["accessible"] * 20
    people = [mint() for _ in asks]
    responses = await asyncio.gather(
        *(
            book(client, p, session.session_id, seat=None if ask == "standard" else ask)
            for p, ask in zip(people, asks, strict=True)
        )
    )
    assert [r.status_code for r in responses] == [201] * 60, Counter(r.status_code for r in responses)
    made = [r.json() for r in responses]
    outcome = Counter((b.get("seat", "standard"), b["status"]) for b in made)
    assert outcome == {
        ("standard", "confirmed"): 8,
        ("standard", "waitlisted"): 32,
        ("accessible", "confirmed"): 4,
        ("accessible", "waitlisted"): 16,
    }
    # Nobody who did not ask holds an accessible seat; each pool has its own line.
    assert all(b.get("seat", "standard") == ask for b, ask in zip(made, asks, strict=True))
    for pool, waiting in (("standard", 32), ("accessible", 16)):
        positions = sorted(
            b["waitlist_position"] for b in made if b.get("seat", "standard") == pool and "waitlist_position" in b
        )
        assert positions == list(range(1, waiting + 1))
    assert await _pool_seats(apps, session.session_id) == {
        ("standard", "confirmed"): 8,
        ("standard", "waitlisted"): 32,
        ("accessible", "confirmed"): 4,
        ("accessible", "waitlisted"): 16,
    }
    row = await _inventory(apps, session.session_id)
    assert (row.confirmed_seats, row.accessible_confirmed, row.waitlist_length, row.accessible_waitlist) == (
        8,
        4,
        48,
        16,
    )


async def test_a_freed_seat_promotes_only_its_own_pools_waitlist_once(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=6, accessible_seats=3)
    holders = [(mint(), ask) for ask in ["accessible"] * 3 + ["standard"] * 3]
    held = [(await book(client, p, session.session_id, seat=ask)).json() for p, ask in holders]
    assert all(b["status"] == "confirmed" for b in held)
    waiting_standard = [(p, (await book(client, p, session.session_id)).json()) for p in (mint(), mint(), mint())]
    waiting_accessible = [
        (p, (await book(client, p, session.session_id, seat="accessible")).json()) for p in (mint(), mint(), mint())
    ]
    assert [b["waitlist_position"] for _, b in waiting_standard] == [1, 2, 3]
    assert [b["waitlist_position"] for _, b in waiting_accessible] == [1, 2, 3]

    # The three accessible holders cancel at the same moment: the accessible line moves, the standard one not.
    cancels = await asyncio.gather(
        *(
            client.post(f"/v1/bookings/{b['id']}/cancel", headers=p.headers)
            for (p, _), b in zip(holders[:3], held[:3], strict=True)
        )
    )
    assert [r.status_code for r in cancels] == [200] * 3
    assert [(await _view(client, b, p))["status"] for p, b in waiting_accessible] == ["confirmed"] * 3
    standard_views = [await _view(client, b, p) for p, b in waiting_standard]
    assert [(v["status"], v["waitlist_position"]) for v in standard_views] == [
        ("waitlisted", 1),
        ("waitlisted", 2),
        ("waitlisted", 3),
    ]
    # A standard holder cancels: the standard head, and only it, gets the seat.
    cancelled = await client.post(f"/v1/bookings/{held[3]['id']}/cancel", headers=holders[3][0].headers)
    assert cancelled.status_code == 200
    assert [(await _view(client, b, p))["status"] for p, b in waiting_standard] == [
        "confirmed",
        "waitlisted",
        "waitlisted",
    ]
    assert await _pool_seats(apps, session.session_id) == {
        ("accessible", "cancelled"): 3,
        ("accessible", "confirmed"): 3,
        ("standard", "cancelled"): 1,
        ("standard", "confirmed"): 3,
        ("standard", "waitlisted"): 2,
    }
    figures = await availability(client, session.session_id)
    assert (figures["confirmed_seats"], figures["accessible_available"], figures["waitlist_length"]) == (3, 0, 2)


async def test_a_head_waiting_for_an_accessible_seat_blocks_no_standard_booking(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=3, accessible_seats=1)
    assert (await book(client, mint(), session.session_id, seat="accessible")).json()["status"] == "confirmed"
    waiting = (await book(client, mint(), session.session_id, seat="accessible")).json()
    assert (waiting["status"], waiting["waitlist_position"]) == ("waitlisted", 1)
    # Someone waits (for an accessible seat): standard seats are still confirmed at once.
    assert [(await book(client, mint(), session.session_id)).json()["status"] for _ in range(3)] == [
        "confirmed",
        "confirmed",
        "waitlisted",
    ]


async def test_growing_a_pool_in_the_catalog_promotes_that_pools_waitlist(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(
        capacity=3, accessible_seats=1, mode="hybrid", join_url=JOIN_URL, online_capacity=1
    )
    for seat in ("accessible", "online", None, None):
        assert (await book(client, mint(), session.session_id, seat=seat)).json()["status"] == "confirmed"
    waiting = {
        seat: (person, (await book(client, person, session.session_id, seat=seat)).json())
        for seat, person in (("accessible", mint()), ("online", mint()), ("standard", mint()))
    }
    assert all(b["status"] == "waitlisted" for _, b in waiting.values())
    # Two more accessible seats (of a larger capacity): only the accessible line moves.
    session = await catalog.update(session, capacity=5, accessible_seats=3)
    assert [(await _view(client, b, p))["status"] for p, b in waiting.values()] == [
        "confirmed",
        "waitlisted",
        "waitlisted",
    ]
    session = await catalog.update(session, online_capacity=2)
    assert (await _view(client, waiting["online"][1], waiting["online"][0]))["status"] == "confirmed"
    assert (await _view(client, waiting["standard"][1], waiting["standard"][0]))["status"] == "waitlisted"
    assert await availability(client, session.session_id) == {
        "session_id": str(session.session_id),
        "capacity": 5,
        "confirmed_seats": 2,
        "seats_available": 0,
        "waitlist_length": 1,
        "accessible_capacity": 3,
        "accessible_available": 1,
        "online_capacity": 2,
        "online_available": 0,
    }
    # A pool shrunk below its confirmed seats (a race the catalog's check could not see) bumps nobody.
    await catalog.update(session, capacity=2, accessible_seats=0, online_capacity=0)
    figures = await availability(client, session.session_id)
    assert (figures["capacity"], figures["accessible_capacity"], figures["online_capacity"]) == (4, 2, 2)
    assert (figures["seats_available"], figures["accessible_available"], figures["online_available"]) == (0, 0, 0)


async def test_a_hybrid_sessions_online_seats_are_counted_apart(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=2, mode="hybrid", join_url=JOIN_URL, online_capacity=3)
    online = [(await book(client, mint(), session.session_id, seat="online")).json() for _ in range(4)]
    assert [(b["status"], b["seat"]) for b in online] == [("confirmed", "online")] * 3 + [("waitlisted", "online")]
    assert online[3]["waitlist_position"] == 1
    in_person = [(await book(client, mint(), session.session_id)).json() for _ in range(3)]
    assert [b["status"] for b in in_person] == ["confirmed", "confirmed", "waitlisted"]
    assert in_person[2]["waitlist_position"] == 1
    figures = await availability(client, session.session_id)
    assert (figures["capacity"], figures["confirmed_seats"], figures["seats_available"]) == (2, 2, 0)
    assert (figures["online_capacity"], figures["online_available"], figures["waitlist_length"]) == (3, 0, 2)


async def test_an_online_sessions_seats_are_its_standard_seats(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    # Accessible seats mean nothing online: booking keeps none apart (and takes no request for one).
    session = await catalog.schedule(capacity=2, mode="online", join_url=JOIN_URL, accessible_seats=1)
    made = [(await book(client, mint(), session.session_id)).json() for _ in range(3)]
    assert [b["status"] for b in made] == ["confirmed", "confirmed", "waitlisted"]
    figures = await availability(client, session.session_id)
    assert (figures["capacity"], figures["seats_available"], figures["accessible_capacity"]) == (2, 0, 0)
    row = await _inventory(apps, session.session_id)
    assert (row.mode, row.join_url) == ("online", JOIN_URL)
    for seat in ("online", "accessible"):
        problem = assert_problem(await book(client, mint(), session.session_id, seat=seat), 422)
        assert problem["reason"] == "seat_not_offered"
        assert [e["pointer"] for e in problem["errors"]] == ["/body/seat"]  # type: ignore[attr-defined]


async def test_seats_a_session_does_not_offer_are_refused(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    in_person = await catalog.schedule(capacity=5)
    problem = assert_problem(await book(client, mint(), in_person.session_id, seat="online"), 422)
    assert problem["reason"] == "seat_not_offered"
    problem = assert_problem(await book(client, mint(), in_person.session_id, seat="accessible"), 409)
    assert problem["reason"] == "no_accessible_seats"
    hybrid = await catalog.schedule(capacity=5, mode="hybrid", online_capacity=5)
    assert assert_problem(await book(client, mint(), hybrid.session_id, seat="accessible"), 409)["reason"] == (
        "no_accessible_seats"
    )
    assert_problem(await book(client, mint(), in_person.session_id, seat="balcony"), 422)
    # Organization blocks take standard seats only.
    coordinator = mint(roles=["operator"])
    block = await client.post(
        "/v1/bookings",
        json={
            "session_id": str(in_person.session_id),
            "seats": 2,
            "organization_id": str(new_id()),
            "seat": "accessible",
        },
        headers={**coordinator.headers, "Idempotency-Key": "block"},
    )
    assert [e["pointer"] for e in assert_problem(block, 422)["errors"]] == ["/body/seat"]  # type: ignore[attr-defined]
    assert (await availability(client, in_person.session_id))["confirmed_seats"] == 0


async def test_the_database_refuses_an_overbooked_pool(apps: dict[str, FastAPI], catalog: CatalogStandIn) -> None:
    session = await catalog.schedule(capacity=4, accessible_seats=2, mode="hybrid", online_capacity=1)
    for values, constraint in (
        ({"confirmed_seats": 3}, "seats_within_capacity"),  # the standard pool is 4 - 2
        ({"accessible_confirmed": 3}, "accessible_within_capacity"),
        ({"online_confirmed": 2}, "online_within_capacity"),
        ({"accessible_waitlist": 1}, "pool_waitlists_within_waitlist"),
    ):
        with pytest.raises(IntegrityError, match=constraint):
            async with apps["booking"].state.database.sessionmaker.begin() as db:
                await db.execute(update(Inventory).where(Inventory.session_id == session.session_id).values(**values))


async def test_requests_without_seat_keep_their_idempotency_fingerprint(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session_id = new_id()
    # As keys were stored before `seat` existed: the parsed request without it.
    before = request_fingerprint({"session_id": str(session_id), "seats": 1, "organization_id": None})
    for body in ({"session_id": str(session_id)}, {"session_id": str(session_id), "seat": "standard"}):
        assert request_fingerprint(BookingCreate.model_validate(body).model_dump(mode="json")) == before
    asking = BookingCreate.model_validate({"session_id": str(session_id), "seat": "accessible"})
    assert request_fingerprint(asking.model_dump(mode="json")) != before

    session = await catalog.schedule(capacity=3, accessible_seats=1)
    person = mint()
    first = await book(client, person, session.session_id, key="k")
    assert first.status_code == 201
    for seat in (None, "standard"):
        again = await book(client, person, session.session_id, key="k", seat=seat)
        assert (again.status_code, again.json(), again.headers["idempotent-replayed"]) == (201, first.json(), "true")
    assert_problem(await book(client, person, session.session_id, key="k", seat="accessible"), 422)
    asker = mint()
    accessible = await book(client, asker, session.session_id, key="a", seat="accessible")
    replayed = await book(client, asker, session.session_id, key="a", seat="accessible")
    assert (replayed.json(), replayed.headers["idempotent-replayed"]) == (accessible.json(), "true")
    assert_problem(await book(client, asker, session.session_id, key="a"), 422)
    figures = await availability(client, session.session_id)
    assert (figures["confirmed_seats"], figures["accessible_available"]) == (1, 0)


async def test_availability_changed_reports_every_pool(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    """The booking statements' payload (SQL) and `Figures.payload()` agree on a session with every pool."""
    session = await catalog.schedule(
        capacity=3, accessible_seats=1, mode="hybrid", join_url=JOIN_URL, online_capacity=2
    )
    await book(client, mint(), session.session_id)  # the fast path's statement
    await book(client, mint(), session.session_id, seat="online")  # under the row lock (Outbox.emit)
    await book(client, mint(), session.session_id, seat="accessible")
    await book(client, mint(), session.session_id)  # standard full: the waitlist statement
    await book(client, mint(), session.session_id, seat="accessible")  # waitlisted under the row lock
    outbox = apps["booking"].state.outbox._tables.outbox
    async with apps["booking"].state.database.sessionmaker() as db:
        payloads = (
            await db.execute(
                select(outbox.c.payload)
                .where(outbox.c.aggregate_id == session.session_id, outbox.c.type == "availability.changed")
                .order_by(outbox.c.sequence)
            )
        ).scalars()
        figures = [AvailabilityChanged.model_validate(p) for p in payloads]
    assert [
        (
            *(f.capacity, f.confirmed_seats, f.seats_available, f.waitlist_length),
            *(f.accessible_capacity, f.accessible_available, f.online_capacity, f.online_available),
        )
        for f in figures
    ] == [
        (3, 0, 2, 0, 1, 1, 2, 2),  # scheduled
        (3, 1, 1, 0, 1, 1, 2, 2),
        (3, 1, 1, 0, 1, 1, 2, 1),
        (3, 1, 1, 0, 1, 0, 2, 1),
        (3, 2, 0, 0, 1, 0, 2, 1),
        (3, 2, 0, 1, 1, 0, 2, 1),
    ]
    assert figures[-1].model_dump(mode="json") == await availability(client, session.session_id)


async def _join(client: httpx.AsyncClient, booking: dict[str, Any], person: Person | None) -> httpx.Response:
    return await client.get(f"/v1/bookings/{booking['id']}/join", headers=person.headers if person else {})


async def test_the_join_link_is_shown_to_confirmed_online_holders_only(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    host = await organization(client, roles=("coordinator",))
    booker = await organization(client, roles=("admin", "coordinator", "member"))
    online = await catalog.schedule(host_org_id=host.id, capacity=2, mode="online", join_url=JOIN_URL)
    holder, waiting_person = mint(), mint()
    booking = (await book(client, holder, online.session_id)).json()
    response = await _join(client, booking, holder)
    assert (response.status_code, response.json()) == (200, {"join_url": JOIN_URL})
    assert response.headers["cache-control"] == "private, no-store"
    # An organization's block of the online session: its coordinator (the holder) and each named member.
    block = await client.post(
        "/v1/bookings",
        json={
            "session_id": str(online.session_id),
            "seats": 1,
            "organization_id": booker.id,
            "members": [booker["member"].id],
        },
        headers={**booker["coordinator"].headers, "Idempotency-Key": "block"},
    )
    assert block.status_code == 201, block.text
    line = block.json()["lines"][0]
    assert (await _join(client, block.json(), booker["coordinator"])).json() == {"join_url": JOIN_URL}
    assert (await _join(client, line, booker["member"])).json() == {"join_url": JOIN_URL}
    # Anyone else: it does not exist (host staff and the organization's admins read the booking, not the link).
    for someone in (mint(), host["coordinator"], host["owner"], booker["admin"], mint(roles=["operator"])):
        assert_problem(await _join(client, booking, someone), 404)
        assert_problem(await _join(client, block.json(), someone), 404)
    assert_problem(await _join(client, line, booker["coordinator"]), 404)  # the line's holder is the member
    assert_problem(await _join(client, booking, None), 401)
    assert_problem(await _join(client, {"id": new_id()}, holder), 404)
    # The holder without a confirmed seat: 409 with the reason.
    waiting = (await book(client, waiting_person, online.session_id)).json()
    assert waiting["status"] == "waitlisted"
    assert assert_problem(await _join(client, waiting, waiting_person), 409)["reason"] == "booking_waitlisted"
    await client.post(f"/v1/bookings/{waiting['id']}/cancel", headers=waiting_person.headers)
    assert assert_problem(await _join(client, waiting, waiting_person), 409)["reason"] == "booking_cancelled"
    # A new link from the catalog is the one shown.
    await catalog.update(online, join_url=JOIN_URL + "-2")
    assert (await _join(client, booking, holder)).json() == {"join_url": JOIN_URL + "-2"}


async def test_the_join_link_of_hybrid_and_in_person_sessions(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    hybrid = await catalog.schedule(capacity=2, mode="hybrid", online_capacity=2)
    online_holder, in_person_holder = mint(), mint()
    online_seat = (await book(client, online_holder, hybrid.session_id, seat="online")).json()
    in_person_seat = (await book(client, in_person_holder, hybrid.session_id)).json()
    # No link yet: the holder is told it is coming.
    assert assert_problem(await _join(client, online_seat, online_holder), 409)["reason"] == "join_link_pending"
    await catalog.update(hybrid, join_url=JOIN_URL)
    assert (await _join(client, online_seat, online_holder)).json() == {"join_url": JOIN_URL}
    # A hybrid session's in-person holders come to the site: the online seats are counted apart.
    assert assert_problem(await _join(client, in_person_seat, in_person_holder), 409)["reason"] == "in_person_seat"
    in_person = await catalog.schedule(capacity=2)
    holder = mint()
    booking = (await book(client, holder, in_person.session_id)).json()
    assert assert_problem(await _join(client, booking, holder), 409)["reason"] == "in_person_seat"
