"""Booking's audit trail (`GET /v1/bookings/audit`): check-ins by host staff, cancellations by admins and
operators (and of organization bookings), and members named to or taken off an organization booking's seats."""

from typing import Any

import httpx
from fastapi import FastAPI

from shared.ids import new_id
from tests.booking.conftest import (
    CatalogStandIn,
    Mint,
    book,
    erasure,
    inbox_delivery,
    minutes_from_now,
    organization,
    rows_naming,
)
from tests.support import Person, assert_problem, new_email, register_and_login

AUDIT = "/v1/bookings/audit"


async def _entries(client: httpx.AsyncClient, reader: Person, **query: Any) -> list[dict[str, Any]]:
    response = await client.get(AUDIT, params=query, headers=reader.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _checkin(client: httpx.AsyncClient, staff: Person, code: str) -> httpx.Response:
    return await client.post("/v1/checkins", json={"code": code}, headers=staff.headers)


async def test_a_check_in_is_audited_for_the_host_once(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    host = await organization(client, roles=("admin", "coordinator"))
    other = await organization(client, roles=("admin",))
    session = await catalog.schedule(host_org_id=host.id, starts_at=minutes_from_now(30))
    attendee = mint()
    booking = (await book(client, attendee, session.session_id)).json()
    checked = await _checkin(client, host["coordinator"], booking["checkin_code"])
    assert checked.status_code == 200, checked.text
    assert_problem(await _checkin(client, host["admin"], booking["checkin_code"]), 409)  # no second entry

    [entry] = await _entries(client, host["admin"], organization_id=host.id)
    assert (entry["action"], entry["entity_type"], entry["entity_id"]) == ("checkin.recorded", "checkin", booking["id"])
    assert (entry["actor_id"], entry["organization_id"], entry["before"]) == (host["coordinator"].id, host.id, None)
    assert entry["after"] == {
        "booking_id": booking["id"],
        "person_id": attendee.id,
        "session_id": str(session.session_id),
        "checked_in_at": checked.json()["checked_in_at"].replace("+00:00", "Z"),
        "minutes": 90,
    }
    # Staff below admin, admins of another organization and the signed-out read nothing.
    assert_problem(await client.get(AUDIT, params={"organization_id": host.id}), 401)
    for reader in (host["coordinator"], other["admin"]):
        assert_problem(await client.get(AUDIT, params={"organization_id": host.id}, headers=reader.headers), 403)
    assert_problem(await client.get(AUDIT, headers=host["admin"].headers), 403)
    assert await _entries(client, other["admin"], organization_id=other.id) == []
    assert await _entries(client, mint(roles=["operator"]), entity_id=booking["id"]) == [entry]

    # The staff member is erased: the entry stays, under the random id their other rows now carry.
    await inbox_delivery(apps["booking"])(erasure(host["coordinator"].id))
    assert await rows_naming(apps, host["coordinator"].id) == {}
    [kept] = await _entries(client, host["admin"], organization_id=host.id)
    assert kept["actor_id"] not in (None, host["coordinator"].id) and kept["after"] == entry["after"]


async def test_cancellations_by_admins_and_operators_are_audited_and_a_persons_own_are_not(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    org = await organization(client)
    session = await catalog.schedule(host_org_id=new_id())
    block = await client.post(
        "/v1/bookings",
        json={"session_id": str(session.session_id), "seats": 2, "organization_id": org.id},
        headers={**org["coordinator"].headers, "Idempotency-Key": "block"},
    )
    assert block.status_code == 201, block.text
    own, by_operator = mint(), mint()
    mine = (await book(client, own, session.session_id)).json()
    theirs = (await book(client, by_operator, session.session_id)).json()
    operator = mint(roles=["operator"])
    # Refused: a plain member of the organization may not even see the block (404), and records nothing.
    assert_problem(await client.post(f"/v1/bookings/{block.json()['id']}/cancel", headers=org["member"].headers), 404)
    for canceller, booking_id in (
        (org["admin"], block.json()["id"]),
        (own, mine["id"]),
        (operator, theirs["id"]),
        (org["admin"], block.json()["id"]),  # again: already cancelled, nothing new
    ):
        response = await client.post(f"/v1/bookings/{booking_id}/cancel", headers=canceller.headers)
        assert response.status_code == 200, response.text

    entries = await _entries(client, operator, action="booking.cancelled")
    assert [(e["entity_id"], e["actor_id"], e["actor_is_operator"]) for e in entries] == [
        (theirs["id"], operator.id, True),
        (block.json()["id"], org["admin"].id, False),
    ]
    assert entries[0]["organization_id"] == str(session.host_org_id)  # a person's booking: the host's entry
    assert entries[1]["organization_id"] == org.id
    assert entries[1]["before"] == {
        "status": "confirmed",
        "person_id": org["coordinator"].id,
        "session_id": str(session.session_id),
        "seats": 2,
    }
    assert entries[1]["after"] == {"status": "cancelled", "cancel_reason": "by_organization_admin"}
    assert [e["entity_id"] for e in await _entries(client, org["admin"], organization_id=org.id)] == [
        block.json()["id"]
    ]


async def test_naming_and_unnaming_a_member_is_audited(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    org = await organization(client)
    member = await register_and_login(client, new_email("member"))
    added = await client.post(
        f"/v1/organizations/{org.id}/members",
        json={"email": member.email, "role": "member"},
        headers=org["owner"].headers,
    )
    assert added.status_code == 201, added.text
    session = await catalog.schedule()
    body = {"session_id": str(session.session_id), "seats": 2, "organization_id": org.id}
    block = await client.post("/v1/bookings", json=body, headers={**org["coordinator"].headers, "Idempotency-Key": "b"})
    assert block.status_code == 201, block.text
    named = await client.post(
        f"/v1/bookings/{block.json()['id']}/lines", json={"person_id": member.id}, headers=org["coordinator"].headers
    )
    assert named.status_code == 201, named.text
    line = named.json()["id"]
    assert (await client.post(f"/v1/bookings/{line}/unassign", headers=org["admin"].headers)).status_code == 200
    assert (await client.post(f"/v1/bookings/{line}/unassign", headers=org["admin"].headers)).status_code == 200

    entries = await _entries(client, org["owner"], organization_id=org.id, entity_type="line")
    assert [(e["action"], e["entity_id"], e["actor_id"]) for e in entries] == [
        ("line.unassigned", line, org["admin"].id),
        ("line.assigned", line, org["coordinator"].id),
    ]
    assert entries[0]["before"]["person_id"] == member.id and entries[0]["after"]["status"] == "cancelled"
    assert entries[1]["after"] == {"block_id": block.json()["id"], "person_id": member.id, "status": "confirmed"}
