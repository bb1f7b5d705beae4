"""A small client of the public API (api-contract.md) for the integration tests: people, organizations,
sites, activities, sessions and bookings, made over HTTP with names unique to each run, so the tests also
pass against a long-lived system (docker compose) that keeps earlier runs' data."""

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx

from tests.support import PASSWORD

T = TypeVar("T")
Json = dict[str, Any]


@dataclass(frozen=True)
class Citizen:
    id: str
    email: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float

    @property
    def query(self) -> str:
        return f"{self.lat},{self.lon}"

    def north(self, metres: float) -> "Point":
        return Point(self.lat + metres / 111_320, self.lon)


def unique(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


def lonely_point() -> Point:
    """Somewhere on the Qinghai plateau, far from the demo city and from other runs' sites."""
    return Point(round(random.uniform(35.0, 36.0), 6), round(random.uniform(96.0, 98.0), 6))


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def created(response: httpx.Response) -> Json:
    assert response.status_code == 201, f"{response.request.method} {response.request.url}: {response.text}"
    body: Json = response.json()
    return body


def ok(response: httpx.Response) -> Json:
    assert response.status_code == 200, f"{response.request.method} {response.request.url}: {response.text}"
    body: Json = response.json()
    return body


def eventually(read: Callable[[], T], until: Callable[[T], bool], timeout_s: float = 10.0) -> T:
    """Polls `read` until `until` holds: what crosses services by events arrives a moment later."""
    deadline = time.monotonic() + timeout_s
    value = read()
    while not until(value):
        assert time.monotonic() < deadline, f"still {value!r} after {timeout_s:.0f} s"
        time.sleep(0.2)
        value = read()
    return value


def register(api: httpx.Client, label: str) -> Citizen:
    email = f"{unique(label)}@example.org"
    person = created(api.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": label}))
    token = ok(api.post("/v1/auth/token", data={"username": email, "password": PASSWORD}))
    return Citizen(person["id"], email, {"Authorization": f"Bearer {token['access_token']}"})


def organization(api: httpx.Client, owner: Citizen, kind: str = "library") -> Json:
    body = {"name": unique("Reading Room"), "kind": kind, "district": "Xihu"}
    return created(api.post("/v1/organizations", json=body, headers=owner.headers))


def site(api: httpx.Client, owner: Citizen, org: Json, where: Point, name: str) -> Json:
    body = {
        "name": {"en": name, "zh-CN": name},
        "kind": "library",
        "location": {"lat": where.lat, "lon": where.lon},
        "address": "1 Lakeside Road",
        "owner_org_id": org["id"],
    }
    return created(api.post("/v1/sites", json=body, headers=owner.headers))


def activity(api: httpx.Client, owner: Citizen, org: Json, place: Json, title: str) -> Json:
    body = {"title": title, "kind": "workshop", "host_org_id": org["id"], "site_id": place["id"], "topics": ["books"]}
    return created(api.post("/v1/activities", json=body, headers=owner.headers))


def session(api: httpx.Client, owner: Citizen, offering: Json, *, capacity: int, starts_in_min: int = 30) -> Json:
    """A session of one hour starting soon (check-in opens 60 minutes before the start)."""
    starts = datetime.now(UTC) + timedelta(minutes=starts_in_min)
    body = {"starts_at": rfc3339(starts), "ends_at": rfc3339(starts + timedelta(hours=1)), "capacity": capacity}
    items = created(api.post(f"/v1/activities/{offering['id']}/sessions", json=body, headers=owner.headers))["items"]
    assert len(items) == 1
    only: Json = items[0]
    return only


def book(api: httpx.Client, person: Citizen, session_id: str, key: str | None = None) -> httpx.Response:
    headers = {**person.headers, "Idempotency-Key": key or unique("key")}
    return api.post("/v1/bookings", json={"session_id": session_id}, headers=headers)


def booking_of(api: httpx.Client, person: Citizen, booking_id: str) -> Json:
    return ok(api.get(f"/v1/bookings/{booking_id}", headers=person.headers))


@dataclass(frozen=True)
class Host:
    """A library with one site and one workshop, run by its owner."""

    owner: Citizen
    org: Json
    place: Json
    where: Point
    offering: Json
    title: str

    @classmethod
    def open(cls, api: httpx.Client) -> "Host":
        owner = register(api, "host")
        org = organization(api, owner)
        where = lonely_point()
        place = site(api, owner, org, where, unique("Lakeside Library"))
        title = unique("Bookbinding workshop")
        return cls(owner, org, place, where, activity(api, owner, org, place, title), title)

    def session(self, api: httpx.Client, *, capacity: int) -> Json:
        return session(api, self.owner, self.offering, capacity=capacity)
