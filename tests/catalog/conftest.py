"""Catalog test helpers: people with roles (accounts inserted directly, tokens minted by the orgs app, so no
argon2 cost), a catalog client that creates sites, activities and sessions, a stand-in for booking's
availability answers, and availability events sent into the catalog inbox."""

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.catalog.dependencies import booking_seats
from services.catalog.models import event_tables
from services.catalog.peers import BookingSeats
from services.catalog.settings import CatalogSettings
from services.orgs.models import Person as PersonRow
from shared.clients import ServiceClient
from shared.events.schemas import AvailabilityChanged, EventEnvelope
from shared.ids import new_id
from tests.support import Person, assert_problem, new_email

HUBIN = (30.2590, 120.1640)  # Hubin, by West Lake
ROLES = ("owner", "admin", "coordinator", "member")


def pointers(response: httpx.Response) -> list[str]:
    """The JSON pointers of a 422 problem's field errors (asserting it is one)."""
    body: Any = assert_problem(response, 422)
    return [error["pointer"] for error in body.get("errors", [])]


def later(**delta: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(**delta)


def iso(moment: datetime) -> str:
    return moment.isoformat()


MakePerson = Callable[..., Awaitable[Person]]


@pytest.fixture
def make_person(apps: dict[str, FastAPI]) -> MakePerson:
    """An account (inserted directly: no password hashing) with a token minted by the orgs app."""

    async def make(roles: tuple[str, ...] = ()) -> Person:
        person_id = new_id()
        email = new_email("catalog")
        async with apps["orgs"].state.database.sessionmaker.begin() as session:
            session.add(PersonRow(id=person_id, email=email, display_name="P", password_hash="!", roles=list(roles)))
        token, _ = apps["orgs"].state.signing_keys.issue_access_token(person_id, list(roles))
        return Person(id=str(person_id), email=email, token=token)

    return make


@dataclass
class Team:
    """An organization with one person in each role, plus a stranger and a platform operator."""

    organization_id: str
    people: dict[str, Person]

    def __getitem__(self, role: str) -> Person:
        return self.people[role]


async def new_team(client: httpx.AsyncClient, make_person: MakePerson) -> Team:
    people = {role: await make_person() for role in (*ROLES, "stranger")}
    people["operator"] = await make_person(("operator",))
    created = await client.post(
        "/v1/organizations",
        json={"name": {"zh-CN": "湖滨社区", "en": "Hubin Community"}, "kind": "community"},
        headers=people["owner"].headers,
    )
    assert created.status_code == 201, created.text
    organization_id = created.json()["id"]
    for role in ("admin", "coordinator", "member"):
        added = await client.post(
            f"/v1/organizations/{organization_id}/members",
            json={"email": people[role].email, "role": role},
            headers=people["owner"].headers,
        )
        assert added.status_code == 201, added.text
    return Team(organization_id=organization_id, people=people)


@pytest.fixture
async def team(client: httpx.AsyncClient, make_person: MakePerson) -> Team:
    return await new_team(client, make_person)


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Catalog:
    """Creates catalog resources for `team` as its owner (unless told otherwise)."""

    client: httpx.AsyncClient
    team: Team

    def _as(self, person: Person | None) -> dict[str, str]:
        return (person or self.team["owner"]).headers

    async def site(self, *, lat: float = HUBIN[0], lon: float = HUBIN[1], **fields: Any) -> dict[str, Any]:
        body = {
            "name": {"zh-CN": "湖滨图书室", "en": "Hubin Reading Room"},
            "kind": "library",
            "location": {"lat": lat, "lon": lon},
            "address": "杭州市上城区东坡路 Dongpo Road",
            "owner_org_id": self.team.organization_id,
        } | fields
        return _created(await self.client.post("/v1/sites", json=body, headers=self._as(None)))

    async def series(self, **fields: Any) -> dict[str, Any]:
        body = {
            "name": {"zh-CN": "西湖读书节", "en": "West Lake Reading Festival"},
            "kind": "festival",
            "starts_on": "2027-04-01",
            "ends_on": "2027-04-21",
            "organizer_org_id": self.team.organization_id,
        } | fields
        return _created(await self.client.post("/v1/series", json=body, headers=self._as(None)))

    async def activity(self, site_id: str | None, **fields: Any) -> dict[str, Any]:
        body = {
            "title": {"zh-CN": "宋词夜读", "en": "Song Poetry Night Reading"},
            "description": {
                "zh-CN": "一起朗读苏轼的西湖诗词。",
                "en": "Reading Su Shi's poems about West Lake together.",
            },
            "kind": "reading",
            "topics": ["literature"],
            "audience": ["adults"],
            "host_org_id": self.team.organization_id,
            "site_id": site_id,
        } | fields
        return _created(await self.client.post("/v1/activities", json=body, headers=self._as(None)))

    async def sessions(self, activity_id: str, **fields: Any) -> list[dict[str, Any]]:
        starts_at = fields.pop("starts_at", later(days=2))
        body = {
            "starts_at": iso(starts_at),
            "ends_at": iso(fields.pop("ends_at", starts_at + timedelta(minutes=90))),
            "capacity": 20,
        } | fields
        response = await self.client.post(f"/v1/activities/{activity_id}/sessions", json=body, headers=self._as(None))
        items: list[dict[str, Any]] = _created(response)["items"]
        return items

    async def session(self, activity_id: str, **fields: Any) -> dict[str, Any]:
        (created,) = await self.sessions(activity_id, **fields)
        return created

    async def scheduled_session(self, **fields: Any) -> dict[str, Any]:
        """A session of a fresh activity at a fresh site."""
        site = await self.site()
        activity = await self.activity(site["id"])
        return await self.session(activity["id"], **fields)


@pytest.fixture
def catalog(client: httpx.AsyncClient, team: Team) -> Catalog:
    return Catalog(client, team)


class BookingStandIn:
    """Answers the catalog's `GET /v1/availability/{id}` calls in place of the booking service."""

    def __init__(self, settings: CatalogSettings) -> None:
        self.confirmed: dict[str, int] = {}
        # Booking's accessible and online pool figures of a session, when it has them.
        self.pools: dict[str, dict[str, int]] = {}
        self.down = False
        self.calls = 0
        http = httpx.AsyncClient(transport=httpx.MockTransport(self._answer))
        self.client = BookingSeats(ServiceClient("booking", "http://booking.test", settings, http))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.down:
            raise httpx.ConnectError("booking down", request=request)
        session_id = request.url.path.rsplit("/", 1)[-1]
        if session_id not in self.confirmed:
            return httpx.Response(404, json={"detail": "unknown session"})
        confirmed = self.confirmed[session_id]
        body = {"session_id": session_id, "capacity": 0, "confirmed_seats": confirmed}
        return httpx.Response(200, json=body | self.pools.get(session_id, {}))


@pytest.fixture
def booking(apps: dict[str, FastAPI]) -> Iterator[BookingStandIn]:
    catalog_app = apps["catalog"]
    stand_in = BookingStandIn(catalog_app.state.settings)
    catalog_app.dependency_overrides[booking_seats] = lambda: stand_in.client
    yield stand_in
    catalog_app.dependency_overrides.pop(booking_seats, None)


SendAvailability = Callable[..., Awaitable[str]]


@pytest.fixture
def send_availability(apps: dict[str, FastAPI]) -> SendAvailability:
    """Apply an `availability.changed` from booking through the catalog inbox; returns the outcome."""
    sequences: defaultdict[str, int] = defaultdict(int)
    catalog_app = apps["catalog"]

    async def send(session_id: str, *, capacity: int, confirmed: int, waitlist: int = 0, **pools: int) -> str:
        """`pools`: accessible_capacity, accessible_available, online_capacity, online_available (the
        standard pool's free seats are then capacity less the accessible ones, less `confirmed`)."""
        sequences[session_id] += 1
        figures = AvailabilityChanged(
            session_id=UUID(session_id),
            capacity=capacity,
            confirmed_seats=confirmed,
            seats_available=max(0, capacity - pools.get("accessible_capacity", 0) - confirmed),
            waitlist_length=waitlist,
            **pools,
        )
        envelope = EventEnvelope(
            id=new_id(),
            type="availability.changed",
            producer="booking",
            aggregate_id=UUID(session_id),
            sequence=sequences[session_id],
            occurred_at=datetime.now(UTC),
            payload=figures.model_dump(mode="json"),
        )
        async with catalog_app.state.database.sessionmaker.begin() as session:
            outcome: str = await catalog_app.state.inbox.accept(session, envelope)
        return outcome

    return send


OutboxRows = Callable[..., Awaitable[list[Any]]]


@pytest.fixture
def outbox_rows(apps: dict[str, FastAPI]) -> OutboxRows:
    """The catalog's outbox rows for one subscriber (booking unless told: every subscriber gets its own row of
    each event), optionally of one aggregate, in the order they were written."""
    outbox = event_tables.outbox

    async def rows(aggregate_id: str | None = None, *, subscriber: str = "booking") -> list[Any]:
        statement = (
            select(outbox).where(outbox.c.subscriber == subscriber).order_by(outbox.c.aggregate_id, outbox.c.sequence)
        )
        if aggregate_id is not None:
            statement = statement.where(outbox.c.aggregate_id == UUID(aggregate_id))
        async with apps["catalog"].state.database.sessionmaker() as session:
            return list((await session.execute(statement)).all())

    return rows
