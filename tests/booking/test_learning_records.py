"""GET /v1/learning-records/me and the organization totals: each check-in credits scheduled minutes."""

from datetime import timedelta
from typing import Any

import httpx

from services.booking.checkins.service import UNKNOWN_CODE
from shared.events.schemas import SessionSnapshot
from shared.ids import new_id
from tests.booking.conftest import CatalogStandIn, Mint, Organization, book, minutes_from_now, organization
from tests.support import Person, assert_problem


async def _attend(
    client: httpx.AsyncClient,
    catalog: CatalogStandIn,
    host: Organization,
    person: Person,
    minutes: int = 90,
    **fields: Any,
) -> SessionSnapshot:
    starts_at = minutes_from_now(30)
    session = await catalog.schedule(
        host_org_id=host.id, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes), **fields
    )
    code = (await book(client, person, session.session_id)).json()["checkin_code"]
    response = await client.post("/v1/checkins", json={"code": code}, headers=host["coordinator"].headers)
    assert response.status_code == 200, (response.text, UNKNOWN_CODE)
    return session


async def test_my_record_totals_minutes_by_kind(client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint) -> None:
    host = await organization(client, roles=("coordinator",))
    person = mint()
    reading = await _attend(client, catalog, host, person, kind="reading", minutes=60)
    await _attend(client, catalog, host, person, kind="workshop", minutes=120)
    screening = await _attend(client, catalog, host, person, kind="screening", minutes=45)
    # Booked but never checked in: no credit.
    await book(client, person, (await catalog.schedule(host_org_id=host.id)).session_id)
    record = (await client.get("/v1/learning-records/me", headers=person.headers)).json()
    assert record["person_id"] == person.id
    assert record["total_minutes"] == 60 + 120 + 45
    assert record["sessions_attended"] == 3
    assert record["by_kind"] == {"reading": 60, "workshop": 120, "screening": 45}
    item = next(i for i in record["items"] if i["session_id"] == str(reading.session_id))
    assert item["minutes"] == 60
    assert item["kind"] == "reading"
    assert item["title"] == {"en": "Story time", "zh-CN": "故事时间"}
    assert set(item) >= {"booking_id", "session_id", "title", "kind", "starts_at", "minutes", "checked_in_at"}
    zh = await client.get("/v1/learning-records/me", headers={**person.headers, "Accept-Language": "zh-CN"})
    assert zh.json()["items"][0]["title_display"] == "故事时间"
    # Paging over items; totals always cover the whole range.
    page = (await client.get("/v1/learning-records/me", params={"limit": 2}, headers=person.headers)).json()
    assert len(page["items"]) == 2
    assert page["total_minutes"] == 225
    rest = await client.get(
        "/v1/learning-records/me", params={"limit": 2, "cursor": page["next_cursor"]}, headers=person.headers
    )
    assert len(rest.json()["items"]) == 1
    assert rest.json()["next_cursor"] is None
    # Someone who attended nothing has an empty record.
    empty = (await client.get("/v1/learning-records/me", headers=mint().headers)).json()
    assert (empty["total_minutes"], empty["sessions_attended"], empty["by_kind"], empty["items"]) == (0, 0, {}, [])
    assert screening.kind == "screening"


async def test_my_record_range_filters_on_session_start(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    host = await organization(client, roles=("coordinator",))
    person = mint()
    session = await _attend(client, catalog, host, person)
    starts = session.starts_at

    async def total(**params: str) -> int:
        response = await client.get("/v1/learning-records/me", params=params, headers=person.headers)
        assert response.status_code == 200, response.text
        return int(response.json()["total_minutes"])

    assert await total(**{"from": starts.isoformat()}) == 90
    assert await total(**{"from": (starts + timedelta(seconds=1)).isoformat()}) == 0
    assert await total(to=(starts + timedelta(seconds=1)).isoformat()) == 90
    assert await total(to=starts.isoformat()) == 0
    for bad in (
        {"from": "yesterday"},
        {"from": "2026-01-01T00:00:00"},
        {"to": "0.5"},
        {"from": "1700000000"},
        {"from": starts.isoformat(), "to": starts.isoformat()},
    ):
        assert_problem(await client.get("/v1/learning-records/me", params=bad, headers=person.headers), 422)
    assert_problem(await client.get("/v1/learning-records/me"), 401)


async def test_organization_totals_for_its_admins(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    org = await organization(client, roles=("admin", "coordinator", "member"))
    host = await organization(client, roles=("coordinator",))
    await _attend(client, catalog, host, org["member"], kind="lecture", minutes=60)
    await _attend(client, catalog, host, org["member"], kind="reading", minutes=30)
    await _attend(client, catalog, host, mint(), kind="reading")  # not a member: not in the totals
    path = "/v1/learning-records"
    response = await client.get(path, params={"organization_id": org.id}, headers=org["admin"].headers)
    assert response.status_code == 200, response.text
    totals = {item["person_id"]: item for item in response.json()["items"]}
    assert set(totals) == {p.id for p in org.people.values()}  # every member, zero or not
    member = totals[org["member"].id]
    assert (member["total_minutes"], member["sessions_attended"], member["by_kind"], member["role"]) == (
        90,
        2,
        {"lecture": 60, "reading": 30},
        "member",
    )
    assert totals[org["coordinator"].id]["total_minutes"] == 0
    # Paged by person id.
    first = (
        await client.get(path, params={"organization_id": org.id, "limit": 3}, headers=org["owner"].headers)
    ).json()
    second = (
        await client.get(
            path,
            params={"organization_id": org.id, "limit": 3, "cursor": first["next_cursor"]},
            headers=org["owner"].headers,
        )
    ).json()
    assert [i["person_id"] for i in first["items"] + second["items"]] == sorted(totals)
    assert second["next_cursor"] is None
    # Only admins (or owners) and operators.
    for person in (org["coordinator"], org["member"], mint()):
        assert_problem(await client.get(path, params={"organization_id": org.id}, headers=person.headers), 403)
    operator = mint(roles=["operator"])
    assert (await client.get(path, params={"organization_id": org.id}, headers=operator.headers)).status_code == 200
    assert_problem(await client.get(path, params={"organization_id": str(new_id())}, headers=operator.headers), 404)
    assert_problem(await client.get(path, headers=org["admin"].headers), 422)
