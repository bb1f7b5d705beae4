"""Real parallel HTTP against the services as real processes (`live_system`, relays running)."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared.ids import new_id
from tests.booking.conftest import CatalogStandIn, Mint, availability, book, http_delivery, organization
from tests.live import LiveSystem
from tests.support import Person, assert_problem

pytestmark = pytest.mark.system


def _catalog(live_system: LiveSystem) -> CatalogStandIn:
    return CatalogStandIn(http_delivery(live_system.urls["booking"]))


@pytest.fixture
async def client(live_system: LiveSystem, mint: Mint) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the live system, after one signed-in request: a process's first requests fetch the
    orgs JWKS, and `shared.auth.RemoteJwks` answers 503 to requests arriving while that first fetch is
    still running (reported to the lead); the races below are about booking, not that warm-up."""
    async with live_system.client(timeout_s=120) as live:
        assert (await live.get("/v1/bookings", headers=mint().headers)).status_code == 200
        yield live


async def _bookings_of_session(client: httpx.AsyncClient, staff: Person, session_id: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"session_id": str(session_id), "limit": 100} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/bookings", params=params, headers=staff.headers)).json()
        found += page["items"]
        if not (cursor := page["next_cursor"]):
            return found


async def test_300_people_race_for_30_seats_then_10_cancel_at_once(
    live_system: LiveSystem, client: httpx.AsyncClient, mint: Mint
) -> None:
    catalog = _catalog(live_system)
    session = await catalog.schedule(capacity=30)
    people = [mint() for _ in range(300)]
    responses = await asyncio.gather(*(book(client, p, session.session_id) for p in people))
    assert [r.status_code for r in responses] == [201] * 300, Counter(r.status_code for r in responses)
    made = [r.json() for r in responses]
    assert Counter(b["status"] for b in made) == {"confirmed": 30, "waitlisted": 270}
    assert sorted(b["waitlist_position"] for b in made if b["status"] == "waitlisted") == list(range(1, 271))
    assert len({b["checkin_code"] for b in made if b["status"] == "confirmed"}) == 30
    assert await availability(client, session.session_id) == {
        "session_id": str(session.session_id),
        "capacity": 30,
        "confirmed_seats": 30,
        "seats_available": 0,
        "waitlist_length": 270,
        "accessible_capacity": 0,
        "accessible_available": 0,
        "online_capacity": 0,
        "online_available": 0,
    }

    # Ten holders cancel at the same moment: exactly the first ten in line are promoted, once each.
    holders = [(b, p) for b, p in zip(made, people, strict=True) if b["status"] == "confirmed"][:10]
    cancels = await asyncio.gather(
        *(client.post(f"/v1/bookings/{b['id']}/cancel", headers=p.headers) for b, p in holders)
    )
    assert [r.status_code for r in cancels] == [200] * 10
    operator = mint(roles=["operator"])
    roster = await _bookings_of_session(client, operator, session.session_id)
    by_id = {b["id"]: b for b in roster}
    first_ten_in_line = sorted((b for b in made if b["status"] == "waitlisted"), key=lambda b: b["waitlist_position"])[
        :10
    ]
    assert all(by_id[b["id"]]["status"] == "confirmed" for b in first_ten_in_line)
    assert Counter(b["status"] for b in roster) == {"confirmed": 30, "cancelled": 10, "waitlisted": 260}
    positions = sorted(b["waitlist_position"] for b in roster if b["status"] == "waitlisted")
    assert positions == list(range(1, 261))
    assert (await availability(client, session.session_id))["waitlist_length"] == 260


async def test_20_concurrent_requests_with_one_key_create_one_booking(
    live_system: LiveSystem, client: httpx.AsyncClient, mint: Mint
) -> None:
    session = await _catalog(live_system).schedule(capacity=5)
    person = mint()
    responses = await asyncio.gather(*(book(client, person, session.session_id, key="once") for _ in range(20)))
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    for conflict in (r for r in responses if r.status_code == 409):
        assert_problem(conflict, 409)
    mine = (await client.get("/v1/bookings", headers=person.headers)).json()["items"]
    assert [b["id"] for b in mine] == list(created)
    assert (await availability(client, session.session_id))["confirmed_seats"] == 1
    # Afterwards, the key replays the booking.
    replay = await book(client, person, session.session_id, key="once")
    assert (replay.status_code, replay.json()["id"]) == (201, next(iter(created)))


async def test_bola_matrix_across_processes(live_system: LiveSystem, client: httpx.AsyncClient, mint: Mint) -> None:
    host = await organization(client, roles=("coordinator",))
    booker = await organization(client, roles=("admin", "coordinator"))
    session = await _catalog(live_system).schedule(host_org_id=host.id, capacity=10)
    owner, another = mint(), mint()
    personal = (await book(client, owner, session.session_id)).json()
    for_org = await book(client, booker["coordinator"], session.session_id, seats=4, organization_id=booker.id)
    assert for_org.status_code == 201, for_org.text
    org_booking = for_org.json()

    async def read(person: Person, booking: dict[str, Any]) -> int:
        return (await client.get(f"/v1/bookings/{booking['id']}", headers=person.headers)).status_code

    # Reading: owner, host staff and the booking organization's admin; nobody else.
    assert await read(owner, personal) == 200
    assert await read(another, personal) == 404
    assert await read(host["coordinator"], personal) == 200
    assert await read(booker["admin"], personal) == 404  # a personal booking is not the organization's
    assert await read(booker["admin"], org_booking) == 200
    assert await read(another, org_booking) == 404
    assert await read(host["owner"], org_booking) == 200

    # Cancelling: owner and the booking organization's admin; host staff may only read (403).
    path = f"/v1/bookings/{personal['id']}/cancel"
    assert_problem(await client.post(path, headers=another.headers), 404)
    assert_problem(await client.post(path, headers=host["coordinator"].headers), 403)
    assert_problem(await client.post(path, headers=booker["admin"].headers), 404)
    assert (await client.post(path, headers=owner.headers)).json()["status"] == "cancelled"
    org_path = f"/v1/bookings/{org_booking['id']}/cancel"
    assert_problem(await client.post(org_path, headers=host["coordinator"].headers), 403)
    assert (await client.post(org_path, headers=booker["admin"].headers)).json()["status"] == "cancelled"
    assert (await availability(client, session.session_id))["confirmed_seats"] == 0
    assert_problem(await client.get(f"/v1/bookings/{new_id()}", headers=owner.headers), 404)


async def test_a_session_cancelled_in_the_catalog_cancels_every_booking(
    live_system: LiveSystem, client: httpx.AsyncClient, mint: Mint
) -> None:
    catalog = _catalog(live_system)
    session = await catalog.schedule(capacity=5)
    people = [mint() for _ in range(8)]
    made = await asyncio.gather(*(book(client, p, session.session_id) for p in people))
    assert Counter(r.json()["status"] for r in made) == {"confirmed": 5, "waitlisted": 3}
    await catalog.cancel(session)
    views = await asyncio.gather(
        *(client.get(f"/v1/bookings/{r.json()['id']}", headers=p.headers) for r, p in zip(made, people, strict=True))
    )
    assert [v.json()["status"] for v in views] == ["cancelled"] * 8
    figures = await availability(client, session.session_id)
    assert (figures["confirmed_seats"], figures["waitlist_length"]) == (0, 0)
    assert_problem(await book(client, people[0], session.session_id), 409)


async def test_standard_and_accessible_requests_race_across_processes(
    live_system: LiveSystem, client: httpx.AsyncClient, mint: Mint
) -> None:
    """60 standard and 30 accessible requests at once for 10 standard and 3 accessible seats: nobody who did
    not ask takes an accessible seat, and neither pool is overbooked."""
    session = await _catalog(live_system).schedule(capacity=13, accessible_seats=3)
    asks = [None] * 60 + ["accessible"] * 30
    people = [mint() for _ in asks]
    responses = await asyncio.gather(
        *(book(client, p, session.session_id, seat=ask) for p, ask in zip(people, asks, strict=True))
    )
    assert [r.status_code for r in responses] == [201] * 90, Counter(r.status_code for r in responses)
    made = [r.json() for r in responses]
    assert all(b.get("seat") == ask for b, ask in zip(made, asks, strict=True))
    assert Counter((b.get("seat"), b["status"]) for b in made) == {
        (None, "confirmed"): 10,
        (None, "waitlisted"): 50,
        ("accessible", "confirmed"): 3,
        ("accessible", "waitlisted"): 27,
    }
    figures = await availability(client, session.session_id)
    assert (figures["confirmed_seats"], figures["seats_available"], figures["waitlist_length"]) == (10, 0, 77)
    assert (figures["accessible_capacity"], figures["accessible_available"]) == (3, 0)
