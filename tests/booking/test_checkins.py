"""POST /v1/checkins: host staff check confirmed bookings in within the window; each credits minutes."""

import asyncio
from datetime import datetime, timedelta

import httpx

from shared.db import utcnow
from tests.booking.conftest import CatalogStandIn, Mint, Organization, book, minutes_from_now, organization
from tests.support import Person, assert_problem


async def _checkin(client: httpx.AsyncClient, staff: Person, code: str) -> httpx.Response:
    return await client.post("/v1/checkins", json={"code": code}, headers=staff.headers)


async def _host(client: httpx.AsyncClient) -> Organization:
    return await organization(client, roles=("coordinator", "member"))


async def test_staff_check_in_once_within_the_window(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    host = await _host(client)
    session = await catalog.schedule(host_org_id=host.id, starts_at=minutes_from_now(30))
    person = mint()
    booking = (await book(client, person, session.session_id)).json()
    before = utcnow()
    response = await _checkin(client, host["coordinator"], booking["checkin_code"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["booking_id"] == booking["id"]
    checked_in_at = body["checked_in_at"]
    assert before - timedelta(seconds=1) <= _parse(checked_in_at) <= utcnow()
    again = assert_problem(await _checkin(client, host["owner"], booking["checkin_code"]), 409)
    assert _parse(str(again["checked_in_at"])) == _parse(checked_in_at)
    view = (await client.get(f"/v1/bookings/{booking['id']}", headers=person.headers)).json()
    assert _parse(view["checked_in_at"]) == _parse(checked_in_at)
    # Checked in: no cancelling any more.
    assert_problem(await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=person.headers), 409)


async def test_concurrent_check_ins_of_one_code_record_one(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    host = await _host(client)
    session = await catalog.schedule(host_org_id=host.id, starts_at=minutes_from_now(10))
    booking = (await book(client, mint(), session.session_id)).json()
    staff = [host["coordinator"], host["owner"]] * 3
    responses = await asyncio.gather(*(_checkin(client, s, booking["checkin_code"]) for s in staff))
    assert sorted(r.status_code for r in responses) == [200] + [409] * 5


async def test_who_may_check_in(client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint) -> None:
    host = await _host(client)
    session = await catalog.schedule(host_org_id=host.id, starts_at=minutes_from_now(30))
    person = mint()
    booking = (await book(client, person, session.session_id)).json()
    code = booking["checkin_code"]
    # Not staff of the host: 404, exactly as for a code that does not exist (a code is a secret).
    for outsider in (host["member"], person, mint()):
        assert_problem(await _checkin(client, outsider, code), 404)
    assert_problem(await _checkin(client, host["coordinator"], "A" * 32), 404)
    assert_problem(await client.post("/v1/checkins", json={"code": code}), 401)
    for bad in ({"code": "short"}, {"code": "x" * 65}, {"code": "has spaces in it!!"}, {}, {"code": code, "at": 1}):
        assert_problem(await client.post("/v1/checkins", json=bad, headers=host["coordinator"].headers), 422)
    operator = mint(roles=["operator"])
    assert (await _checkin(client, operator, code)).status_code == 200


async def test_outside_the_window_is_409(client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint) -> None:
    host = await _host(client)
    staff = host["coordinator"]
    early = await catalog.schedule(host_org_id=host.id, starts_at=minutes_from_now(61))
    code = (await book(client, mint(), early.session_id)).json()["checkin_code"]
    problem = assert_problem(await _checkin(client, staff, code), 409)
    assert _parse(str(problem["checkin_opens_at"])) == early.starts_at - timedelta(hours=1)
    # The session moves to start in 59 minutes: the window is open.
    await catalog.update(early, starts_at=minutes_from_now(59), ends_at=minutes_from_now(120))
    assert (await _checkin(client, staff, code)).status_code == 200
    ended = await catalog.schedule(host_org_id=host.id, starts_at=minutes_from_now(30))
    late_code = (await book(client, mint(), ended.session_id)).json()["checkin_code"]
    await catalog.update(ended, starts_at=minutes_from_now(-90), ends_at=minutes_from_now(-1))
    assert_problem(await _checkin(client, staff, late_code), 409)


async def test_cancelled_and_waitlisted_bookings_cannot_check_in(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    host = await _host(client)
    session = await catalog.schedule(host_org_id=host.id, starts_at=minutes_from_now(30), capacity=1)
    person, waiting = mint(), mint()
    booking = (await book(client, person, session.session_id)).json()
    waitlisted = (await book(client, waiting, session.session_id)).json()
    assert "checkin_code" not in waitlisted
    await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=person.headers)
    assert_problem(await _checkin(client, host["coordinator"], booking["checkin_code"]), 404)
    # The promoted booking got a code of its own, which works.
    promoted = (await client.get(f"/v1/bookings/{waitlisted['id']}", headers=waiting.headers)).json()
    assert promoted["checkin_code"] != booking["checkin_code"]
    assert (await _checkin(client, host["coordinator"], promoted["checkin_code"])).status_code == 200


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)
