"""POST/GET /v1/bookings, cancellation and the waitlist, against real PostgreSQL (in-process apps)."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from services.booking.models import Inventory
from shared.events.schemas import AvailabilityChanged
from shared.ids import new_id
from tests.booking.conftest import CatalogStandIn, Mint, availability, book, minutes_from_now, organization
from tests.support import assert_problem


async def test_booking_confirms_a_seat_with_a_checkin_code(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=3)
    person = mint()
    response = await book(client, person, session.session_id, seats=2)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["session_id"] == str(session.session_id)
    assert body["person_id"] == person.id
    assert body["seats"] == 2
    assert body["status"] == "confirmed"
    assert len(body["checkin_code"]) >= 22  # >= 128 bits in URL-safe base64
    assert "waitlist_position" not in body
    assert body["created_at"].endswith(("Z", "+00:00"))
    assert await availability(client, session.session_id) == {
        "session_id": str(session.session_id),
        "capacity": 3,
        "confirmed_seats": 2,
        "seats_available": 1,
        "waitlist_length": 0,
        "accessible_capacity": 0,
        "accessible_available": 0,
        "online_capacity": 0,
        "online_available": 0,
    }


async def test_a_full_session_waitlists_in_order(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=1)
    first, second, third = mint(), mint(), mint()
    assert (await book(client, first, session.session_id)).json()["status"] == "confirmed"
    waiting = [(await book(client, p, session.session_id)).json() for p in (second, third)]
    assert [(w["status"], w["waitlist_position"]) for w in waiting] == [("waitlisted", 1), ("waitlisted", 2)]
    assert all("checkin_code" not in w for w in waiting)
    assert (await availability(client, session.session_id))["waitlist_length"] == 2
    # Positions move up as the line moves.
    cancelled = await client.post(f"/v1/bookings/{waiting[0]['id']}/cancel", headers=second.headers)
    assert cancelled.json()["status"] == "cancelled"
    third_view = (await client.get(f"/v1/bookings/{waiting[1]['id']}", headers=third.headers)).json()
    assert third_view["waitlist_position"] == 1


async def test_cancel_promotes_the_head_of_the_waitlist_once(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=2)
    holder, second_holder, waiting_a, waiting_b = mint(), mint(), mint(), mint()
    held = (await book(client, holder, session.session_id)).json()
    await book(client, second_holder, session.session_id)
    a = (await book(client, waiting_a, session.session_id)).json()
    b = (await book(client, waiting_b, session.session_id)).json()
    cancelled = await client.post(f"/v1/bookings/{held['id']}/cancel", headers=holder.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert "checkin_code" not in cancelled.json()
    promoted = (await client.get(f"/v1/bookings/{a['id']}", headers=waiting_a.headers)).json()
    assert promoted["status"] == "confirmed"
    assert promoted["checkin_code"]
    assert "waitlist_position" not in promoted
    still = (await client.get(f"/v1/bookings/{b['id']}", headers=waiting_b.headers)).json()
    assert (still["status"], still["waitlist_position"]) == ("waitlisted", 1)
    # Cancelling again changes nothing (safe to retry) and promotes nobody else.
    again = await client.post(f"/v1/bookings/{held['id']}/cancel", headers=holder.headers)
    assert again.status_code == 200
    assert again.json()["status"] == "cancelled"
    figures = await availability(client, session.session_id)
    assert (figures["confirmed_seats"], figures["waitlist_length"]) == (2, 1)


async def test_strict_fifo_a_large_head_blocks_smaller_bookings_behind_it(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=3)
    holder, group, single, late = mint(), mint(), mint(), mint()
    held = (await book(client, holder, session.session_id, seats=2)).json()
    await book(client, mint(), session.session_id)  # full: 3 of 3
    group_booking = (await book(client, group, session.session_id, seats=3)).json()
    single_booking = (await book(client, single, session.session_id)).json()
    assert group_booking["status"] == single_booking["status"] == "waitlisted"
    # 2 seats free up: the group of 3 at the head does not fit, so nobody behind it overtakes.
    await client.post(f"/v1/bookings/{held['id']}/cancel", headers=holder.headers)
    figures = await availability(client, session.session_id)
    assert (figures["confirmed_seats"], figures["seats_available"], figures["waitlist_length"]) == (1, 2, 2)
    single_view = (await client.get(f"/v1/bookings/{single_booking['id']}", headers=single.headers)).json()
    assert single_view["status"] == "waitlisted"
    # A newcomer does not jump the line either, even for one seat.
    newcomer = (await book(client, late, session.session_id)).json()
    assert (newcomer["status"], newcomer["waitlist_position"]) == ("waitlisted", 3)
    # Capacity raised to 5: the group (3) and then the single (1) fit, in order; the newcomer waits.
    await catalog.update(session, capacity=5)
    statuses = [
        (await client.get(f"/v1/bookings/{b['id']}", headers=p.headers)).json()["status"]
        for b, p in ((group_booking, group), (single_booking, single), (newcomer, late))
    ]
    assert statuses == ["confirmed", "confirmed", "waitlisted"]
    assert await availability(client, session.session_id) == {
        "session_id": str(session.session_id),
        "capacity": 5,
        "confirmed_seats": 5,
        "seats_available": 0,
        "waitlist_length": 1,
        "accessible_capacity": 0,
        "accessible_available": 0,
        "online_capacity": 0,
        "online_available": 0,
    }


async def test_one_active_booking_per_person_and_session(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=1)
    person, other = mint(), mint()
    first = await book(client, person, session.session_id)
    assert_problem(await book(client, person, session.session_id), 409)
    # Also while waitlisted.
    await book(client, other, session.session_id)
    assert_problem(await book(client, other, session.session_id, seats=2), 409)
    # Once cancelled, the person may book again (and joins the back of the line).
    await client.post(f"/v1/bookings/{first.json()['id']}/cancel", headers=person.headers)
    again = await book(client, person, session.session_id)
    assert again.status_code == 201
    assert again.json()["status"] == "waitlisted"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"booking_opens_at": minutes_from_now(60)}, "booking_closed"),
        ({"booking_closes_at": minutes_from_now(-1)}, "booking_closed"),
        ({"starts_at": minutes_from_now(-5)}, "session_started"),
    ],
)
async def test_outside_the_booking_window_or_started_is_409(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint, fields: dict[str, Any], reason: str
) -> None:
    session = await catalog.schedule(**fields)
    problem = assert_problem(await book(client, mint(), session.session_id), 409)
    assert problem["reason"] == reason
    assert (await availability(client, session.session_id))["confirmed_seats"] == 0


async def test_window_bounds_are_half_open(client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint) -> None:
    session = await catalog.schedule(booking_opens_at=minutes_from_now(-1), booking_closes_at=minutes_from_now(5))
    assert (await book(client, mint(), session.session_id)).status_code == 201


async def test_a_cancelled_session_takes_no_bookings(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule()
    await catalog.cancel(session)
    problem = assert_problem(await book(client, mint(), session.session_id), 409)
    assert problem["reason"] == "session_cancelled"


async def test_unknown_session_is_404(client: httpx.AsyncClient, mint: Mint) -> None:
    # The catalog does not know it either (booking asked it).
    assert_problem(await book(client, mint(), new_id()), 404)
    assert_problem(await client.get(f"/v1/availability/{new_id()}"), 404)


async def test_bad_input_is_a_clear_4xx_and_changes_nothing(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule()
    person = mint()
    headers = {**person.headers, "Idempotency-Key": "k1"}
    cases: list[tuple[Any, int, str]] = [
        ({"session_id": str(session.session_id), "seats": 0}, 422, "/body/seats"),
        ({"session_id": str(session.session_id), "seats": 11}, 422, "/body/seats"),
        ({"session_id": str(session.session_id), "seats": "many"}, 422, "/body/seats"),
        ({"session_id": "not-a-uuid"}, 422, "/body/session_id"),
        ({}, 422, "/body/session_id"),
        ({"session_id": str(session.session_id), "status": "confirmed"}, 422, "/body/status"),
        ({"session_id": str(session.session_id), "organization_id": "x\x00"}, 422, ""),
        ([1, 2], 422, ""),
    ]
    for body, status, pointer in cases:
        problem = assert_problem(await client.post("/v1/bookings", json=body, headers=headers), status)
        if pointer:
            assert any(e["pointer"] == pointer for e in problem["errors"]), problem  # type: ignore[attr-defined]
    not_json = await client.post("/v1/bookings", content=b"{", headers={**headers, "Content-Type": "application/json"})
    assert_problem(not_json, 422)
    assert (await availability(client, session.session_id))["confirmed_seats"] == 0


async def test_auth_and_idempotency_key_are_required(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule()
    body = {"session_id": str(session.session_id)}
    unauthenticated = await client.post("/v1/bookings", json=body, headers={"Idempotency-Key": "k"})
    assert_problem(unauthenticated, 401)
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
    assert_problem(
        await client.post("/v1/bookings", json=body, headers={"Authorization": "Bearer junk", "Idempotency-Key": "k"}),
        401,
    )
    person = mint()
    assert_problem(await client.post("/v1/bookings", json=body, headers=person.headers), 400)
    too_long = {**person.headers, "Idempotency-Key": "k" * 256}
    assert_problem(await client.post("/v1/bookings", json=body, headers=too_long), 400)
    longest = {**person.headers, "Idempotency-Key": "k" * 255}
    assert (await client.post("/v1/bookings", json=body, headers=longest)).status_code == 201
    for path in ("/v1/bookings", f"/v1/bookings/{new_id()}"):
        assert_problem(await client.get(path), 401)
    assert_problem(await client.post(f"/v1/bookings/{new_id()}/cancel"), 401)


async def test_list_own_bookings_with_filters_and_paging(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    person, stranger = mint(), mint()
    sessions = [await catalog.schedule(capacity=1) for _ in range(5)]
    await book(client, stranger, sessions[4].session_id)  # someone else's booking is never listed
    made = [(await book(client, person, s.session_id)).json() for s in sessions]
    assert [m["status"] for m in made] == ["confirmed"] * 4 + ["waitlisted"]
    await client.post(f"/v1/bookings/{made[0]['id']}/cancel", headers=person.headers)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/bookings", params=params, headers=person.headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [m["id"] for m in made]
    confirmed = (await client.get("/v1/bookings", params={"status": "confirmed"}, headers=person.headers)).json()
    assert [b["id"] for b in confirmed["items"]] == [m["id"] for m in made[1:4]]
    assert all(b["checkin_code"] for b in confirmed["items"])
    one_session = await client.get(
        "/v1/bookings", params={"session_id": str(sessions[4].session_id)}, headers=person.headers
    )
    assert [(b["id"], b["waitlist_position"]) for b in one_session.json()["items"]] == [(made[4]["id"], 1)]
    for bad in ({"limit": 0}, {"limit": 101}, {"status": "lost"}, {"session_id": "x"}, {"cursor": "!!"}):
        assert_problem(await client.get("/v1/bookings", params=bad, headers=person.headers), 422)


async def test_session_cancelled_in_the_catalog_cancels_every_booking(
    client: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    catalog: CatalogStandIn,
    mint: Mint,
    deliver_events: Callable[[], Awaitable[int]],
) -> None:
    session = await catalog.schedule(capacity=2)
    people = [mint() for _ in range(4)]
    made = [(await book(client, p, session.session_id)).json() for p in people]
    assert [m["status"] for m in made] == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    await catalog.cancel(session)
    for made_booking, person in zip(made, people, strict=True):
        view = (await client.get(f"/v1/bookings/{made_booking['id']}", headers=person.headers)).json()
        assert view["status"] == "cancelled"
        assert "checkin_code" not in view
    assert await availability(client, session.session_id) == {
        "session_id": str(session.session_id),
        "capacity": 2,
        "confirmed_seats": 0,
        "seats_available": 2,
        "waitlist_length": 0,
        "accessible_capacity": 0,
        "accessible_available": 0,
        "online_capacity": 0,
        "online_available": 0,
    }
    # Redelivering the same cancellation changes nothing; the people may not book it again.
    assert_problem(await book(client, people[0], session.session_id), 409)
    assert await deliver_events() > 0


async def test_lowering_capacity_below_confirmed_keeps_every_confirmed_seat(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=3)
    for _ in range(3):
        await book(client, mint(), session.session_id)
    await catalog.update(session, capacity=1)
    figures = await availability(client, session.session_id)
    assert (figures["capacity"], figures["confirmed_seats"]) == (3, 3)
    # A capacity above the confirmed seats applies as given.
    await catalog.update(session, capacity=6)
    assert (await availability(client, session.session_id))["capacity"] == 6


async def test_every_change_emits_availability_in_its_transaction(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=1)
    person = mint()
    booking = (await book(client, person, session.session_id)).json()
    await book(client, mint(), session.session_id)
    await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=person.headers)
    outbox = apps["booking"].state.outbox._tables.outbox
    async with apps["booking"].state.database.sessionmaker() as db:
        rows = (
            await db.execute(
                select(outbox.c.type, outbox.c.subscriber, outbox.c.sequence, outbox.c.payload)
                .where(outbox.c.aggregate_id == session.session_id)
                .order_by(outbox.c.sequence)
            )
        ).all()
    assert {(r.type, r.subscriber) for r in rows} == {("availability.changed", "catalog")}
    figures = [AvailabilityChanged.model_validate(r.payload) for r in rows]
    # scheduled (0/1), booked (1/1), waitlisted (1/1, 1 waiting), cancelled + promoted (1/1, none waiting)
    assert [(f.confirmed_seats, f.seats_available, f.waitlist_length) for f in figures] == [
        (0, 1, 0),
        (1, 0, 0),
        (1, 0, 1),
        (1, 0, 0),
    ]
    assert [r.sequence for r in rows] == [1, 2, 3, 4]


async def test_failed_bookings_emit_nothing_and_hold_no_seat(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=5)
    person = mint()
    await book(client, person, session.session_id)
    assert_problem(await book(client, person, session.session_id, seats=2), 409)  # already booked
    assert (await availability(client, session.session_id))["confirmed_seats"] == 1
    outbox = apps["booking"].state.outbox._tables.outbox
    async with apps["booking"].state.database.sessionmaker() as db:
        count = len((await db.execute(select(outbox.c.id).where(outbox.c.aggregate_id == session.session_id))).all())
    assert count == 2  # scheduled + the one booking


async def test_the_database_refuses_more_confirmed_seats_than_capacity(
    apps: dict[str, FastAPI], catalog: CatalogStandIn
) -> None:
    session = await catalog.schedule(capacity=2)
    with pytest.raises(IntegrityError, match="seats_within_capacity"):
        async with apps["booking"].state.database.sessionmaker.begin() as db:
            await db.execute(
                update(Inventory).where(Inventory.session_id == session.session_id).values(confirmed_seats=3)
            )
    with pytest.raises(IntegrityError, match="uq_bookings_active_session_person"):
        await _insert_two_waitlisted_bookings_of_one_person(apps, session.session_id)


async def _insert_two_waitlisted_bookings_of_one_person(apps: dict[str, FastAPI], session_id: UUID) -> None:
    person_id = new_id()
    async with apps["booking"].state.database.sessionmaker.begin() as db:
        for seq in (1, 2):
            await db.execute(
                text(
                    "INSERT INTO booking.bookings (id, session_id, person_id, seats, status, waitlist_seq,"
                    " session_ends_at) SELECT :id, :session, :person, 1, 'waitlisted', :seq, ends_at"
                    " FROM booking.inventory WHERE session_id = :session"
                ),
                {"id": new_id(), "session": session_id, "person": person_id, "seq": seq},
            )


async def test_organization_bookings_by_coordinators(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    org_max_seats = apps["booking"].state.settings.organization_max_seats
    org = await organization(client, roles=("admin", "coordinator", "member"))
    session = await catalog.schedule(capacity=20)
    made = await book(client, org["coordinator"], session.session_id, seats=10, organization_id=org.id)
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["person_id"], body["organization_id"], body["seats"]) == (org["coordinator"].id, org.id, 10)
    assert_problem(await book(client, org["member"], session.session_id, organization_id=org.id), 403)
    assert_problem(await book(client, mint(), session.session_id, organization_id=org.id), 403)
    too_many = org_max_seats + 1  # BOOKING_ORGANIZATION_MAX_SEATS
    assert_problem(await book(client, org["admin"], session.session_id, seats=too_many, organization_id=org.id), 422)
    # One active block per organization and session (a larger one replaces it: cancel, then book).
    taken = assert_problem(await book(client, org["admin"], session.session_id, organization_id=org.id), 409)
    assert taken["reason"] == "organization_block_exists"
    # Operators may book for any organization.
    operator = mint(roles=["operator"])
    other = await organization(client, roles=())
    assert (await book(client, operator, session.session_id, organization_id=other.id)).status_code == 201
    # The organization's admin reads and cancels it; a plain member cannot see it.
    booking_path = f"/v1/bookings/{body['id']}"
    admin_view = await client.get(booking_path, headers=org["admin"].headers)
    assert admin_view.status_code == 200
    assert admin_view.json()["checkin_code"] == body["checkin_code"]
    assert_problem(await client.get(booking_path, headers=org["member"].headers), 404)
    assert_problem(await client.post(booking_path + "/cancel", headers=org["member"].headers), 404)
    cancelled = await client.post(booking_path + "/cancel", headers=org["admin"].headers)
    assert cancelled.json()["status"] == "cancelled"
    assert (await availability(client, session.session_id))["confirmed_seats"] == 1


async def test_bola_matrix_in_process(client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint) -> None:
    host = await organization(client, roles=("coordinator", "member"))
    session = await catalog.schedule(host_org_id=host.id, capacity=5)
    owner, stranger = mint(), mint()
    booking = (await book(client, owner, session.session_id)).json()
    path = f"/v1/bookings/{booking['id']}"
    assert (await client.get(path, headers=owner.headers)).json()["checkin_code"] == booking["checkin_code"]
    assert_problem(await client.get(path, headers=stranger.headers), 404)
    assert_problem(await client.post(path + "/cancel", headers=stranger.headers), 404)
    assert_problem(await client.get(path, headers=host["member"].headers), 404)
    staff_view = await client.get(path, headers=host["coordinator"].headers)
    assert staff_view.status_code == 200
    assert "checkin_code" not in staff_view.json()  # staff scan codes, they do not read them
    assert_problem(await client.post(path + "/cancel", headers=host["coordinator"].headers), 403)
    # The roster: staff of the host see everyone; anyone else only themselves.
    other = (await book(client, stranger, session.session_id)).json()
    roster = await client.get(
        "/v1/bookings", params={"session_id": str(session.session_id)}, headers=host["owner"].headers
    )
    assert [b["id"] for b in roster.json()["items"]] == [booking["id"], other["id"]]
    assert all("checkin_code" not in b for b in roster.json()["items"])
    mine = await client.get("/v1/bookings", params={"session_id": str(session.session_id)}, headers=stranger.headers)
    assert [b["id"] for b in mine.json()["items"]] == [other["id"]]
    operator = mint(roles=["operator"])
    assert (await client.get(path, headers=operator.headers)).status_code == 200
    assert (await client.post(path + "/cancel", headers=operator.headers)).json()["status"] == "cancelled"
    assert_problem(await client.get(f"/v1/bookings/{new_id()}", headers=owner.headers), 404)
    assert_problem(await client.get("/v1/bookings/not-a-uuid", headers=owner.headers), 422)


async def test_a_booking_cannot_be_cancelled_once_the_session_started(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule()
    person = mint()
    booking = (await book(client, person, session.session_id)).json()
    await catalog.update(session, starts_at=minutes_from_now(-1), ends_at=minutes_from_now(60))
    assert_problem(await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=person.headers), 409)


async def test_times_and_window_changes_apply(client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint) -> None:
    session = await catalog.schedule(booking_closes_at=minutes_from_now(-1))
    assert_problem(await book(client, mint(), session.session_id), 409)
    await catalog.update(session, booking_closes_at=session.starts_at - timedelta(hours=1))
    assert (await book(client, mint(), session.session_id)).status_code == 201
