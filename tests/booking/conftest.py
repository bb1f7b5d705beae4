"""Booking test helpers: a stand-in for the catalog that sends `session.*` events into booking (in-process
through its inbox, or over HTTP to a live process), minted access tokens, and booking shortcuts."""

from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from shared.clients import INTERNAL_SECRET_HEADER
from shared.events.schemas import EventEnvelope, PersonErased, SessionSnapshot
from shared.ids import new_id
from shared.settings import DEV_INTERNAL_SECRET
from tests.support import Person, new_email, register_and_login

Deliver = Callable[[EventEnvelope], Awaitable[None]]


def minutes_from_now(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


class CatalogStandIn:
    """Schedules, changes and cancels sessions the way the catalog does: whole snapshots as events."""

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._sequences: defaultdict[UUID, int] = defaultdict(int)

    async def schedule(self, **fields: Any) -> SessionSnapshot:
        starts_at = fields.pop("starts_at", minutes_from_now(24 * 60))
        snapshot = SessionSnapshot(
            session_id=new_id(),
            activity_id=new_id(),
            host_org_id=fields.pop("host_org_id", new_id()),
            site_id=None,
            title=fields.pop("title", {"en": "Story time", "zh-CN": "故事时间"}),
            kind=fields.pop("kind", "reading"),
            starts_at=starts_at,
            ends_at=fields.pop("ends_at", starts_at + timedelta(minutes=90)),
            capacity=fields.pop("capacity", 10),
            status="scheduled",
            booking_opens_at=fields.pop("booking_opens_at", None),
            booking_closes_at=fields.pop("booking_closes_at", None),
            mode=fields.pop("mode", "in_person"),
            join_url=fields.pop("join_url", None),
            accessible_seats=fields.pop("accessible_seats", 0),
            online_capacity=fields.pop("online_capacity", 0),
        )
        assert not fields, f"unknown fields {fields}"
        await self.send("session.scheduled", snapshot)
        return snapshot

    async def update(self, snapshot: SessionSnapshot, **changes: Any) -> SessionSnapshot:
        changed = snapshot.model_copy(update=changes)
        await self.send("session.updated", changed)
        return changed

    async def cancel(self, snapshot: SessionSnapshot) -> SessionSnapshot:
        cancelled = snapshot.model_copy(update={"status": "cancelled"})
        await self.send("session.cancelled", cancelled)
        return cancelled

    async def send(self, event_type: str, snapshot: SessionSnapshot) -> None:
        self._sequences[snapshot.session_id] += 1
        envelope = EventEnvelope(
            id=new_id(),
            type=event_type,
            producer="catalog",
            aggregate_id=snapshot.session_id,
            sequence=self._sequences[snapshot.session_id],
            occurred_at=datetime.now(UTC),
            payload=snapshot.model_dump(mode="json"),
        )
        await self._deliver(envelope)


def inbox_delivery(booking: FastAPI) -> Deliver:
    async def deliver(envelope: EventEnvelope) -> None:
        async with booking.state.database.sessionmaker.begin() as session:
            await booking.state.inbox.accept(session, envelope)

    return deliver


def http_delivery(booking_url: str) -> Deliver:
    async def deliver(envelope: EventEnvelope) -> None:
        async with httpx.AsyncClient(base_url=booking_url) as http:
            response = await http.post(
                "/internal/v1/events",
                json=envelope.model_dump(mode="json"),
                headers={INTERNAL_SECRET_HEADER: DEV_INTERNAL_SECRET},
            )
        assert response.status_code == 200, response.text

    return deliver


@pytest.fixture
def catalog(apps: dict[str, FastAPI]) -> CatalogStandIn:
    return CatalogStandIn(inbox_delivery(apps["booking"]))


Mint = Callable[..., Person]


@pytest.fixture
def mint(apps: dict[str, FastAPI]) -> Mint:
    """An access token for a fresh person id (no account needed to book; no argon2 cost)."""

    def make(person_id: UUID | None = None, roles: list[str] | None = None) -> Person:
        person_id = person_id or new_id()
        token, _ = apps["orgs"].state.signing_keys.issue_access_token(person_id, roles or [])
        return Person(id=str(person_id), email="", token=token)

    return make


async def book(
    client: httpx.AsyncClient,
    person: Person,
    session_id: UUID | str,
    *,
    seats: int | None = None,
    organization_id: UUID | str | None = None,
    key: str | None = None,
    seat: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"session_id": str(session_id)}
    if seats is not None:
        body["seats"] = seats
    if seat is not None:
        body["seat"] = seat
    if organization_id is not None:
        body["organization_id"] = str(organization_id)
    headers = {**person.headers, "Idempotency-Key": key or str(new_id())}
    return await client.post("/v1/bookings", json=body, headers=headers)


async def availability(client: httpx.AsyncClient, session_id: UUID | str) -> dict[str, Any]:
    response = await client.get(f"/v1/availability/{session_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class Organization:
    def __init__(self, id_: str, people: dict[str, Person]) -> None:
        self.id = id_
        self.people = people

    def __getitem__(self, role: str) -> Person:
        return self.people[role]


async def organization(
    client: httpx.AsyncClient, roles: tuple[str, ...] = ("admin", "coordinator", "member")
) -> Organization:
    """A real organization at orgs (memberships are asked of orgs, never read from tokens), with an owner
    and one registered person per role."""
    owner = await register_and_login(client, new_email("owner"))
    created = await client.post(
        "/v1/organizations", json={"name": "Reading club", "kind": "community"}, headers=owner.headers
    )
    assert created.status_code == 201, created.text
    org_id = created.json()["id"]
    people = {"owner": owner}
    for role in roles:
        person = await register_and_login(client, new_email(role))
        added = await client.post(
            f"/v1/organizations/{org_id}/members", json={"email": person.email, "role": role}, headers=owner.headers
        )
        assert added.status_code == 201, added.text
        people[role] = person
    return Organization(org_id, people)


async def notices_for_notify(booking: FastAPI, *aggregate_ids: UUID | str) -> list[dict[str, Any]]:
    """The `booking.*` outbox rows for notify (of the given bookings, or all), oldest first."""
    outbox = booking.state.outbox._tables.outbox
    statement = select(outbox).where(outbox.c.subscriber == "notify", outbox.c.type.like("booking.%"))
    if aggregate_ids:
        statement = statement.where(outbox.c.aggregate_id.in_([UUID(str(a)) for a in aggregate_ids]))
    async with booking.state.database.sessionmaker() as db:
        rows = (await db.execute(statement.order_by(outbox.c.occurred_at, outbox.c.id))).all()
    return [dict(row._mapping) for row in rows]


async def person_export(client: httpx.AsyncClient, person_id: str) -> dict[str, Any]:
    """Booking's part of a person's data export (the internal route orgs calls)."""
    response = await client.get(
        f"http://booking.internal/internal/v1/people/{person_id}/export",
        headers={INTERNAL_SECRET_HEADER: DEV_INTERNAL_SECRET},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def erasure(person_id: str) -> EventEnvelope:
    """A `person.erased` event from orgs, as its relay delivers it."""
    erasure_id = new_id()
    return EventEnvelope(
        id=new_id(),
        type="person.erased",
        producer="orgs",
        aggregate_id=erasure_id,
        sequence=1,
        occurred_at=datetime.now(UTC),
        payload=PersonErased(erasure_id=erasure_id, person_id=UUID(person_id)).model_dump(mode="json"),
    )


async def rows_naming(apps: dict[str, FastAPI], needle: str) -> dict[str, int]:
    """Per table of the booking schema, the rows whose text names `needle` (tables with none left out)."""
    found: dict[str, int] = {}
    async with apps["booking"].state.database.sessionmaker() as db:
        tables = (await db.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'booking'"))).scalars()
        for table in list(tables):
            statement = text(f'SELECT count(*) FROM booking."{table}" AS r WHERE r::text ILIKE :pattern')
            count = (await db.execute(statement, {"pattern": f"%{needle}%"})).scalar_one()
            if count:
                found[table] = count
    return found
