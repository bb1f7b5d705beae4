"""A person's data is theirs: booking's part of their export (`GET /internal/v1/people/{id}/export`) and of
their erasure (`person.erased` from orgs), which leaves no booking row and no outbox row naming them."""

from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from services.booking.models import Booking, Checkin
from shared.clients import INTERNAL_SECRET_HEADER
from shared.ids import new_id
from shared.settings import DEV_INTERNAL_SECRET
from tests.booking.conftest import (
    CatalogStandIn,
    Mint,
    availability,
    book,
    erasure,
    inbox_delivery,
    minutes_from_now,
    notices_for_notify,
    person_export,
    rows_naming,
)
from tests.support import Person

INTERNAL = {INTERNAL_SECRET_HEADER: DEV_INTERNAL_SECRET}


async def _booked(client: httpx.AsyncClient, person: Person, session_id: Any, **fields: Any) -> dict[str, Any]:
    response = await book(client, person, session_id, **fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _check_in(client: httpx.AsyncClient, staff: Person, code: str) -> None:
    response = await client.post("/v1/checkins", json={"code": code}, headers=staff.headers)
    assert response.status_code == 200, response.text


async def _snapshot(apps: dict[str, FastAPI]) -> tuple[list[Any], list[Any], list[Any]]:
    """Every booking, check-in and outbox row (the outbox without delivery bookkeeping)."""
    outbox = apps["booking"].state.outbox._tables.outbox
    async with apps["booking"].state.database.sessionmaker() as db:
        bookings = (await db.execute(select(Booking.__table__).order_by(Booking.id))).all()
        checkins = (await db.execute(select(Checkin.__table__).order_by(Checkin.booking_id))).all()
        events = (await db.execute(select(outbox.c.id, outbox.c.payload).order_by(outbox.c.id))).all()
    return list(bookings), list(checkins), list(events)


async def _bookings_by_id(apps: dict[str, FastAPI], ids: list[str]) -> dict[str, Any]:
    statement = select(Booking.__table__).where(Booking.id.in_([UUID(i) for i in ids]))
    async with apps["booking"].state.database.sessionmaker() as db:
        return {str(row.id): row for row in (await db.execute(statement)).all()}


async def test_the_export_holds_every_booking_checkin_and_the_learning_record(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    person = mint()
    operator = mint(roles=["operator"])
    soon = await catalog.schedule(capacity=2, starts_at=minutes_from_now(30), title={"en": "Ink painting"})
    full = await catalog.schedule(capacity=1)
    later = await catalog.schedule()
    attended = await _booked(client, person, soon.session_id)
    await _check_in(client, operator, attended["checkin_code"])
    await _booked(client, mint(), full.session_id)
    waitlisted = await _booked(client, person, full.session_id)
    cancelled = await _booked(client, person, later.session_id, seats=2)
    await client.post(f"/v1/bookings/{cancelled['id']}/cancel", headers=person.headers)
    organization_id = str(new_id())
    as_coordinator = mint(person_id=UUID(person.id), roles=["operator"])  # an operator books for any organization
    for_organization = await _booked(client, as_coordinator, later.session_id, organization_id=organization_id)
    # As host staff (an operator) the person checks someone else in: also theirs to see, without whose.
    other = await _booked(client, mint(), soon.session_id)
    await _check_in(client, mint(person_id=UUID(person.id), roles=["operator"]), other["checkin_code"])

    exported = await person_export(client, person.id)
    assert set(exported) == {"bookings", "checkins", "checkins_performed", "seat_assignments", "learning_record"}
    by_id = {b["id"]: b for b in exported["bookings"]}
    assert list(by_id) == sorted(by_id)  # oldest first (time-ordered ids)
    assert set(by_id) == {attended["id"], waitlisted["id"], cancelled["id"], for_organization["id"]}
    assert by_id[attended["id"]] | {"checked_in_at": None} == {
        "id": attended["id"],
        "session_id": str(soon.session_id),
        "session_title": {"en": "Ink painting"},
        "session_starts_at": soon.starts_at.isoformat().replace("+00:00", "Z"),
        "session_ends_at": soon.ends_at.isoformat().replace("+00:00", "Z"),
        "organization_id": None,
        "block_id": None,
        "seats": 1,
        "status": "confirmed",
        "waitlist_position": None,
        "checkin_code": attended["checkin_code"],
        "created_at": attended["created_at"],
        "confirmed_at": by_id[attended["id"]]["confirmed_at"],
        "cancelled_at": None,
        "cancel_reason": None,
        "checked_in_at": None,
    }
    assert by_id[attended["id"]]["checked_in_at"] is not None
    assert (by_id[waitlisted["id"]]["status"], by_id[waitlisted["id"]]["waitlist_position"]) == ("waitlisted", 1)
    gone = by_id[cancelled["id"]]
    assert (gone["status"], gone["seats"], gone["cancel_reason"], gone["checkin_code"]) == (
        "cancelled",
        2,
        "by_holder",
        None,
    )
    assert gone["cancelled_at"] is not None
    assert by_id[for_organization["id"]]["organization_id"] == organization_id
    (checkin,) = exported["checkins"]
    assert (checkin["booking_id"], checkin["minutes"], checkin["kind"]) == (attended["id"], 90, "reading")
    assert [c["session_id"] for c in exported["checkins_performed"]] == [str(soon.session_id)]
    mine = await client.get("/v1/learning-records/me", params={"limit": 100}, headers=person.headers)
    assert exported["learning_record"] == mine.json()
    assert exported["learning_record"]["total_minutes"] == 90


async def test_the_export_is_internal_and_empty_for_a_stranger(client: httpx.AsyncClient) -> None:
    stranger = str(new_id())
    refused = await client.get(f"http://booking.internal/internal/v1/people/{stranger}/export")
    assert refused.status_code == 401
    exported = await person_export(client, stranger)
    assert (exported["bookings"], exported["checkins"], exported["checkins_performed"]) == ([], [], [])
    assert exported["learning_record"]["total_minutes"] == 0
    assert "/internal/v1/people/{person_id}/export" not in (await client.get("/openapi.json")).text


async def test_erasure_promotes_the_waitlist_once_and_leaves_nothing_naming_the_person(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    erased = mint()
    as_staff = mint(person_id=UUID(erased.id), roles=["operator"])
    next_in_line, behind, holder, attendee = mint(), mint(), mint(), mint()
    full = await catalog.schedule(capacity=1)
    waiting_on = await catalog.schedule(capacity=1)
    soon = await catalog.schedule(capacity=5, starts_at=minutes_from_now(30))
    past_choice = await catalog.schedule()
    seat = await _booked(client, erased, full.session_id)
    promoted = await _booked(client, next_in_line, full.session_id)
    still_waiting = await _booked(client, behind, full.session_id)
    await _booked(client, holder, waiting_on.session_id)
    place = await _booked(client, erased, waiting_on.session_id)
    attended = await _booked(client, erased, soon.session_id)
    await _check_in(client, mint(roles=["operator"]), attended["checkin_code"])
    checked_by_them = await _booked(client, attendee, soon.session_id)
    await _check_in(client, as_staff, checked_by_them["checkin_code"])
    withdrawn = await _booked(client, erased, past_choice.session_id, key="their-own-key")
    await client.post(f"/v1/bookings/{withdrawn['id']}/cancel", headers=erased.headers)
    theirs = [seat["id"], place["id"], attended["id"], withdrawn["id"]]
    assert await rows_naming(apps, erased.id)  # bookings, check-ins, keys, rate window, outbox rows

    deliver = inbox_delivery(apps["booking"])
    event = erasure(erased.id)
    await deliver(event)

    assert await rows_naming(apps, erased.id) == {}
    rows = await _bookings_by_id(apps, theirs)
    (anonymous,) = {row.person_id for row in rows.values()}
    assert anonymous != UUID(erased.id)
    assert {(row.status, row.checkin_code) for row in rows.values()} == {("cancelled", None)}
    assert [rows[i].cancel_reason for i in theirs] == ["erased", "erased", "erased", "by_holder"]
    # Their attendance stays, as an aggregate under the anonymous id; so does a check-in they made.
    async with apps["booking"].state.database.sessionmaker() as db:
        checkins = {str(c.booking_id): c for c in (await db.execute(select(Checkin.__table__))).all()}
    assert (checkins[attended["id"]].person_id, checkins[attended["id"]].minutes) == (anonymous, 90)
    assert checkins[checked_by_them["id"]].checked_in_by == anonymous
    # The freed seat went to the next in line, told once; nothing told of the erased person's own lines.
    assert [(r["type"], r["payload"]["cause"]) for r in await notices_for_notify(apps["booking"], promoted["id"])] == [
        ("booking.waitlisted", "booked"),
        ("booking.confirmed", "promoted"),
    ]
    assert await notices_for_notify(apps["booking"], *theirs) == []
    view = (await client.get(f"/v1/bookings/{still_waiting['id']}", headers=behind.headers)).json()
    assert (view["status"], view["waitlist_position"]) == ("waitlisted", 1)
    assert (await availability(client, full.session_id))["waitlist_length"] == 1
    assert (await availability(client, waiting_on.session_id))["waitlist_length"] == 0
    assert (await availability(client, soon.session_id))["confirmed_seats"] == 1

    # Delivered again, or erased again by a new event: nothing changes.
    before = await _snapshot(apps)
    await deliver(event)
    await deliver(erasure(erased.id))
    assert await _snapshot(apps) == before
    exported = await person_export(client, erased.id)
    assert (exported["bookings"], exported["checkins"], exported["learning_record"]["items"]) == ([], [], [])
