"""Joining an organization: invitations by email (single-use, expiring tokens kept only as SHA-256; the invitee
may register through one), join requests answered by admins, members leaving on their own, and an event for
every membership change. The token travels only by mail (`invitation.created`), so tests read it from orgs'
outbox row for notify."""

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from services.orgs.models import event_tables
from shared.events.outbox import Outbox
from tests.orgs.support import add_member, create_organization
from tests.support import PASSWORD, Person, assert_problem, new_email, register_and_login

Deliver = Callable[[], Awaitable[int]]
ACCEPT_URL = "/v1/organizations/invitations/accept"


async def _invite(
    client: httpx.AsyncClient, organization_id: str, admin: Person, email: str, role: str = "member"
) -> httpx.Response:
    url = f"/v1/organizations/{organization_id}/invitations"
    return await client.post(url, json={"email": email, "role": role}, headers=admin.headers)


async def _invited(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], organization_id: str, admin: Person, email: str, role: str
) -> tuple[dict[str, Any], str]:
    """(the invitation as created, its token as mailed)."""
    response = await _invite(client, organization_id, admin, email, role)
    assert response.status_code == 201, response.text
    invitation: dict[str, Any] = response.json()
    return invitation, await _mailed_token(apps, invitation["id"])


async def _accept(client: httpx.AsyncClient, person: Person, token: str) -> httpx.Response:
    return await client.post(ACCEPT_URL, json={"token": token}, headers=person.headers)


async def _query(apps: dict[str, FastAPI], sql: str, **params: Any) -> list[Any]:
    async with apps["orgs"].state.database.sessionmaker.begin() as session:
        result = await session.execute(text(sql), params)
        return list(result.all()) if result.returns_rows else []


async def _outbox_rows(apps: dict[str, FastAPI], event_type: str, subscriber: str) -> list[Any]:
    outbox = event_tables.outbox
    statement = (
        select(outbox)
        .where(outbox.c.type == event_type, outbox.c.subscriber == subscriber)
        .order_by(outbox.c.occurred_at, outbox.c.sequence)
    )
    async with apps["orgs"].state.database.sessionmaker() as session:
        return list((await session.execute(statement)).all())


async def _mailed_token(apps: dict[str, FastAPI], invitation_id: str) -> str:
    rows = await _outbox_rows(apps, "invitation.created", "notify")
    [token] = [row.payload["token"] for row in rows if row.payload["invitation_id"] == invitation_id]
    assert isinstance(token, str)
    return token


async def _membership_events(apps: dict[str, FastAPI], organization_id: str) -> list[tuple[str, str, Any, Any]]:
    """(change, person_id, role, via) of the organization's membership.changed rows for booking, in order."""
    rows = await _outbox_rows(apps, "membership.changed", "booking")
    assert [row.sequence for row in rows if str(row.aggregate_id) == organization_id] == sorted(
        row.sequence for row in rows if str(row.aggregate_id) == organization_id
    )
    return [
        (row.payload["change"], row.payload["person_id"], row.payload["role"], row.payload["via"])
        for row in rows
        if row.payload["organization_id"] == organization_id
    ]


async def _memberships(client: httpx.AsyncClient, person: Person) -> list[dict[str, Any]]:
    me = await client.get("/v1/me", headers=person.headers)
    assert me.status_code == 200, me.text
    memberships: list[dict[str, Any]] = me.json()["memberships"]
    return memberships


@pytest.fixture
def join_request_subscriber(apps: dict[str, FastAPI]) -> Iterator[None]:
    """Nobody subscribes to join_request.changed by default: notify does, for these tests, so its rows exist.
    (Restored by hand: monkeypatch cannot restore an attribute of Starlette's `State`.)"""
    state = apps["orgs"].state
    subscriptions = dict(state.settings.event_subscriptions)
    subscriptions["notify"] = [*subscriptions["notify"], "join_request.changed"]
    original = state.outbox
    state.outbox = Outbox(event_tables, producer="orgs", subscriptions=subscriptions)
    yield
    state.outbox = original


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> Person:
    return await register_and_login(client, new_email("owner"), "社区主任 Director Zhou")


# ---- invitations ------------------------------------------------------------------------------------------


async def test_an_invitation_answers_the_contract_and_its_token_travels_only_by_mail(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], owner: Person
) -> None:
    organization_id = await create_organization(client, owner)
    before = datetime.now(UTC)
    response = await _invite(client, organization_id, owner, "Resident.Chen@Example.org", "coordinator")
    assert response.status_code == 201, response.text
    invitation = response.json()
    assert set(invitation) == {"id", "email", "role", "expires_at"}
    assert invitation["email"] == "Resident.Chen@example.org" and invitation["role"] == "coordinator"
    expires_at = datetime.fromisoformat(invitation["expires_at"])
    assert before + timedelta(days=7) <= expires_at <= datetime.now(UTC) + timedelta(days=7)

    # The mail's event carries the token, to notify only; the table holds its SHA-256, never the token.
    [mail] = await _outbox_rows(apps, "invitation.created", "notify")
    assert await _outbox_rows(apps, "invitation.created", "booking") == []
    token = mail.payload["token"]
    assert len(token) >= 43 and str(mail.aggregate_id) == invitation["id"]
    assert {key: mail.payload[key] for key in ("email", "role", "organization_name", "invited_by_name")} == {
        "email": "Resident.Chen@example.org",
        "role": "coordinator",
        "organization_name": {"zh-CN": "翠苑社区学校", "en": "Cuiyuan Community School"},
        "invited_by_name": "社区主任 Director Zhou",
    }
    [(stored_hash,)] = await _query(apps, "SELECT token_hash FROM orgs.invitations")
    assert stored_hash != token and stored_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in response.text

    listed = await client.get(f"/v1/organizations/{organization_id}/invitations", headers=owner.headers)
    assert listed.status_code == 200 and token not in listed.text and stored_hash not in listed.text
    [item] = listed.json()["items"]
    assert item["id"] == invitation["id"] and item["status"] == "pending" and item["accepted_at"] is None


async def test_forty_residents_some_without_accounts_are_invited_and_listed_page_by_page(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], owner: Person
) -> None:
    organization_id = await create_organization(client, owner)
    resident = await register_and_login(client, new_email("resident"))
    emails = [resident.email] + [new_email("newcomer") for _ in range(39)]
    for email in emails:
        assert (await _invite(client, organization_id, owner, email)).status_code == 201
    assert len(await _outbox_rows(apps, "invitation.created", "notify")) == 40
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 15, "status": "pending"} | ({"cursor": cursor} if cursor else {})
        page = await client.get(
            f"/v1/organizations/{organization_id}/invitations", params=params, headers=owner.headers
        )
        assert page.status_code == 200, page.text
        seen += [item["email"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(emails))  # newest first, each once
    accepted = await client.get(
        f"/v1/organizations/{organization_id}/invitations", params={"status": "accepted"}, headers=owner.headers
    )
    assert accepted.json()["items"] == []


async def test_accepting_makes_a_member_with_the_invited_role_once(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], owner: Person
) -> None:
    organization_id = await create_organization(client, owner)
    invitee = await register_and_login(client, new_email("invitee"), "陈小红 Chen Xiaohong")
    invitation, token = await _invited(client, apps, organization_id, owner, invitee.email, "coordinator")

    accepted = await _accept(client, invitee, token)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {
        "organization_id": organization_id,
        "person_id": invitee.id,
        "display_name": "陈小红 Chen Xiaohong",
        "role": "coordinator",
    }
    assert await _memberships(client, invitee) == [{"organization_id": organization_id, "role": "coordinator"}]
    assert await _membership_events(apps, organization_id) == [
        ("joined", owner.id, "owner", "created"),
        ("joined", invitee.id, "coordinator", "invitation"),
    ]
    [joined] = [
        row for row in await _outbox_rows(apps, "membership.changed", "booking") if row.payload["via"] == "invitation"
    ]
    assert joined.payload["by_person_id"] == owner.id and str(joined.aggregate_id) == organization_id

    # Used: anyone else gets 410; the member themself is told they are a member.
    someone = await register_and_login(client, new_email("someone"))
    assert "already used" in str(assert_problem(await _accept(client, someone, token), 410)["detail"])
    assert_problem(await _accept(client, invitee, token), 409)
    assert await _memberships(client, someone) == []
    listed = await client.get(f"/v1/organizations/{organization_id}/invitations", headers=owner.headers)
    [item] = listed.json()["items"]
    assert item["id"] == invitation["id"] and item["status"] == "accepted" and item["accepted_at"]
    # An accepted invitation is a membership now: revoking it is a conflict.
    revoke = f"/v1/organizations/{organization_id}/invitations/{invitation['id']}"
    assert_problem(await client.delete(revoke, headers=owner.headers), 409)


async def test_expired_revoked_superseded_and_unknown_tokens_are_refused(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], owner: Person
) -> None:
    organization_id = await create_organization(client, owner)
    person = await register_and_login(client, new_email("late"))

    expired, expired_token = await _invited(client, apps, organization_id, owner, new_email("a"), "member")
    await _query(
        apps, "UPDATE orgs.invitations SET expires_at = now() - interval '1 second' WHERE id = :id", id=expired["id"]
    )
    assert "expired" in str(assert_problem(await _accept(client, person, expired_token), 410)["detail"])

    revoked, revoked_token = await _invited(client, apps, organization_id, owner, new_email("b"), "member")
    revoke_url = f"/v1/organizations/{organization_id}/invitations/{revoked['id']}"
    assert (await client.delete(revoke_url, headers=owner.headers)).status_code == 204
    assert (await client.delete(revoke_url, headers=owner.headers)).status_code == 204  # already revoked: no-op
    assert_problem(await _accept(client, person, revoked_token), 410)

    # Inviting an address again revokes its earlier open invitation: only the newest link works.
    address = new_email("twice")
    first, first_token = await _invited(client, apps, organization_id, owner, address, "member")
    second, second_token = await _invited(client, apps, organization_id, owner, address.upper(), "admin")
    assert_problem(await _accept(client, person, first_token), 410)
    assert (await _accept(client, person, second_token)).json()["role"] == "admin"

    assert_problem(await _accept(client, person, "not-a-token-anyone-was-sent"), 404)
    assert_problem(await client.post(ACCEPT_URL, json={"token": "x" * 129}, headers=person.headers), 422)
    assert_problem(await client.post(ACCEPT_URL, json={"token": second_token}), 401)
    unknown = f"/v1/organizations/{organization_id}/invitations/0190a000-0000-7000-8000-000000000000"
    assert_problem(await client.delete(unknown, headers=owner.headers), 404)

    statuses = await client.get(f"/v1/organizations/{organization_id}/invitations", headers=owner.headers)
    by_id = {item["id"]: item["status"] for item in statuses.json()["items"]}
    assert by_id == {
        expired["id"]: "expired",
        revoked["id"]: "revoked",
        first["id"]: "revoked",
        second["id"]: "accepted",
    }
    # Nothing refused made anyone a member.
    assert await _memberships(client, person) == [{"organization_id": organization_id, "role": "admin"}]


async def test_two_people_presenting_one_token_at_once_make_one_member(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], owner: Person
) -> None:
    organization_id = await create_organization(client, owner)
    _, token = await _invited(client, apps, organization_id, owner, new_email("shared"), "member")
    first, second = [await register_and_login(client, new_email("racer")) for _ in range(2)]
    responses = await asyncio.gather(_accept(client, first, token), _accept(client, second, token))
    assert sorted(response.status_code for response in responses) == [200, 410]
    members = await client.get(f"/v1/organizations/{organization_id}/members", headers=owner.headers)
    assert len(members.json()["items"]) == 2
    assert [change for change, *_ in await _membership_events(apps, organization_id)] == ["joined", "joined"]


async def test_an_invitee_registers_through_the_invitation_and_lands_with_the_role(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], owner: Person
) -> None:
    organization_id = await create_organization(client, owner)
    email = new_email("newcomer")
    _, token = await _invited(client, apps, organization_id, owner, email, "coordinator")
    body = {"email": email, "password": PASSWORD, "display_name": "新居民 New Resident", "invitation_token": token}
    registered = await client.post("/v1/auth/register", json=body)
    assert registered.status_code == 201, registered.text
    assert set(registered.json()) == {"id", "email", "display_name"}
    signed_in = await client.post("/v1/auth/token", data={"username": email, "password": PASSWORD})
    newcomer = Person(id=registered.json()["id"], email=email, token=signed_in.json()["access_token"])
    assert await _memberships(client, newcomer) == [{"organization_id": organization_id, "role": "coordinator"}]
    assert (await _membership_events(apps, organization_id))[-1] == ("joined", newcomer.id, "coordinator", "invitation")

    # A used or unknown token is refused, and the account is not created.
    for bad_token, status in ((token, 410), ("never-sent", 404)):
        other = new_email("other")
        refused = await client.post("/v1/auth/register", json=body | {"email": other, "invitation_token": bad_token})
        assert_problem(refused, status)
        assert await _query(apps, "SELECT id FROM orgs.people WHERE email = :email", email=other) == []
        assert_problem(await client.post("/v1/auth/token", data={"username": other, "password": PASSWORD}), 401)
    assert_problem(
        await client.post("/v1/auth/register", json=body | {"email": new_email(), "invitation_token": ""}), 422
    )


async def test_only_owners_and_admins_invite_and_never_as_owner(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], owner: Person
) -> None:
    organization_id = await create_organization(client, owner)
    admin, coordinator, member, stranger = [await register_and_login(client, new_email()) for _ in range(4)]
    for person, role in ((admin, "admin"), (coordinator, "coordinator"), (member, "member")):
        await add_member(client, organization_id, owner, person, role)
    for person in (coordinator, member, stranger):
        assert_problem(await _invite(client, organization_id, person, new_email()), 403)
        assert_problem(
            await client.get(f"/v1/organizations/{organization_id}/invitations", headers=person.headers), 403
        )
    assert_problem(await client.post(f"/v1/organizations/{organization_id}/invitations", json={}), 401)
    assert_problem(await _invite(client, organization_id, admin, new_email(), "owner"), 422)
    assert_problem(await _invite(client, organization_id, admin, "not-an-address"), 422)
    assert_problem(await _invite(client, organization_id, admin, "x" * 250 + "@example.org"), 422)
    assert_problem(await _invite(client, organization_id, admin, member.email.upper()), 409)  # already a member
    assert_problem(await _invite(client, "0190a000-0000-7000-8000-000000000000", admin, new_email()), 404)
    assert await _outbox_rows(apps, "invitation.created", "notify") == []
    assert (await _invite(client, organization_id, admin, new_email())).status_code == 201


async def test_the_accept_route_is_not_read_as_an_organization(client: httpx.AsyncClient) -> None:
    person = await register_and_login(client, new_email())
    # `invitations` is no organization id: routes of that shape answer 422 (a malformed id), never 404/405 here.
    assert_problem(await client.get("/v1/organizations/invitations", headers=person.headers), 422)
    assert_problem(await client.post(ACCEPT_URL, json={"token": "unknown"}, headers=person.headers), 404)


# ---- join requests ----------------------------------------------------------------------------------------


async def test_a_join_request_is_accepted_with_a_role(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], owner: Person, join_request_subscriber: None
) -> None:
    organization_id = await create_organization(client, owner)
    requests_url = f"/v1/organizations/{organization_id}/join-requests"
    asker = await register_and_login(client, new_email("asker"), "李雷 Li Lei")
    asked = await client.post(requests_url, json={"message": "想参加读书会"}, headers=asker.headers)
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert {key: request[key] for key in ("organization_id", "person_id", "display_name", "status", "message")} == {
        "organization_id": organization_id,
        "person_id": asker.id,
        "display_name": "李雷 Li Lei",
        "status": "pending",
        "message": "想参加读书会",
    }
    assert request["decided_at"] is None
    assert_problem(await client.post(requests_url, json={}, headers=asker.headers), 409)  # one pending at a time
    assert_problem(await client.get(requests_url, headers=asker.headers), 403)

    listed = await client.get(requests_url, params={"status": "pending"}, headers=owner.headers)
    assert [(item["id"], item["display_name"]) for item in listed.json()["items"]] == [(request["id"], "李雷 Li Lei")]

    accepted = await client.post(
        f"{requests_url}/{request['id']}/accept", json={"role": "coordinator"}, headers=owner.headers
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {
        "organization_id": organization_id,
        "person_id": asker.id,
        "display_name": "李雷 Li Lei",
        "role": "coordinator",
    }
    assert await _memberships(client, asker) == [{"organization_id": organization_id, "role": "coordinator"}]
    assert_problem(await client.post(f"{requests_url}/{request['id']}/accept", headers=owner.headers), 409)
    assert_problem(await client.post(f"{requests_url}/{request['id']}/refuse", headers=owner.headers), 409)
    assert_problem(await client.post(requests_url, json={}, headers=asker.headers), 409)  # a member now
    listed = await client.get(requests_url, params={"status": "accepted"}, headers=owner.headers)
    [item] = listed.json()["items"]
    assert item["status"] == "accepted" and item["decided_at"] is not None

    assert (await _membership_events(apps, organization_id))[-1] == ("joined", asker.id, "coordinator", "request")
    changes = [
        (row.payload["status"], row.payload["decided_by"])
        for row in await _outbox_rows(apps, "join_request.changed", "notify")
    ]
    assert changes == [("pending", None), ("accepted", owner.id)]


async def test_a_join_request_is_refused_asked_again_and_withdrawn_only_by_its_requester(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], owner: Person, join_request_subscriber: None
) -> None:
    organization_id = await create_organization(client, owner)
    requests_url = f"/v1/organizations/{organization_id}/join-requests"
    asker, other = [await register_and_login(client, new_email()) for _ in range(2)]
    assert_problem(await client.post(requests_url, json={"message": "x" * 501}, headers=asker.headers), 422)
    assert_problem(await client.post(requests_url, json={"message": "hi"}), 401)
    first = (await client.post(requests_url, json={"message": "x" * 500}, headers=asker.headers)).json()
    assert_problem(await client.post(f"{requests_url}/{first['id']}/refuse", headers=asker.headers), 403)
    refused = await client.post(f"{requests_url}/{first['id']}/refuse", headers=owner.headers)
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "refused" and refused.json()["decided_at"] is not None
    assert await _memberships(client, asker) == []

    second = await client.post(requests_url, json={}, headers=asker.headers)  # refused once, may ask again
    assert second.status_code == 201 and second.json()["message"] is None
    withdraw = f"{requests_url}/{second.json()['id']}"
    assert_problem(await client.delete(withdraw, headers=other.headers), 404)
    assert_problem(await client.delete(withdraw, headers=owner.headers), 404)  # admins refuse instead
    assert (await client.delete(withdraw, headers=asker.headers)).status_code == 204
    assert_problem(await client.delete(withdraw, headers=asker.headers), 409)
    assert_problem(await client.post(f"{withdraw}/accept", headers=owner.headers), 409)
    unknown = f"{requests_url}/0190a000-0000-7000-8000-000000000000"
    assert_problem(await client.post(f"{unknown}/accept", headers=owner.headers), 404)
    assert_problem(await client.post(f"{unknown}/accept", json={"role": "owner"}, headers=owner.headers), 422)

    everything = await client.get(requests_url, headers=owner.headers)
    assert [item["status"] for item in everything.json()["items"]] == ["refused", "withdrawn"]  # oldest first
    changes = [row.payload["status"] for row in await _outbox_rows(apps, "join_request.changed", "notify")]
    assert changes == ["pending", "refused", "pending", "withdrawn"]


async def test_joining_by_another_way_answers_a_pending_request(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], owner: Person
) -> None:
    organization_id = await create_organization(client, owner)
    requests_url = f"/v1/organizations/{organization_id}/join-requests"
    asker = await register_and_login(client, new_email("asker"))
    request = (await client.post(requests_url, json={}, headers=asker.headers)).json()
    _, token = await _invited(client, apps, organization_id, owner, asker.email, "member")
    assert (await _accept(client, asker, token)).status_code == 200
    [item] = (await client.get(requests_url, headers=owner.headers)).json()["items"]
    assert item["id"] == request["id"] and item["status"] == "accepted"
    assert (await client.get(requests_url, params={"status": "pending"}, headers=owner.headers)).json()["items"] == []


# ---- leaving ------------------------------------------------------------------------------------------------


async def test_members_leave_on_their_own_admins_remove_and_the_owner_stays(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], owner: Person
) -> None:
    organization_id = await create_organization(client, owner)
    members_url = f"/v1/organizations/{organization_id}/members"
    admin, leaver, removed = [await register_and_login(client, new_email()) for _ in range(3)]
    await add_member(client, organization_id, owner, admin, "admin")
    await add_member(client, organization_id, owner, leaver, "member")
    await add_member(client, organization_id, owner, removed, "coordinator")

    assert_problem(await client.delete(f"{members_url}/{removed.id}", headers=leaver.headers), 403)
    assert (await client.delete(f"{members_url}/{leaver.id}", headers=leaver.headers)).status_code == 204
    assert await _memberships(client, leaver) == []
    assert_problem(await client.delete(f"{members_url}/{leaver.id}", headers=leaver.headers), 404)
    assert (await client.delete(f"{members_url}/{removed.id}", headers=admin.headers)).status_code == 204
    assert_problem(await client.delete(f"{members_url}/{owner.id}", headers=owner.headers), 409)
    assert_problem(await client.delete(f"{members_url}/{owner.id}", headers=admin.headers), 409)

    assert await _membership_events(apps, organization_id) == [
        ("joined", owner.id, "owner", "created"),
        ("joined", admin.id, "admin", "added"),
        ("joined", leaver.id, "member", "added"),
        ("joined", removed.id, "coordinator", "added"),
        ("left", leaver.id, None, None),
        ("removed", removed.id, None, None),
    ]
    rows = await _outbox_rows(apps, "membership.changed", "booking")
    assert [row.payload["by_person_id"] for row in rows[-2:]] == [leaver.id, admin.id]
    assert [row.sequence for row in rows] == list(range(1, 7))  # one stream per organization, in order


async def test_membership_events_reach_their_subscribers(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], owner: Person, deliver_events: Deliver
) -> None:
    organization_id = await create_organization(client, owner)
    await _invited(client, apps, organization_id, owner, new_email("mail"), "member")
    assert await deliver_events() >= 2
    outbox = event_tables.outbox
    async with apps["orgs"].state.database.sessionmaker() as session:
        rows = (await session.execute(select(outbox.c.type, outbox.c.subscriber, outbox.c.status))).all()
    # Delivered: the membership event stays delivered, the invitation's (it carries the token) is gone.
    assert [tuple(row) for row in rows] == [("membership.changed", "booking", "delivered")]
    async with apps["booking"].state.database.sessionmaker() as session:
        received = (await session.execute(text("SELECT type FROM booking.inbox"))).scalars().all()
    assert "membership.changed" in received


# ---- personal data --------------------------------------------------------------------------------------------


async def test_erasure_deletes_invitations_to_their_address_and_export_shows_them(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], owner: Person
) -> None:
    organization_id = await create_organization(client, owner)
    person = await register_and_login(client, new_email("private"))
    other_owner = await register_and_login(client, new_email("other"))
    other_organization = await create_organization(client, other_owner)
    _, token = await _invited(client, apps, organization_id, owner, person.email, "member")
    assert (await _accept(client, person, token)).status_code == 200
    await _invited(client, apps, other_organization, other_owner, person.email.upper(), "admin")  # still open
    third = await create_organization(client, other_owner)
    asked = await client.post(
        f"/v1/organizations/{third}/join-requests", json={"message": "请加我"}, headers=person.headers
    )
    assert asked.status_code == 201

    exported = (await client.get("/v1/me/export", headers=person.headers)).json()
    assert [(item["organization_id"], item["status"]) for item in exported["invitations"]] == [
        (organization_id, "accepted"),
        (other_organization, "pending"),
    ]
    assert [(item["organization_id"], item["status"], item["message"]) for item in exported["join_requests"]] == [
        (third, "pending", "请加我")
    ]

    # The person also invited someone as an admin of their own organization: the mail goes out unsigned.
    own = await create_organization(client, person)
    await _invited(client, apps, own, person, new_email("guest"), "member")

    erased = await client.request("DELETE", "/v1/me", json={"password": PASSWORD}, headers=person.headers)
    assert erased.status_code == 204, erased.text
    remaining = await _query(
        apps,
        "SELECT count(*) FROM orgs.invitations WHERE lower(email) = lower(:email) OR accepted_by = :id",
        email=person.email,
        id=person.id,
    )
    assert remaining == [(0,)]
    assert len(await _query(apps, "SELECT id FROM orgs.invitations")) == 1  # the guest's, sent by them
    assert await _query(apps, "SELECT id FROM orgs.join_requests") == []
    naming = await _query(
        apps,
        "SELECT type FROM orgs.outbox WHERE payload::text ILIKE :id OR payload::text ILIKE :email",
        id=f"%{person.id}%",
        email=f"%{person.email}%",
    )
    assert sorted(row.type for row in naming) == ["person.erased", "person.erased"]
    [guest_mail] = [
        row for row in await _outbox_rows(apps, "invitation.created", "notify") if row.payload["organization_id"] == own
    ]
    assert guest_mail.payload.get("invited_by_name") is None and guest_mail.payload["token"]
