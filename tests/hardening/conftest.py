"""Hardening fixtures: a small "world" of real rows (an organization with a person in every role, a site,
an activity, a session and a booking) built over real HTTP against the live processes, and a private
system (its own embedded PostgreSQL and service processes) that fault tests may stop, kill and restart."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.load_and_fault import PrivateDatabase
from bench.load_and_fault import private_system as start_private_system
from shared.topology import owner_of
from tests.live import LiveSystem
from tests.support import PASSWORD, Person, new_email

ROLES = ("owner", "admin", "coordinator", "member")


class LiveApi:
    """Synchronous HTTP to the live processes, routed by the first path segment as the gateway does."""

    def __init__(self, urls: dict[str, str], timeout_s: float = 30.0) -> None:
        self.urls = urls
        self._http = httpx.Client(timeout=timeout_s)

    def url(self, path: str) -> str:
        service = owner_of(path)
        assert service is not None, path
        return self.urls[service] + path

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._http.request(method, self.url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self._http.close()


def created(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def register(api: LiveApi, label: str) -> Person:
    email = new_email(label)
    person = created(api.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": label}))
    token = created(api.post("/v1/auth/token", data={"username": email, "password": PASSWORD}), 200)
    return Person(id=person["id"], email=email, token=token["access_token"])


def iso_in(**delta: float) -> str:
    return (datetime.now(UTC).replace(microsecond=0) + timedelta(**delta)).isoformat()


@dataclass
class World:
    """Real rows generated requests can hit: `ids` maps path parameter names to existing ids."""

    organization_id: str
    people: dict[str, Person]
    site_id: str
    activity_id: str
    session_id: str
    booking_id: str
    series_id: str
    ids: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, role: str) -> Person:
        return self.people[role]


def build_world(api: LiveApi, roles: tuple[str, ...] = ROLES) -> World:
    people = {role: register(api, role) for role in roles}
    owner = people["owner"]
    organization = created(
        api.post("/v1/organizations", json={"name": "Hubin Community", "kind": "community"}, headers=owner.headers)
    )
    for role in roles:
        if role != "owner":
            body = {"email": people[role].email, "role": role}
            created(api.post(f"/v1/organizations/{organization['id']}/members", json=body, headers=owner.headers))
    org_id = organization["id"]
    site = created(
        api.post(
            "/v1/sites",
            json={
                "name": "Hubin Reading Room",
                "kind": "library",
                "location": {"lat": 30.259, "lon": 120.164},
                "address": "Dongpo Road",
                "owner_org_id": org_id,
            },
            headers=owner.headers,
        )
    )
    series = created(
        api.post(
            "/v1/series",
            json={
                "name": "West Lake Reading Festival",
                "kind": "festival",
                "starts_on": "2027-04-01",
                "ends_on": "2027-04-21",
                "organizer_org_id": org_id,
            },
            headers=owner.headers,
        )
    )
    activity = created(
        api.post(
            "/v1/activities",
            json={"title": "Song Poetry Night", "kind": "reading", "host_org_id": org_id, "site_id": site["id"]},
            headers=owner.headers,
        )
    )
    session = created(
        api.post(
            f"/v1/activities/{activity['id']}/sessions",
            json={"starts_at": iso_in(days=2), "ends_at": iso_in(days=2, hours=2), "capacity": 50},
            headers=owner.headers,
        )
    )["items"][0]
    booking = created(
        api.post(
            "/v1/bookings",
            json={"session_id": session["id"]},
            headers={**owner.headers, "Idempotency-Key": "world-booking"},
        )
    )
    return World(
        organization_id=org_id,
        people=people,
        site_id=site["id"],
        activity_id=activity["id"],
        session_id=session["id"],
        booking_id=booking["id"],
        series_id=series["id"],
        ids={
            "organization_id": org_id,
            "person_id": owner.id,
            "site_id": site["id"],
            "activity_id": activity["id"],
            "session_id": session["id"],
            "booking_id": booking["id"],
            "series_id": series["id"],
        },
    )


@pytest.fixture(scope="session")
def live_api(live_system: LiveSystem) -> Iterator[LiveApi]:
    api = LiveApi(live_system.urls)
    yield api
    api.close()


@pytest.fixture
def world(live_api: LiveApi) -> World:
    return build_world(live_api)


# ---- a private system for fault tests ------------------------------------------------------------


@dataclass
class PrivateSystem:
    """The three services as processes on a private PostgreSQL: fault tests stop, kill and restart them."""

    database: PrivateDatabase
    system: LiveSystem
    key_file: Path


@pytest.fixture(scope="session")
def private_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateSystem]:
    with start_private_system(tmp_path_factory.mktemp("faults")) as (database, system, key_file):
        yield PrivateSystem(database, system, key_file)
