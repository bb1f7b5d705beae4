"""The orgs audit trail (`GET /v1/organizations/audit`): organizations, memberships, invitations and join
requests changed by people, readable by operators and by an organization's owners and admins; an erased
person's entries stay under a random id."""

from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from services.orgs.commands import grant_operator
from services.orgs.models import audit_log, event_tables
from tests.orgs.support import add_member, create_organization
from tests.support import PASSWORD, Person, assert_problem, new_email, register_and_login

AUDIT = "/v1/organizations/audit"


async def _entries(client: httpx.AsyncClient, reader: Person, **query: Any) -> list[dict[str, Any]]:
    response = await client.get(AUDIT, params=query, headers=reader.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _summary(entries: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(entry["action"], entry["actor_id"]) for entry in entries]


async def _operator(client: httpx.AsyncClient, database_url: str) -> Person:
    person = await register_and_login(client, new_email("operator"))
    assert await grant_operator(database_url, person.email, display_name="-", password="unused") is False
    token = await client.post("/v1/auth/token", data={"username": person.email, "password": PASSWORD})
    return Person(person.id, person.email, token.json()["access_token"])


async def test_memberships_added_removed_and_left_are_audited(client: httpx.AsyncClient) -> None:
    owner, admin, member, leaver = [await register_and_login(client, new_email("m")) for _ in range(4)]
    organization_id = await create_organization(client, owner)
    await add_member(client, organization_id, owner, admin, "admin")
    await add_member(client, organization_id, admin, member, "member")
    await add_member(client, organization_id, admin, leaver, "coordinator")
    members = f"/v1/organizations/{organization_id}/members"
    assert (await client.delete(f"{members}/{member.id}", headers=admin.headers)).status_code == 204
    assert (await client.delete(f"{members}/{leaver.id}", headers=leaver.headers)).status_code == 204
    renamed = {"district": "西湖区 Xihu"}
    assert (await client.patch(f"/v1/organizations/{organization_id}", json=renamed, headers=admin.headers)).is_success
    # Refused changes record nothing: the owner stays (409), a member is added once (409), a member is no admin.
    assert_problem(await client.delete(f"{members}/{owner.id}", headers=admin.headers), 409)
    again = await client.post(members, json={"email": admin.email, "role": "member"}, headers=owner.headers)
    assert_problem(again, 409)
    await add_member(client, organization_id, owner, member, "member")
    assert_problem(await client.delete(f"{members}/{admin.id}", headers=member.headers), 403)

    entries = await _entries(client, admin, organization_id=organization_id)
    assert _summary(entries) == [
        ("membership.added", owner.id),
        ("organization.updated", admin.id),
        ("membership.left", leaver.id),
        ("membership.removed", admin.id),
        ("membership.added", admin.id),
        ("membership.added", admin.id),
        ("membership.added", owner.id),
        ("organization.created", owner.id),
    ]
    assert {entry["organization_id"] for entry in entries} == {organization_id}
    removed = entries[3]
    assert (removed["entity_type"], removed["entity_id"]) == ("membership", member.id)
    assert (removed["before"], removed["after"]) == ({"person_id": member.id, "role": "member"}, None)
    assert entries[4]["after"] == {"person_id": leaver.id, "role": "coordinator", "via": "added"}
    assert (entries[1]["before"], entries[1]["after"]) == ({"district": None}, renamed)
    assert entries[7]["after"]["name"] == {"zh-CN": "翠苑社区学校", "en": "Cuiyuan Community School"}
    # No contact data in any entry: people appear by id.
    text = str(entries)
    assert all(person.email not in text for person in (owner, admin, member, leaver)) and "Test Person" not in text


async def _mailed_token(apps: dict[str, FastAPI], invitation_id: str) -> str:
    outbox = event_tables.outbox
    statement = select(outbox.c.payload).where(outbox.c.type == "invitation.created", outbox.c.subscriber == "notify")
    async with apps["orgs"].state.database.sessionmaker() as session:
        payloads = (await session.execute(statement)).scalars().all()
    [token] = [payload["token"] for payload in payloads if payload["invitation_id"] == invitation_id]
    assert isinstance(token, str)
    return token


async def test_invitations_and_join_requests_are_audited_without_addresses_or_tokens(
    client: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    owner, invitee, asker, refused = [await register_and_login(client, new_email("j")) for _ in range(4)]
    organization_id = await create_organization(client, owner)
    invitations = f"/v1/organizations/{organization_id}/invitations"
    first = (
        await client.post(invitations, json={"email": invitee.email, "role": "member"}, headers=owner.headers)
    ).json()
    assert (await client.delete(f"{invitations}/{first['id']}", headers=owner.headers)).status_code == 204
    assert (await client.delete(f"{invitations}/{first['id']}", headers=owner.headers)).status_code == 204  # no-op
    second = (
        await client.post(invitations, json={"email": invitee.email, "role": "coordinator"}, headers=owner.headers)
    ).json()
    token = await _mailed_token(apps, second["id"])
    accepted = await client.post("/v1/organizations/invitations/accept", json={"token": token}, headers=invitee.headers)
    assert accepted.status_code == 200, accepted.text
    requests = f"/v1/organizations/{organization_id}/join-requests"
    asked = (await client.post(requests, json={"message": "我想加入"}, headers=asker.headers)).json()
    declined = (await client.post(requests, json={}, headers=refused.headers)).json()
    decided = await client.post(f"{requests}/{asked['id']}/accept", json={"role": "member"}, headers=owner.headers)
    assert decided.status_code == 200, decided.text
    assert (await client.post(f"{requests}/{declined['id']}/refuse", headers=owner.headers)).status_code == 200
    assert_problem(await client.post(f"{requests}/{declined['id']}/refuse", headers=owner.headers), 409)

    entries = await _entries(client, owner, organization_id=organization_id)
    assert _summary(entries) == [
        ("join_request.refused", owner.id),
        ("membership.added", owner.id),
        ("join_request.accepted", owner.id),
        ("membership.added", invitee.id),
        ("invitation.accepted", invitee.id),
        ("invitation.created", owner.id),
        ("invitation.revoked", owner.id),
        ("invitation.created", owner.id),
        ("organization.created", owner.id),
    ]
    assert entries[0]["after"] == {"status": "refused", "person_id": refused.id}
    assert entries[1]["after"] == {"person_id": asker.id, "role": "member", "via": "request"}
    assert entries[3]["after"] == {"person_id": invitee.id, "role": "coordinator", "via": "invitation"}
    assert entries[4]["entity_id"] == second["id"]
    assert entries[4]["after"] == {"status": "accepted", "accepted_by": invitee.id}
    assert entries[5]["after"]["role"] == "coordinator" and entries[5]["after"]["status"] == "pending"
    assert (entries[6]["before"], entries[6]["after"]) == ({"status": "pending"}, {"status": "revoked"})
    text = str(entries)
    assert invitee.email not in text and token not in text and "我想加入" not in text


async def test_who_reads_the_orgs_trail(client: httpx.AsyncClient, database_url: str) -> None:
    owner, member, other_owner = [await register_and_login(client, new_email("r")) for _ in range(3)]
    ours = await create_organization(client, owner)
    await add_member(client, ours, owner, member, "coordinator")
    theirs = await create_organization(client, other_owner)
    operator = await _operator(client, database_url)

    assert_problem(await client.get(AUDIT, params={"organization_id": ours}), 401)
    assert_problem(await client.get(AUDIT, params={"organization_id": ours}, headers=member.headers), 403)
    assert_problem(await client.get(AUDIT, params={"organization_id": ours}, headers=other_owner.headers), 403)
    assert_problem(await client.get(AUDIT, headers=owner.headers), 403)
    assert {entry["organization_id"] for entry in await _entries(client, other_owner, organization_id=theirs)} == {
        theirs
    }
    everything = await _entries(client, operator)
    assert {entry["organization_id"] for entry in everything} == {ours, theirs, None}
    # The grant at the command line: an operator's act with no signed-in person.
    [granted] = await _entries(client, operator, entity_type="person")
    assert (granted["action"], granted["entity_id"]) == ("person.operator_granted", operator.id)
    assert (granted["actor_id"], granted["actor_is_operator"]) == (None, True)
    assert (granted["before"], granted["after"]) == ({"roles": []}, {"roles": ["operator"]})
    assert [entry["action"] for entry in await _entries(client, operator, actor_id=member.id)] == []
    assert len(await _entries(client, operator, entity_id=member.id)) == 1
    assert_problem(await client.get(AUDIT, params={"organization_id": "nope"}, headers=operator.headers), 422)


async def test_an_erased_persons_entries_stay_under_a_random_id(
    client: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    owner, erased = [await register_and_login(client, new_email("e")) for _ in range(2)]
    organization_id = await create_organization(client, owner)
    await add_member(client, organization_id, owner, erased, "admin")
    theirs = await create_organization(client, erased)
    await add_member(client, theirs, erased, owner, "member")
    gone = await client.request("DELETE", "/v1/me", json={"password": PASSWORD}, headers=erased.headers)
    assert gone.status_code == 204, gone.text

    async with apps["orgs"].state.database.sessionmaker() as session:
        rows = (await session.execute(select(audit_log).order_by(audit_log.c.occurred_at))).all()
    assert [row.action for row in rows] == [
        "organization.created",
        "membership.added",
        "organization.created",
        "membership.added",
    ]
    assert erased.id not in str([row._mapping for row in rows])
    # One random id stands for them everywhere: as the member added, as the actor of their own acts.
    anonymous = rows[1].entity_id
    assert str(anonymous) != erased.id and rows[1].after["person_id"] == str(anonymous)
    assert {rows[2].actor_id, rows[3].actor_id} == {anonymous}
    assert rows[3].after["person_id"] == owner.id and rows[0].actor_id == UUID(owner.id)
