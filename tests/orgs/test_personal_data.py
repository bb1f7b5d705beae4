"""A person's data is theirs: `GET /v1/me/export` (everything, or a 503, never part) and `DELETE /v1/me` (the
account erased in one transaction, `person.erased` to booking and notify, and nothing in orgs naming them)."""

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from services.orgs.dependencies import person_exports
from services.orgs.models import event_tables
from services.orgs.peers import PersonExports
from shared.clients import ServiceClient
from tests.orgs.support import add_member, create_organization
from tests.support import PASSWORD, Person, assert_problem, new_email, register_and_login

Deliver = Callable[[], Awaitable[int]]


def _community(name: str) -> dict[str, str]:
    return {"zh-CN": f"{name}社区", "en": f"{name} Community"}


async def _erase(client: httpx.AsyncClient, person: Person, password: str = PASSWORD) -> httpx.Response:
    return await client.request("DELETE", "/v1/me", json={"password": password}, headers=person.headers)


async def _sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/v1/auth/token", data={"username": email, "password": password})


async def _rows_naming(apps: dict[str, FastAPI], *needles: str) -> dict[str, int]:
    """Rows of every orgs table whose text mentions any of `needles` (case-insensitive), by table."""
    found: dict[str, int] = {}
    async with apps["orgs"].state.database.sessionmaker() as session:
        tables = (await session.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'orgs'"))).scalars()
        matches = " OR ".join(f"r::text ILIKE :needle{index}" for index in range(len(needles)))
        params = {f"needle{index}": f"%{needle}%" for index, needle in enumerate(needles)}
        for table in tables.all():
            statement = text(f'SELECT count(*) FROM orgs."{table}" AS r WHERE {matches}')
            count = (await session.execute(statement, params)).scalar_one()
            if count:
                found[table] = count
    return found


async def _outbox(apps: dict[str, FastAPI]) -> list[Any]:
    outbox = event_tables.outbox
    async with apps["orgs"].state.database.sessionmaker() as session:
        return list((await session.execute(select(outbox).order_by(outbox.c.subscriber))).all())


async def test_the_export_is_one_document_of_every_service(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/auth/register",
        json={"email": new_email("export"), "password": PASSWORD, "display_name": "李华 Li Hua"},
        headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    assert response.status_code == 201, response.text
    token = (await _sign_in(client, response.json()["email"])).json()["access_token"]
    person = Person(id=response.json()["id"], email=response.json()["email"], token=token)
    owned = await create_organization(client, person, _community("翠苑"))
    host = await register_and_login(client, new_email("host"))
    joined = await create_organization(client, host, _community("湖滨"))
    await add_member(client, joined, host, person, "coordinator")

    exported = await client.get("/v1/me/export", headers=person.headers)
    assert exported.status_code == 200, exported.text
    assert exported.headers["cache-control"] == "no-store"
    body = exported.json()
    assert set(body) == {"exported_at", "person", "memberships", "join_requests", "invitations", "booking", "notify"}
    assert body["join_requests"] == [] and body["invitations"] == []  # tests/orgs/test_joining.py fills them
    assert datetime.fromisoformat(body["exported_at"]).tzinfo is not None
    assert body["person"] == {
        "id": person.id,
        "email": person.email,
        "display_name": "李华 Li Hua",
        "language": "zh-CN",
        "roles": [],
        "created_at": body["person"]["created_at"],
    }
    assert datetime.fromisoformat(body["person"]["created_at"]) <= datetime.fromisoformat(body["exported_at"])
    memberships = {item["organization_id"]: item for item in body["memberships"]}
    assert set(memberships) == {owned, joined}
    assert memberships[owned]["role"] == "owner" and memberships[joined]["role"] == "coordinator"
    assert memberships[joined]["organization_name"] == {"zh-CN": "湖滨社区", "en": "湖滨 Community"}
    assert all(datetime.fromisoformat(item["joined_at"]) for item in body["memberships"])
    # Booking's and notify's own parts, as they answer them.
    assert isinstance(body["booking"], dict) and isinstance(body["notify"], dict)
    assert_problem(await client.get("/v1/me/export"), 401)


class _Peer:
    """A booking that fails in one of three ways."""

    def __init__(self, failure: str) -> None:
        self.failure = failure

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.failure == "down":
            raise httpx.ConnectError("booking down", request=request)
        if self.failure == "missing":
            return httpx.Response(404, json={"detail": "Not Found"})
        return httpx.Response(200, json=["not", "an", "object"])


@pytest.fixture
def failing_booking(apps: dict[str, FastAPI]) -> Iterator[_Peer]:
    orgs = apps["orgs"]
    settings = orgs.state.settings
    peer = _Peer("down")
    booking = ServiceClient(
        "booking", "http://booking.failing.test", settings, httpx.AsyncClient(transport=httpx.MockTransport(peer))
    )
    notify = ServiceClient("notify", settings.notify_url, settings, orgs.state.http)
    orgs.dependency_overrides[person_exports] = lambda: PersonExports(booking=booking, notify=notify)
    yield peer
    orgs.dependency_overrides.pop(person_exports, None)


@pytest.mark.parametrize("failure", ["down", "missing", "not an object"])
async def test_the_export_is_whole_or_a_503(client: httpx.AsyncClient, failing_booking: _Peer, failure: str) -> None:
    person = await register_and_login(client, new_email("partial"))
    failing_booking.failure = failure
    response = await client.get("/v1/me/export", headers=person.headers)
    body = assert_problem(response, 503)
    assert "booking" in str(body["detail"]) and int(response.headers["retry-after"]) >= 1


async def test_a_wrong_password_is_403_and_counts_toward_the_sign_in_lock(
    client: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    person = await register_and_login(client, new_email("wrong"))
    for _ in range(5):  # the account's failure limit (OrgsSettings.login_max_failures)
        assert_problem(await _erase(client, person, "not the password"), 403)
    assert (await client.get("/v1/me", headers=person.headers)).status_code == 200  # nothing was erased
    assert_problem(await _sign_in(client, person.email), 429)
    locked = await _erase(client, person)
    assert_problem(locked, 429)
    assert int(locked.headers["retry-after"]) >= 1
    assert await _outbox(apps) == []
    assert_problem(await client.request("DELETE", "/v1/me", json={"password": PASSWORD}), 401)
    assert_problem(await client.request("DELETE", "/v1/me", json={}, headers=person.headers), 422)


async def test_erasure_ends_the_account_and_leaves_no_orgs_row_naming_the_person(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], deliver_events: Deliver
) -> None:
    person = await register_and_login(client, new_email("erased"), "将被删除 To Be Erased")
    tokens = (await _sign_in(client, person.email)).json()
    owned = await create_organization(client, person, _community("北山"))
    host = await register_and_login(client, new_email("host"))
    joined = await create_organization(client, host, _community("西溪"))
    await add_member(client, joined, host, person, "admin")
    await add_member(client, owned, person, host, "admin")
    assert_problem(await _sign_in(client, person.email, "a wrong guess"), 401)  # a throttle row
    assert await _rows_naming(apps, person.id, person.email)  # the check below can see the person

    erased = await _erase(client, person)
    assert erased.status_code == 204, erased.text
    assert erased.content == b""

    # The token, the password and the refresh token stop working, on every route acting as a person.
    assert_problem(await client.get("/v1/me", headers=person.headers), 401)
    assert_problem(await client.get("/v1/me/export", headers=person.headers), 401)
    assert_problem(await _erase(client, person), 401)
    assert_problem(await client.get(f"/v1/people/{host.id}", headers=person.headers), 401)
    new_organization = {"name": "Again", "kind": "school"}
    assert_problem(await client.post("/v1/organizations", json=new_organization, headers=person.headers), 401)
    assert_problem(await client.get(f"/v1/organizations/{joined}/members", headers=person.headers), 401)
    assert_problem(await _sign_in(client, person.email), 401)
    assert_problem(await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)

    # Organizations they owned stay, ownerless, managed by their admins; the others no longer list them.
    assert (await client.get(f"/v1/organizations/{owned}")).status_code == 200
    owned_members = (await client.get(f"/v1/organizations/{owned}/members", headers=host.headers)).json()["items"]
    assert [(m["person_id"], m["role"]) for m in owned_members] == [(host.id, "admin")]
    renamed = await client.patch(f"/v1/organizations/{owned}", json={"name": "北山 Beishan"}, headers=host.headers)
    assert renamed.status_code == 200, renamed.text
    joined_members = (await client.get(f"/v1/organizations/{joined}/members", headers=host.headers)).json()["items"]
    assert [m["person_id"] for m in joined_members] == [host.id]

    # Booking and notify are told, by an event whose aggregate is the erasure, not the person.
    rows = [row for row in await _outbox(apps) if row.type == "person.erased"]
    assert [(row.subscriber, row.type, row.status) for row in rows] == [
        ("booking", "person.erased", "pending"),
        ("notify", "person.erased", "pending"),
    ]
    assert rows[0].event_id == rows[1].event_id and rows[0].payload == rows[1].payload
    assert rows[0].payload == {"erasure_id": str(rows[0].aggregate_id), "person_id": person.id}
    assert rows[0].aggregate_id != UUID(person.id)
    assert await _rows_naming(apps, person.id, person.email) == {"outbox": 2}

    # Delivered, the rows go: nothing in orgs names the person any more (the membership events about the
    # others stay, delivered).
    await deliver_events()
    assert {(row.type, row.status) for row in await _outbox(apps)} == {("membership.changed", "delivered")}
    assert await _rows_naming(apps, person.id, person.email) == {}
    # Sign-in attempts at the erased address are still throttled, under a digest that names nobody.
    assert_problem(await _sign_in(client, person.email), 401)
    assert await _rows_naming(apps, person.id, person.email) == {}
    async with apps["orgs"].state.database.sessionmaker() as session:
        keys = (await session.execute(text("SELECT email_key FROM orgs.login_throttle"))).scalars().all()
    assert hashlib.sha256(person.email.lower().encode()).hexdigest() in keys


async def test_two_erasures_at_once_erase_once(client: httpx.AsyncClient, apps: dict[str, FastAPI]) -> None:
    person = await register_and_login(client, new_email("twice"))
    responses = await asyncio.gather(_erase(client, person), _erase(client, person))
    assert sorted(response.status_code for response in responses) == [204, 401]
    assert len({row.event_id for row in await _outbox(apps)}) == 1
