"""Every change of a booking is told to notify as `booking.<status>` with why it happened (`cause`): the
outbox rows for subscriber `notify`, read straight from booking's outbox."""

from typing import Any

import httpx
from fastapi import FastAPI

from shared.events.schemas import BookingChanged
from tests.booking.conftest import CatalogStandIn, Mint, book, notices_for_notify, organization
from tests.support import Person


def _told(rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(type, booking id, cause) of each row, after checking its payload is a whole `BookingChanged`."""
    for row in rows:
        assert row["payload"] == BookingChanged.model_validate(row["payload"]).model_dump(mode="json")
        assert row["type"] == f"booking.{row['payload']['status']}"
        assert str(row["aggregate_id"]) == row["payload"]["booking_id"]
    return [(r["type"], r["payload"]["booking_id"], r["payload"]["cause"]) for r in rows]


async def _booked(client: httpx.AsyncClient, person: Person, session_id: Any, **fields: Any) -> dict[str, Any]:
    response = await book(client, person, session_id, **fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _code_of(client: httpx.AsyncClient, person: Person, booking_id: str) -> str:
    code: str = (await client.get(f"/v1/bookings/{booking_id}", headers=person.headers)).json()["checkin_code"]
    return code


async def test_new_bookings_are_booked_confirmed_with_code_or_waitlisted_with_position(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=1)
    people = [mint() for _ in range(3)]
    confirmed, first, second = [await _booked(client, p, session.session_id) for p in people]
    rows = await notices_for_notify(apps["booking"])
    assert _told(rows) == [
        ("booking.confirmed", confirmed["id"], "booked"),
        ("booking.waitlisted", first["id"], "booked"),
        ("booking.waitlisted", second["id"], "booked"),
    ]
    payloads = [r["payload"] for r in rows]
    assert payloads[0] == {
        "booking_id": confirmed["id"],
        "session_id": str(session.session_id),
        "person_id": people[0].id,
        "organization_id": None,
        "seats": 1,
        "status": "confirmed",
        "cause": "booked",
        "waitlist_position": None,
        "checkin_code": confirmed["checkin_code"],
        "block_id": None,
    }
    assert [(p["waitlist_position"], p["checkin_code"]) for p in payloads[1:]] == [(1, None), (2, None)]
    assert [p["person_id"] for p in payloads] == [p.id for p in people]


async def test_a_cancellation_by_its_holder_promotes_the_next_in_line(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=1)
    holder, waiting, behind = mint(), mint(), mint()
    held = await _booked(client, holder, session.session_id)
    promoted = await _booked(client, waiting, session.session_id)
    still_waiting = await _booked(client, behind, session.session_id)
    await client.post(f"/v1/bookings/{held['id']}/cancel", headers=holder.headers)
    await client.post(f"/v1/bookings/{held['id']}/cancel", headers=holder.headers)  # again: nothing new
    rows = await notices_for_notify(apps["booking"], held["id"], promoted["id"], still_waiting["id"])
    assert _told(rows)[3:] == [
        ("booking.cancelled", held["id"], "by_owner"),
        ("booking.confirmed", promoted["id"], "promoted"),
    ]
    cancelled, confirmed = rows[3]["payload"], rows[4]["payload"]
    assert (cancelled["checkin_code"], cancelled["waitlist_position"]) == (None, None)
    assert confirmed["checkin_code"] == await _code_of(client, waiting, promoted["id"])
    assert confirmed["person_id"] == waiting.id


async def test_a_cancellation_by_an_organization_admin_or_an_operator(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    org = await organization(client, roles=("admin",))
    session = await catalog.schedule(capacity=10)
    by_admin = await _booked(client, org["owner"], session.session_id, seats=3, organization_id=org.id)
    await client.post(f"/v1/bookings/{by_admin['id']}/cancel", headers=org["admin"].headers)
    by_operator = await _booked(client, mint(), session.session_id)
    await client.post(f"/v1/bookings/{by_operator['id']}/cancel", headers=mint(roles=["operator"]).headers)
    rows = await notices_for_notify(apps["booking"])
    assert _told(rows) == [
        ("booking.confirmed", by_admin["id"], "booked"),
        ("booking.cancelled", by_admin["id"], "by_org_admin"),
        ("booking.confirmed", by_operator["id"], "booked"),
        ("booking.cancelled", by_operator["id"], "by_org_admin"),
    ]
    assert [r["payload"]["organization_id"] for r in rows[:2]] == [org.id, org.id]
    assert rows[0]["payload"]["seats"] == 3


async def test_a_session_cancelled_by_its_host_cancels_every_holder(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=1)
    confirmed = await _booked(client, mint(), session.session_id)
    waitlisted = await _booked(client, mint(), session.session_id)
    await catalog.cancel(session)
    rows = await notices_for_notify(apps["booking"])
    assert sorted(_told(rows)[2:]) == sorted(
        [
            ("booking.cancelled", confirmed["id"], "session_cancelled"),
            ("booking.cancelled", waitlisted["id"], "session_cancelled"),
        ]
    )


async def test_a_capacity_raised_by_the_host_promotes(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=1)
    await _booked(client, mint(), session.session_id)
    waiting = mint()
    waitlisted = await _booked(client, waiting, session.session_id)
    await catalog.update(session, capacity=2)
    rows = await notices_for_notify(apps["booking"], waitlisted["id"])
    assert _told(rows) == [
        ("booking.waitlisted", waitlisted["id"], "booked"),
        ("booking.confirmed", waitlisted["id"], "promoted"),
    ]
    assert rows[1]["payload"]["checkin_code"] == await _code_of(client, waiting, waitlisted["id"])
    assert [r["sequence"] for r in rows] == [1, 2]
