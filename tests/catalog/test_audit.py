"""The catalog's audit trail (`GET /v1/activities/audit`): staff actions on sites, activities, sessions and
series, with before and after, readable by operators and by the organization's own admins."""

from typing import Any

import httpx

from tests.catalog.conftest import Catalog, MakePerson, later, new_team
from tests.support import Person, assert_problem

AUDIT = "/v1/activities/audit"


async def _entries(client: httpx.AsyncClient, reader: Person, **query: Any) -> list[dict[str, Any]]:
    response = await client.get(AUDIT, params=query, headers=reader.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_session_cancelled_by_a_host_admin_is_audited_with_before_and_after(
    client: httpx.AsyncClient, catalog: Catalog
) -> None:
    session = await catalog.scheduled_session()
    admin = catalog.team["admin"]
    reason = "讲师生病 The speaker is ill"
    cancelled = await client.post(
        f"/v1/sessions/{session['id']}/cancel", json={"reason": reason}, headers=admin.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    # Cancelling again changes nothing, so it records nothing.
    assert (await client.post(f"/v1/sessions/{session['id']}/cancel", headers=admin.headers)).status_code == 200

    entries = await _entries(
        client, admin, organization_id=catalog.team.organization_id, entity_type="session", entity_id=session["id"]
    )
    assert [entry["action"] for entry in entries] == ["session.cancelled", "session.scheduled"]  # newest first
    entry = entries[0]
    assert entry["actor_id"] == admin.id and entry["actor_is_operator"] is False
    assert entry["organization_id"] == catalog.team.organization_id
    assert entry["before"] == {"status": "scheduled", "cancelled_at": None, "cancel_reason": None}
    assert entry["after"]["status"] == "cancelled"
    assert entry["after"]["cancel_reason"] == reason
    assert entry["after"]["cancelled_at"] == cancelled.json()["cancelled_at"].replace("+00:00", "Z")
    assert entry["request_id"]
    scheduled = entries[1]
    assert scheduled["actor_id"] == catalog.team["owner"].id and scheduled["before"] is None
    assert scheduled["after"]["status"] == "scheduled" and scheduled["after"]["capacity"] == 20


async def test_updates_record_the_changed_fields_and_refusals_record_nothing(
    client: httpx.AsyncClient, catalog: Catalog
) -> None:
    owner = catalog.team["owner"]
    site = await catalog.site()
    activity = await catalog.activity(site["id"])
    session = await catalog.session(activity["id"])
    moved = await client.patch(f"/v1/sessions/{session['id']}", json={"capacity": 30}, headers=owner.headers)
    assert moved.status_code == 200, moved.text
    assert (
        await client.patch(f"/v1/sessions/{session['id']}", json={"capacity": 30}, headers=owner.headers)
    ).is_success
    renamed = {"title": {"zh-CN": "宋词夜读（新）", "en": "Song Poetry Night"}}
    assert (await client.patch(f"/v1/activities/{activity['id']}", json=renamed, headers=owner.headers)).is_success
    # Refused changes (403, 409) leave no entry.
    coordinator = catalog.team["coordinator"]
    assert_problem(await client.post(f"/v1/sessions/{session['id']}/cancel", headers=coordinator.headers), 403)
    ended = await catalog.session(activity["id"], starts_at=later(hours=-3), ends_at=later(hours=-2))
    assert_problem(await client.post(f"/v1/sessions/{ended['id']}/cancel", headers=owner.headers), 409)
    series = await catalog.series()

    entries = await _entries(client, owner, organization_id=catalog.team.organization_id)
    assert [(entry["action"], entry["entity_id"]) for entry in entries] == [
        ("series.created", series["id"]),
        ("session.scheduled", ended["id"]),
        ("activity.updated", activity["id"]),
        ("session.updated", session["id"]),
        ("session.scheduled", session["id"]),
        ("activity.created", activity["id"]),
        ("site.created", site["id"]),
    ]
    updated = entries[3]
    assert updated["before"] == {"status": "scheduled", "capacity": 20}
    assert updated["after"] == {"status": "scheduled", "capacity": 30}
    assert entries[2]["before"] == {"title": activity["title"]} and entries[2]["after"] == renamed
    created = entries[5]["after"]
    assert created["has_join_url"] is False and "join_url" not in created
    assert entries[6]["after"]["owner_org_id"] == catalog.team.organization_id


async def test_who_reads_the_trail(client: httpx.AsyncClient, catalog: Catalog, make_person: MakePerson) -> None:
    await catalog.scheduled_session()
    other = await new_team(client, make_person)
    await Catalog(client, other).site()
    ours = catalog.team.organization_id

    assert_problem(await client.get(AUDIT, params={"organization_id": ours}), 401)
    for role in ("coordinator", "member", "stranger"):
        assert_problem(
            await client.get(AUDIT, params={"organization_id": ours}, headers=catalog.team[role].headers), 403
        )
    # An admin of another organization reads neither ours nor the whole trail.
    assert_problem(await client.get(AUDIT, params={"organization_id": ours}, headers=other["admin"].headers), 403)
    assert_problem(await client.get(AUDIT, headers=other["admin"].headers), 403)
    assert {
        entry["organization_id"]
        for entry in await _entries(client, other["admin"], organization_id=other.organization_id)
    } == {other.organization_id}
    # An operator reads everything, or one organization, or one person's actions.
    operator = catalog.team["operator"]
    everything = await _entries(client, operator)
    assert {entry["organization_id"] for entry in everything} == {ours, other.organization_id}
    by_other_owner = await _entries(client, operator, actor_id=other["owner"].id)
    assert [entry["action"] for entry in by_other_owner] == ["site.created"]
    assert await _entries(client, operator, action="session.cancelled") == []


async def test_paging_and_bounded_filters(client: httpx.AsyncClient, catalog: Catalog) -> None:
    activity = await catalog.activity((await catalog.site())["id"])
    await catalog.sessions(activity["id"], recurrence={"rrule": "FREQ=DAILY;COUNT=5"})
    operator = catalog.team["operator"]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(AUDIT, params=params, headers=operator.headers)).json()
        seen += [entry["id"] for entry in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    everything = await _entries(client, operator, limit=100)
    assert seen == [entry["id"] for entry in everything] and len(seen) == 7
    times = [entry["occurred_at"] for entry in everything]
    assert times == sorted(times, reverse=True)
    newest = everything[0]["occurred_at"]
    assert await _entries(client, operator, to=newest, entity_type="site") == [everything[-1]]
    assert len(await _entries(client, operator, **{"from": newest})) == 5  # one schedule, one time

    for bad in (
        {"limit": 101},
        {"cursor": "bm90LWEtY3Vyc29y"},
        {"entity_type": "x" * 33},
        {"action": "Session Cancelled"},
        {"from": "2027-03-02T19:00:00"},
        {"from": "2027-03-02T19:00:00+08:00", "to": "2027-03-01T19:00:00+08:00"},
        {"actor_id": "me"},
    ):
        assert_problem(await client.get(AUDIT, params=bad, headers=operator.headers), 422)
    # The trail is read-only, and `audit` is never read as an activity id.
    refused = assert_problem(await client.patch(AUDIT, json={}, headers=operator.headers), 405)
    assert refused["status"] == 405
    assert (await client.delete(AUDIT, headers=operator.headers)).headers["allow"] == "GET"
