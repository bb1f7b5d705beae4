"""Organization blocks with named member lines: a coordinator books seats for named members, each member gets
a booking line of their own (own code, own learning record), seats are named, replaced and taken off until
the session starts (audited), and a line's cancellation frees exactly one seat to the waitlist. Through the
one base URL, with real organizations and memberships at orgs."""

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from shared.ids import new_id
from tests.booking.conftest import (
    CatalogStandIn,
    Mint,
    Organization,
    availability,
    book,
    erasure,
    inbox_delivery,
    minutes_from_now,
    notices_for_notify,
    organization,
    person_export,
    rows_naming,
)
from tests.support import Person, assert_problem, new_email, register_and_login


async def _members(client: httpx.AsyncClient, org: Organization, count: int) -> list[Person]:
    """`count` newly registered people, added to the organization as plain members."""
    people = []
    for _ in range(count):
        person = await register_and_login(client, new_email("member"))
        added = await client.post(
            f"/v1/organizations/{org.id}/members",
            json={"email": person.email, "role": "member"},
            headers=org["owner"].headers,
        )
        assert added.status_code == 201, added.text
        people.append(person)
    return people


async def _book_block(
    client: httpx.AsyncClient,
    coordinator: Person,
    session_id: Any,
    org: Organization,
    *,
    seats: int,
    members: Sequence[Person | str] = (),
) -> httpx.Response:
    body = {
        "session_id": str(session_id),
        "seats": seats,
        "organization_id": org.id,
        "members": [m.id if isinstance(m, Person) else m for m in members],
    }
    return await client.post(
        "/v1/bookings", json=body, headers={**coordinator.headers, "Idempotency-Key": str(new_id())}
    )


async def _block(client: httpx.AsyncClient, coordinator: Person, session_id: Any, org: Organization, **kw: Any) -> Any:
    response = await _book_block(client, coordinator, session_id, org, **kw)
    assert response.status_code == 201, response.text
    return response.json()


async def _get(client: httpx.AsyncClient, person: Person, booking_id: str) -> Any:
    response = await client.get(f"/v1/bookings/{booking_id}", headers=person.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _mine(client: httpx.AsyncClient, person: Person) -> list[Any]:
    response = await client.get("/v1/bookings", params={"limit": 100}, headers=person.headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def _check_in(client: httpx.AsyncClient, staff: Person, code: str) -> httpx.Response:
    return await client.post("/v1/checkins", json={"code": code}, headers=staff.headers)


async def _minutes(client: httpx.AsyncClient, person: Person) -> int:
    record = await client.get("/v1/learning-records/me", headers=person.headers)
    assert record.status_code == 200, record.text
    minutes: int = record.json()["total_minutes"]
    return minutes


def _told(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, str | None]]:
    """(type, person, cause, block) of each `booking.*` row for notify."""
    return [(r["type"], r["payload"]["person_id"], r["payload"]["cause"], r["payload"]["block_id"]) for r in rows]


async def _sql(apps: dict[str, FastAPI], statement: str, **params: Any) -> Any:
    async with apps["booking"].state.database.sessionmaker() as db:
        return (await db.execute(text(statement), params)).one()


async def _seats_held(apps: dict[str, FastAPI], session_id: Any) -> tuple[int, int]:
    """(the seats of confirmed bookings that hold the session's seats, lines left out; the inventory's
    confirmed seats): equal whatever happened."""
    row = await _sql(
        apps,
        "SELECT (SELECT COALESCE(sum(seats), 0) FROM booking.bookings WHERE session_id = :s"
        " AND status = 'confirmed' AND block_id IS NULL) AS held,"
        " (SELECT confirmed_seats FROM booking.inventory WHERE session_id = :s) AS counted",
        s=session_id,
    )
    return int(row.held), int(row.counted)


async def test_a_coordinator_books_seats_for_five_named_members(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn
) -> None:
    host = await organization(client, roles=("coordinator",))
    org = await organization(client, roles=("admin", "coordinator"))
    members = await _members(client, org, 5)
    session = await catalog.schedule(host_org_id=host.id, capacity=8, starts_at=minutes_from_now(30))
    block = await _block(client, org["coordinator"], session.session_id, org, seats=5, members=members)
    assert (block["status"], block["seats"], block["organization_id"], block["unassigned_seats"]) == (
        "confirmed",
        5,
        org.id,
        0,
    )
    assert "block_id" not in block and "pending_members" not in block
    assert [line["person_id"] for line in block["lines"]] == [m.id for m in members]
    assert {line["status"] for line in block["lines"]} == {"confirmed"}
    # Each seat is counted once, in the block.
    assert (await availability(client, session.session_id))["confirmed_seats"] == 5
    assert await _seats_held(apps, session.session_id) == (5, 5)

    # Each member sees their own line, and only it, with its own code and QR code.
    codes: dict[str, str] = {}
    for member, line in zip(members, block["lines"], strict=True):
        (mine,) = await _mine(client, member)
        assert (mine["id"], mine["block_id"], mine["organization_id"], mine["seats"], mine["status"]) == (
            line["id"],
            block["id"],
            org.id,
            1,
            "confirmed",
        )
        codes[member.id] = mine["checkin_code"]
        qr = await client.get(f"/v1/bookings/{line['id']}/checkin-qr.svg", headers=member.headers)
        assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    assert len({*codes.values(), block["checkin_code"]}) == 6
    # Someone else's line is not there for a member: 404, as for a booking that does not exist.
    others_line = block["lines"][1]["id"]
    for path in (f"/v1/bookings/{others_line}", f"/v1/bookings/{others_line}/checkin-qr.svg"):
        assert_problem(await client.get(path, headers=members[0].headers), 404)
    assert_problem(await client.post(f"/v1/bookings/{others_line}/cancel", headers=members[0].headers), 404)
    assert_problem(await client.get(f"/v1/bookings/{block['id']}", headers=members[0].headers), 404)
    # The coordinator and the organization's admins read the block and its lines, codes included.
    for manager in (org["coordinator"], org["admin"]):
        seen = await _get(client, manager, block["id"])
        assert (seen["lines"], seen["unassigned_seats"], seen["checkin_code"]) == (
            block["lines"],
            0,
            block["checkin_code"],
        )
        assert (await _get(client, manager, others_line))["checkin_code"] == codes[members[1].id]
    # Host staff's roster: the block with its unassigned seats, and each line with its block; no codes.
    roster = await client.get(
        "/v1/bookings", params={"session_id": str(session.session_id)}, headers=host["coordinator"].headers
    )
    items = roster.json()["items"]
    assert [b["id"] for b in items] == [block["id"], *(line["id"] for line in block["lines"])]
    assert items[0]["unassigned_seats"] == 0 and len(items[0]["lines"]) == 5
    assert [b["block_id"] for b in items[1:]] == [block["id"]] * 5
    assert all("checkin_code" not in b for b in items)

    # Host staff check three members in: each credits that member, never the coordinator.
    for member in members[:3]:
        checked = await _check_in(client, host["coordinator"], codes[member.id])
        assert checked.status_code == 200, checked.text
    refused = assert_problem(await _check_in(client, host["coordinator"], block["checkin_code"]), 409)
    assert refused["reason"] == "check_in_member_codes"
    assert [await _minutes(client, m) for m in members] == [90, 90, 90, 0, 0]
    assert await _minutes(client, org["coordinator"]) == 0
    lines = (await _get(client, org["coordinator"], block["id"]))["lines"]
    assert [("checked_in_at" in line) for line in lines] == [True, True, True, False, False]

    # Each member is told of their own seat, as a line of the block.
    line_ids = [line["id"] for line in block["lines"]]
    assert sorted(_told(await notices_for_notify(apps["booking"], *line_ids))) == sorted(
        ("booking.confirmed", m.id, "booked", block["id"]) for m in members
    )
    confirmed = await notices_for_notify(apps["booking"], line_ids[0])
    assert confirmed[0]["payload"]["checkin_code"] == codes[members[0].id]


async def test_naming_seats_later_and_the_block_code_for_unnamed_seats(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    host = await organization(client, roles=("coordinator",))
    org = await organization(client, roles=("coordinator",))
    first, second, third = await _members(client, org, 3)
    session = await catalog.schedule(host_org_id=host.id, capacity=5, starts_at=minutes_from_now(30))
    block = await _block(client, org["coordinator"], session.session_id, org, seats=3, members=[first])
    assert block["unassigned_seats"] == 2
    path = f"/v1/bookings/{block['id']}/lines"
    coordinator = org["coordinator"].headers
    named = await client.post(path, json={"person_id": second.id}, headers=coordinator)
    assert named.status_code == 201, named.text
    line = named.json()
    assert (line["person_id"], line["block_id"], line["seats"], line["status"]) == (
        second.id,
        block["id"],
        1,
        "confirmed",
    )
    assert line["checkin_code"] == (await _mine(client, second))[0]["checkin_code"]
    assert (await _get(client, org["coordinator"], block["id"]))["unassigned_seats"] == 1
    # Named twice, or not a member of the organization: refused, naming the person.
    twice = assert_problem(await client.post(path, json={"person_id": second.id}, headers=coordinator), 409)
    assert (twice["reason"], twice["person_ids"]) == ("member_already_booked", [second.id])
    stranger = mint()
    outsider = assert_problem(await client.post(path, json={"person_id": stranger.id}, headers=coordinator), 422)
    assert outsider["person_ids"] == [stranger.id]
    assert [e["pointer"] for e in outsider["errors"]] == ["/body/person_id"]  # type: ignore[attr-defined]
    # Every seat named: no more, and the block's own code is refused (each member has theirs).
    assert (await client.post(path, json={"person_id": third.id}, headers=coordinator)).status_code == 201
    full = assert_problem(await client.post(path, json={"person_id": org["owner"].id}, headers=coordinator), 409)
    assert full["reason"] == "no_unassigned_seat"
    assert_problem(await _check_in(client, host["coordinator"], block["checkin_code"]), 409)
    # Taken off, the seat is the block's again: unassigned, admitted by the block's code, credited to the
    # coordinator who booked it. The seat is never freed (the session's figures do not move).
    third_line = (await _mine(client, third))[0]
    off = await client.post(f"/v1/bookings/{third_line['id']}/unassign", headers=coordinator)
    assert off.status_code == 200, off.text
    assert (off.json()["status"], "checkin_code" in off.json()) == ("cancelled", False)
    again = await client.post(f"/v1/bookings/{third_line['id']}/unassign", headers=coordinator)
    assert again.json()["status"] == "cancelled"  # safe to retry
    assert (await _get(client, org["coordinator"], block["id"]))["unassigned_seats"] == 1
    assert (await availability(client, session.session_id))["confirmed_seats"] == 3
    assert_problem(await _check_in(client, host["coordinator"], third_line["checkin_code"]), 404)
    assert (await _check_in(client, host["coordinator"], block["checkin_code"])).status_code == 200
    assert await _minutes(client, org["coordinator"]) == 90
    assert await _minutes(client, third) == 0
    told = _told(await notices_for_notify(apps["booking"], third_line["id"]))
    assert told == [
        ("booking.confirmed", third.id, "booked", block["id"]),
        ("booking.cancelled", third.id, "unassigned", block["id"]),
    ]
    # A booking of one's own has no seats to name.
    owner = mint()
    own = (await book(client, owner, session.session_id)).json()
    not_a_block = await client.post(
        f"/v1/bookings/{own['id']}/lines", json={"person_id": first.id}, headers=owner.headers
    )
    assert assert_problem(not_a_block, 409)["reason"] == "not_an_organization_block"


async def test_reassigning_moves_the_code_and_is_audited(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    host = await organization(client, roles=("coordinator",))
    org = await organization(client, roles=("admin", "coordinator"))
    first, second, newcomer = await _members(client, org, 3)
    session = await catalog.schedule(host_org_id=host.id, capacity=2, starts_at=minutes_from_now(30))
    block = await _block(client, org["coordinator"], session.session_id, org, seats=2, members=[first, second])
    waiting = mint()
    waitlisted = (await book(client, waiting, session.session_id)).json()
    old_line = block["lines"][0]["id"]
    old_code = (await _mine(client, first))[0]["checkin_code"]
    reassign = f"/v1/bookings/{old_line}/reassign"

    # Who may: the coordinator who booked the block, the organization's admins, operators. The member holding
    # the seat and host staff see the line but may not (403); another member of the organization and a
    # stranger do not see it at all (404).
    for person, status in ((first, 403), (host["coordinator"], 403), (second, 404), (mint(), 404)):
        assert_problem(await client.post(reassign, json={"person_id": newcomer.id}, headers=person.headers), status)
    assert_problem(await client.post(reassign, json={"person_id": first.id}, headers=org["admin"].headers), 409)

    moved = await client.post(reassign, json={"person_id": newcomer.id}, headers=org["coordinator"].headers)
    assert moved.status_code == 200, moved.text
    new_line = moved.json()
    assert (new_line["person_id"], new_line["block_id"], new_line["status"]) == (newcomer.id, block["id"], "confirmed")
    assert new_line["checkin_code"] not in (None, old_code)
    assert (await _mine(client, newcomer))[0]["checkin_code"] == new_line["checkin_code"]
    assert (await _mine(client, first))[0]["status"] == "cancelled"
    # The old code no longer admits anyone; the new one does, and credits the new member.
    assert_problem(await _check_in(client, host["coordinator"], old_code), 404)
    assert (await _check_in(client, host["coordinator"], new_line["checkin_code"])).status_code == 200
    assert (await _minutes(client, newcomer), await _minutes(client, first)) == (90, 0)
    # The seat never left the block: nobody on the waitlist moved.
    figures = await availability(client, session.session_id)
    assert (figures["confirmed_seats"], figures["waitlist_length"]) == (2, 1)
    assert (await _get(client, waiting, waitlisted["id"]))["status"] == "waitlisted"
    # A checked-in line keeps its member.
    checked = assert_problem(
        await client.post(
            f"/v1/bookings/{new_line['id']}/reassign", json={"person_id": first.id}, headers=org["admin"].headers
        ),
        409,
    )
    assert "checked in" in str(checked["detail"])

    # The audit, oldest first and paged: named at booking, then reassigned by the coordinator.
    audit_path = f"/v1/bookings/{block['id']}/assignments"
    assert_problem(await client.get(audit_path, headers=first.headers), 404)
    assert_problem(await client.get(audit_path, headers=host["coordinator"].headers), 403)
    seen: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await client.get(audit_path, params=params, headers=org["admin"].headers)
        assert page.status_code == 200, page.text
        seen += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert [(a["action"], a["person_id"], a.get("previous_person_id"), a["by_person_id"]) for a in seen] == [
        ("assigned", first.id, None, org["coordinator"].id),
        ("assigned", second.id, None, org["coordinator"].id),
        ("reassigned", newcomer.id, first.id, org["coordinator"].id),
    ]
    assert seen[2]["line_id"] == new_line["id"] and seen[0]["line_id"] == old_line
    assert _told(await notices_for_notify(apps["booking"], old_line))[-1] == (
        "booking.cancelled",
        first.id,
        "unassigned",
        block["id"],
    )
    # An admin named to a seat still manages it as an admin (here: gives it back to the first member).
    to_admin = await client.post(
        f"/v1/bookings/{block['lines'][1]['id']}/reassign",
        json={"person_id": org["admin"].id},
        headers=org["admin"].headers,
    )
    assert to_admin.status_code == 200, to_admin.text
    back = await client.post(
        f"/v1/bookings/{to_admin.json()['id']}/reassign", json={"person_id": first.id}, headers=org["admin"].headers
    )
    assert back.status_code == 200, back.text
    # Once the session has started, seats no longer change hands.
    await catalog.update(session, starts_at=minutes_from_now(-1), ends_at=minutes_from_now(60))
    second_line = back.json()["id"]
    started = assert_problem(
        await client.post(
            f"/v1/bookings/{second_line}/reassign", json={"person_id": second.id}, headers=org["admin"].headers
        ),
        409,
    )
    assert started["reason"] == "session_started"
    assert_problem(await client.post(f"/v1/bookings/{second_line}/unassign", headers=org["admin"].headers), 409)


async def test_cancelling_a_line_frees_one_seat_to_the_waitlist(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    org = await organization(client, roles=("coordinator",))
    first, second = await _members(client, org, 2)
    session = await catalog.schedule(capacity=2)
    block = await _block(client, org["coordinator"], session.session_id, org, seats=2, members=[first, second])
    waiting = [mint() for _ in range(3)]
    places = [(await book(client, w, session.session_id)).json() for w in waiting]
    first_line, second_line = (line["id"] for line in block["lines"])

    cancelled = await client.post(f"/v1/bookings/{first_line}/cancel", headers=first.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/v1/bookings/{first_line}/cancel", headers=first.headers)
    assert again.json()["status"] == "cancelled"  # safe to retry: nothing more is freed
    statuses = [(await _get(client, w, p["id"]))["status"] for w, p in zip(waiting, places, strict=True)]
    assert statuses == ["confirmed", "waitlisted", "waitlisted"]
    after = await _get(client, org["coordinator"], block["id"])
    assert (after["status"], after["seats"], after["unassigned_seats"]) == ("confirmed", 1, 0)
    figures = await availability(client, session.session_id)
    assert (figures["confirmed_seats"], figures["waitlist_length"]) == (2, 2)
    promoted = _told(await notices_for_notify(apps["booking"], places[0]["id"]))
    assert promoted == [
        ("booking.waitlisted", waiting[0].id, "booked", None),
        ("booking.confirmed", waiting[0].id, "promoted", None),
    ]
    assert _told(await notices_for_notify(apps["booking"], first_line))[-1] == (
        "booking.cancelled",
        first.id,
        "by_owner",
        block["id"],
    )

    # The block's last seat: the coordinator cancels its last line, and the block goes with it.
    last = await client.post(f"/v1/bookings/{second_line}/cancel", headers=org["coordinator"].headers)
    assert last.status_code == 200, last.text
    closed = await _get(client, org["coordinator"], block["id"])
    assert (closed["status"], closed["seats"]) == ("cancelled", 1)
    assert "unassigned_seats" not in closed
    statuses = [(await _get(client, w, p["id"]))["status"] for w, p in zip(waiting, places, strict=True)]
    assert statuses == ["confirmed", "confirmed", "waitlisted"]
    assert await _seats_held(apps, session.session_id) == (2, 2)
    assert _told(await notices_for_notify(apps["booking"], second_line, block["id"]))[-2:] == [
        ("booking.cancelled", second.id, "by_org_admin", block["id"]),
        ("booking.cancelled", org["coordinator"].id, "by_owner", None),
    ]


async def test_parallel_cancellations_of_lines_promote_exactly_as_many_as_they_free(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    org = await organization(client, roles=("coordinator",))
    members = await _members(client, org, 6)
    session = await catalog.schedule(capacity=6)
    block = await _block(client, org["coordinator"], session.session_id, org, seats=6, members=members)
    waiting = [mint() for _ in range(6)]
    places = [(await book(client, w, session.session_id)).json() for w in waiting]
    assert {p["status"] for p in places} == {"waitlisted"}
    late = [mint() for _ in range(3)]

    cancels = [
        client.post(f"/v1/bookings/{line['id']}/cancel", headers=member.headers)
        for member, line in zip(members[:4], block["lines"][:4], strict=True)
    ]
    answers = await asyncio.gather(*cancels, *(book(client, person, session.session_id) for person in late))
    assert [a.status_code for a in answers] == [200] * 4 + [201] * 3, [a.text for a in answers]
    assert {a.json()["status"] for a in answers[4:]} == {"waitlisted"}  # the line was there before them

    statuses = [(await _get(client, w, p["id"]))["status"] for w, p in zip(waiting, places, strict=True)]
    assert statuses == ["confirmed"] * 4 + ["waitlisted"] * 2
    figures = await availability(client, session.session_id)
    assert (figures["confirmed_seats"], figures["waitlist_length"]) == (6, 5)
    assert await _seats_held(apps, session.session_id) == (6, 6)
    after = await _get(client, org["coordinator"], block["id"])
    assert (after["seats"], after["unassigned_seats"]) == (2, 0)
    assert Counter(line["status"] for line in after["lines"]) == {"cancelled": 4, "confirmed": 2}
    promotions = [r for r in await notices_for_notify(apps["booking"]) if r["payload"]["cause"] == "promoted"]
    assert sorted(r["payload"]["booking_id"] for r in promotions) == sorted(p["id"] for p in places[:4])


async def test_cancelling_the_block_cancels_every_line(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    host = await organization(client, roles=("coordinator",))
    org = await organization(client, roles=("admin", "coordinator"))
    members = await _members(client, org, 3)
    session = await catalog.schedule(host_org_id=host.id, capacity=4, starts_at=minutes_from_now(30))
    block = await _block(client, org["coordinator"], session.session_id, org, seats=4, members=members)
    waiting = mint()
    place = (await book(client, waiting, session.session_id)).json()
    # A member cannot cancel the organization's booking (they do not see it); host staff may not either.
    assert_problem(await client.post(f"/v1/bookings/{block['id']}/cancel", headers=members[0].headers), 404)
    assert_problem(await client.post(f"/v1/bookings/{block['id']}/cancel", headers=host["coordinator"].headers), 403)

    cancelled = await client.post(f"/v1/bookings/{block['id']}/cancel", headers=org["admin"].headers)
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled"
    assert {line["status"] for line in body["lines"]} == {"cancelled"}
    for member in members:
        (line,) = await _mine(client, member)
        assert (line["status"], "checkin_code" in line) == ("cancelled", False)
    assert (await _get(client, waiting, place["id"]))["status"] == "confirmed"
    figures = await availability(client, session.session_id)
    assert (figures["confirmed_seats"], figures["waitlist_length"]) == (1, 0)
    line_ids = [line["id"] for line in block["lines"]]
    assert sorted(_told(await notices_for_notify(apps["booking"], *line_ids))) == sorted(
        [("booking.confirmed", m.id, "booked", block["id"]) for m in members]
        + [("booking.cancelled", m.id, "by_org_admin", block["id"]) for m in members]
    )

    # Once one of its members is checked in, the block is no longer cancelled.
    again = await catalog.schedule(host_org_id=host.id, capacity=4, starts_at=minutes_from_now(30))
    kept = await _block(client, org["coordinator"], again.session_id, org, seats=2, members=members[:2])
    code = (await _get(client, members[0], kept["lines"][0]["id"]))["checkin_code"]
    assert (await _check_in(client, host["coordinator"], code)).status_code == 200
    assert_problem(await client.post(f"/v1/bookings/{kept['id']}/cancel", headers=org["coordinator"].headers), 409)
    assert_problem(await client.post(f"/v1/bookings/{kept['lines'][0]['id']}/cancel", headers=members[0].headers), 409)
    assert (await availability(client, again.session_id))["confirmed_seats"] == 2


async def test_a_waitlisted_block_gets_its_lines_when_confirmed(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    org = await organization(client, roles=("coordinator",))
    first, second, third = await _members(client, org, 3)
    session = await catalog.schedule(capacity=3)
    holders = [mint() for _ in range(3)]
    held = [(await book(client, h, session.session_id)).json() for h in holders]
    block = await _block(client, org["coordinator"], session.session_id, org, seats=3, members=[first, second, third])
    assert (block["status"], block["waitlist_position"], block["lines"], block["unassigned_seats"]) == (
        "waitlisted",
        1,
        [],
        0,
    )
    assert block["pending_members"] == [first.id, second.id, third.id]
    assert "checkin_code" not in block
    assert await _mine(client, first) == []
    path = f"/v1/bookings/{block['id']}/lines"
    waitlisted = assert_problem(
        await client.post(path, json={"person_id": first.id}, headers=org["coordinator"].headers), 409
    )
    assert waitlisted["reason"] == "block_waitlisted"
    # Meanwhile the third named member books a seat of their own (behind the block).
    own = (await book(client, third, session.session_id)).json()
    assert (own["status"], own["waitlist_position"]) == ("waitlisted", 2)

    # One seat frees: the block (three seats) waits at the head, and nobody behind it overtakes.
    await client.post(f"/v1/bookings/{held[0]['id']}/cancel", headers=holders[0].headers)
    assert (await _get(client, org["coordinator"], block["id"]))["status"] == "waitlisted"
    for holder, booking in zip(holders[1:], held[1:], strict=True):
        await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=holder.headers)

    confirmed = await _get(client, org["coordinator"], block["id"])
    assert confirmed["status"] == "confirmed" and confirmed["checkin_code"]
    assert "pending_members" not in confirmed
    # Lines for the first two; the third already holds a seat of the session, so theirs stays unnamed.
    assert [line["person_id"] for line in confirmed["lines"]] == [first.id, second.id]
    assert confirmed["unassigned_seats"] == 1
    for member in (first, second):
        (line,) = await _mine(client, member)
        assert (line["block_id"], line["status"]) == (block["id"], "confirmed") and line["checkin_code"]
    assert [b["id"] for b in await _mine(client, third)] == [own["id"]]
    assert await _seats_held(apps, session.session_id) == (3, 3)
    audit = await client.get(f"/v1/bookings/{block['id']}/assignments", headers=org["coordinator"].headers)
    assert [(a["action"], a["person_id"], a["by_person_id"]) for a in audit.json()["items"]] == [
        ("assigned", first.id, org["coordinator"].id),
        ("assigned", second.id, org["coordinator"].id),
    ]
    line_ids = [line["id"] for line in confirmed["lines"]]
    assert sorted(_told(await notices_for_notify(apps["booking"], *line_ids))) == [
        ("booking.confirmed", first.id, "promoted", block["id"]),
        ("booking.confirmed", second.id, "promoted", block["id"]),
    ]


async def test_what_an_organization_booking_may_ask_for(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    org = await organization(client, roles=("coordinator",))
    member, other = await _members(client, org, 2)
    coordinator = org["coordinator"]
    assert apps["booking"].state.settings.organization_max_seats == 50
    session = await catalog.schedule(capacity=60)
    stranger = mint()

    def pointers(problem: dict[str, Any]) -> list[str]:
        return [e["pointer"] for e in problem["errors"]]

    outsiders = assert_problem(
        await _book_block(client, coordinator, session.session_id, org, seats=3, members=[member.id, stranger.id]),
        422,
    )
    assert (outsiders["person_ids"], pointers(outsiders)) == ([stranger.id], ["/body/members/1"])
    too_many = await _book_block(client, coordinator, session.session_id, org, seats=1, members=[member, other])
    assert pointers(assert_problem(too_many, 422)) == ["/body/members"]
    twice = await _book_block(client, coordinator, session.session_id, org, seats=3, members=[member, member])
    assert pointers(assert_problem(twice, 422)) == ["/body/members"]
    above_cap = await _book_block(client, coordinator, session.session_id, org, seats=51)
    assert pointers(assert_problem(above_cap, 422)) == ["/body/seats"]
    not_for_an_organization = await client.post(
        "/v1/bookings",
        json={"session_id": str(session.session_id), "members": [member.id]},
        headers={**coordinator.headers, "Idempotency-Key": "k1"},
    )
    assert pointers(assert_problem(not_for_an_organization, 422)) == ["/body/members"]
    personal = await book(client, mint(), session.session_id, seats=11)
    assert pointers(assert_problem(personal, 422)) == ["/body/seats"]
    assert (await availability(client, session.session_id))["confirmed_seats"] == 0

    # A named member who already holds a seat of the session: 409 naming them, and nothing is booked.
    await book(client, other, session.session_id)
    taken = assert_problem(
        await _book_block(client, coordinator, session.session_id, org, seats=2, members=[member, other]), 409
    )
    assert (taken["reason"], taken["person_ids"]) == ("member_already_booked", [other.id])
    assert (await availability(client, session.session_id))["confirmed_seats"] == 1
    assert await _mine(client, coordinator) == []

    # 11..50 seats for an organization; one block per organization and session; the coordinator may also
    # hold a seat of their own (or a line of the block).
    fifty = await _block(client, coordinator, session.session_id, org, seats=50, members=[coordinator.id, member.id])
    assert (fifty["seats"], fifty["unassigned_seats"]) == (50, 48)
    second = assert_problem(await _book_block(client, coordinator, session.session_id, org, seats=11), 409)
    assert second["reason"] == "organization_block_exists"
    own = await book(client, coordinator, session.session_id)
    assert_problem(own, 409)  # they hold a line of the block: one seat per person and session
    elsewhere = await catalog.schedule(capacity=20)
    assert (await _book_block(client, coordinator, elsewhere.session_id, org, seats=11)).status_code == 201
    assert (await book(client, coordinator, elsewhere.session_id)).status_code == 201
    figures = await availability(client, elsewhere.session_id)
    assert figures["confirmed_seats"] == 12


async def test_lines_never_count_against_the_active_bookings_limit(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn
) -> None:
    org = await organization(client, roles=("coordinator",))
    (member,) = await _members(client, org, 1)
    limit = apps["booking"].state.settings.max_active_per_person
    sessions = [await catalog.schedule(capacity=5) for _ in range(limit + 1)]
    for session in sessions[:limit]:
        await _block(client, org["coordinator"], session.session_id, org, seats=2, members=[member])
    assert len(await _mine(client, member)) == limit
    # The member's lines are theirs but booked for them: they still book for themselves.
    assert (await book(client, member, sessions[limit].session_id)).status_code == 201
    # Each block counts once against the coordinator who booked it.
    limited = await _book_block(client, org["coordinator"], sessions[limit].session_id, org, seats=2)
    assert assert_problem(limited, 429)["rule"] == "max_active_bookings"


async def test_a_member_who_leaves_gives_their_future_seats_back(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    org = await organization(client, roles=("admin", "coordinator"))
    leaving, staying = await _members(client, org, 2)
    coordinator = org["coordinator"]
    future = await catalog.schedule(capacity=5)
    started = await catalog.schedule(capacity=5, starts_at=minutes_from_now(30))
    full = await catalog.schedule(capacity=1)
    future_block = await _block(client, coordinator, future.session_id, org, seats=2, members=[leaving, staying])
    started_block = await _block(client, coordinator, started.session_id, org, seats=1, members=[leaving])
    await book(client, mint(), full.session_id)
    waiting_block = await _block(client, coordinator, full.session_id, org, seats=1, members=[leaving])
    await catalog.update(started, starts_at=minutes_from_now(-5), ends_at=minutes_from_now(60))

    removed = await client.delete(f"/v1/organizations/{org.id}/members/{leaving.id}", headers=org["admin"].headers)
    assert removed.status_code == 204, removed.text
    assert await apps["orgs"].state.relay.run_once("booking") >= 1  # membership.changed, to booking

    after = await _get(client, coordinator, future_block["id"])
    assert (after["seats"], after["unassigned_seats"]) == (2, 1)
    statuses = {line["person_id"]: line["status"] for line in after["lines"]}
    assert statuses == {leaving.id: "cancelled", staying.id: "confirmed"}
    assert (await availability(client, future.session_id))["confirmed_seats"] == 2
    # A session under way keeps its seats as they were; a waitlisted block no longer names them.
    assert (await _get(client, coordinator, started_block["id"]))["lines"][0]["status"] == "confirmed"
    waiting = await _get(client, coordinator, waiting_block["id"])
    assert (waiting["status"], "pending_members" in waiting, waiting["unassigned_seats"]) == ("waitlisted", False, 1)
    audit = (await client.get(f"/v1/bookings/{future_block['id']}/assignments", headers=coordinator.headers)).json()
    assert [(a["action"], a["person_id"], a["by_person_id"]) for a in audit["items"]][-1] == (
        "unassigned",
        leaving.id,
        org["admin"].id,
    )
    left_line = future_block["lines"][0]["id"]
    assert _told(await notices_for_notify(apps["booking"], left_line))[-1] == (
        "booking.cancelled",
        leaving.id,
        "left_organization",
        future_block["id"],
    )
    # No longer a member: not named again; redelivered, the event changes nothing more.
    path = f"/v1/bookings/{future_block['id']}/lines"
    assert_problem(await client.post(path, json={"person_id": leaving.id}, headers=coordinator.headers), 422)
    assert await apps["orgs"].state.relay.run_once("booking") == 0


async def test_erasing_a_member_gives_their_seat_back_and_leaves_nothing_naming_them(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    org = await organization(client, roles=("coordinator",))
    erased, staying = await _members(client, org, 2)
    coordinator = org["coordinator"]
    session = await catalog.schedule(capacity=5)
    full = await catalog.schedule(capacity=1)
    block = await _block(client, coordinator, session.session_id, org, seats=3, members=[erased, staying])
    await book(client, mint(), full.session_id)
    waiting = await _block(client, coordinator, full.session_id, org, seats=1, members=[erased])
    exported = await person_export(client, erased.id)
    assert [(b["id"], b["block_id"]) for b in exported["bookings"]] == [(block["lines"][0]["id"], block["id"])]
    assert [(a["action"], a["involvement"]) for a in exported["seat_assignments"]] == [("assigned", "named")]
    made = await person_export(client, coordinator.id)
    assert [(a["action"], a["involvement"]) for a in made["seat_assignments"]] == [("assigned", "made")] * 2
    assert await rows_naming(apps, erased.id)

    await inbox_delivery(apps["booking"])(erasure(erased.id))

    assert await rows_naming(apps, erased.id) == {}
    after = await _get(client, coordinator, block["id"])
    assert (after["seats"], after["unassigned_seats"]) == (3, 2)
    assert [line["status"] for line in after["lines"]] == ["cancelled", "confirmed"]
    assert (await availability(client, session.session_id))["confirmed_seats"] == 3
    assert "pending_members" not in await _get(client, coordinator, waiting["id"])
    audit = (await client.get(f"/v1/bookings/{block['id']}/assignments", headers=coordinator.headers)).json()
    anonymous = audit["items"][-1]
    assert anonymous["action"] == "unassigned"
    assert anonymous["person_id"] == anonymous["by_person_id"] != erased.id
    assert (await _mine(client, staying))[0]["status"] == "confirmed"


async def test_erasing_a_coordinator_cancels_their_blocks_with_every_line(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    org = await organization(client, roles=("coordinator",))
    members = await _members(client, org, 2)
    coordinator = org["coordinator"]
    session = await catalog.schedule(capacity=2)
    block = await _block(client, coordinator, session.session_id, org, seats=2, members=members)
    waiting = mint()
    place = (await book(client, waiting, session.session_id)).json()

    await inbox_delivery(apps["booking"])(erasure(coordinator.id))

    assert await rows_naming(apps, coordinator.id) == {}
    for member in members:
        (line,) = await _mine(client, member)
        assert line["status"] == "cancelled"
    assert (await _get(client, waiting, place["id"]))["status"] == "confirmed"
    assert await _seats_held(apps, session.session_id) == (1, 1)
    line_ids = [line["id"] for line in block["lines"]]
    told = _told(await notices_for_notify(apps["booking"], *line_ids))
    assert sorted(told) == sorted(
        [("booking.confirmed", m.id, "booked", block["id"]) for m in members]
        + [("booking.cancelled", m.id, "by_org_admin", block["id"]) for m in members]
    )
    # The members' audit stays, without the coordinator.
    rows = await _sql(apps, "SELECT count(*) AS n FROM booking.line_assignments WHERE block_id = :b", b=block["id"])
    assert rows.n == 2
