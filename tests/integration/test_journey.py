"""One citizen journey through all three services, over HTTP only: a library opens a workshop, people find it
nearby and book it, the seat passes down the waitlist, the attendee checks in and it becomes learning."""

import math
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.integration.city import (
    Citizen,
    Host,
    Json,
    activity,
    book,
    booking_of,
    created,
    eventually,
    ok,
    register,
    rfc3339,
    session,
    site,
    unique,
)
from tests.support import assert_problem

pytestmark = pytest.mark.system


def _search(api: httpx.Client, host: Host, **query: str) -> list[Json]:
    # In person only: with `near`, sessions without a site (online, other runs' too) follow the walkable ones.
    params = {"near": host.where.query, "walk_minutes": "15", "q": host.title, "mode": "in_person", **query}
    items: list[Json] = ok(api.get("/v1/search/sessions", params=params))["items"]
    return items


def _availability(api: httpx.Client, session_id: str) -> Json:
    return ok(api.get(f"/v1/availability/{session_id}"))


def test_find_book_wait_promote_check_in_and_learn(api: httpx.Client) -> None:
    host = Host.open(api)
    workshop = host.session(api, capacity=1)
    # A second site 2 km north (27 minutes' walk) offers the same workshop: outside the 15-minute circle.
    far_place = site(api, host.owner, host.org, host.where.north(2000), unique("Hillside Library"))
    far_offering = activity(api, host.owner, host.org, far_place, host.title + " (hillside)")
    far_session = session(api, host.owner, far_offering, capacity=5)

    # Sites and sessions within a 15-minute walk, nearest first, with distance and walking time.
    sites = ok(api.get("/v1/sites", params={"near": host.where.query, "walk_minutes": "15"}))["items"]
    assert sites[0]["id"] == host.place["id"]
    assert sites[0]["distance_m"] < 1 and sites[0]["walk_minutes"] <= 1
    assert far_place["id"] not in [s["id"] for s in sites]
    found = _search(api, host)
    assert [item["session"]["id"] for item in found] == [workshop["id"]]
    [item] = found
    assert item["activity"]["id"] == host.offering["id"] and item["site"]["id"] == host.place["id"]
    assert item["walk_minutes"] == max(0, math.ceil(item["distance_m"] / 75))
    assert item["seats_available"] == 1
    wider = _search(api, host, walk_minutes="40")
    assert {i["session"]["id"] for i in wider} == {workshop["id"], far_session["id"]}

    # The one seat goes to Ana; Ben is waitlisted; a retry with the same key is the same booking.
    ana, ben = register(api, "ana"), register(api, "ben")
    key = unique("key")
    first = created(book(api, ana, workshop["id"], key))
    assert first["status"] == "confirmed" and first["seats"] == 1 and first["checkin_code"]
    retried = book(api, ana, workshop["id"], key)
    assert retried.status_code in (200, 201) and retried.json()["id"] == first["id"]
    assert_problem(book(api, ana, workshop["id"]), 409)  # one active booking per person and session
    waiting = created(book(api, ben, workshop["id"]))
    assert waiting["status"] == "waitlisted" and waiting["waitlist_position"] == 1
    assert _availability(api, workshop["id"]) == {
        "session_id": workshop["id"],
        "capacity": 1,
        "confirmed_seats": 1,
        "seats_available": 0,
        "waitlist_length": 1,
        # No seats kept apart for accessible or online seats in this workshop.
        "accessible_capacity": 0,
        "accessible_available": 0,
        "online_capacity": 0,
        "online_available": 0,
    }
    # Seats taken at booking reach the catalog's search by event.
    eventually(lambda: _search(api, host)[0]["seats_available"], lambda seats: seats == 0)

    # Ana cancels: her seat goes to Ben.
    cancelled = ok(api.post(f"/v1/bookings/{first['id']}/cancel", headers=ana.headers))
    assert cancelled["status"] == "cancelled"
    promoted = eventually(lambda: booking_of(api, ben, waiting["id"]), lambda b: b["status"] == "confirmed")
    assert promoted["checkin_code"]
    assert _availability(api, workshop["id"])["waitlist_length"] == 0
    assert_problem(api.get(f"/v1/bookings/{waiting['id']}", headers=ana.headers), 404)  # not hers

    # The host's staff check Ben in (the window opens an hour before the start), once.
    not_staff = api.post("/v1/checkins", json={"code": promoted["checkin_code"]}, headers=ben.headers)
    assert_problem(not_staff, not_staff.status_code if not_staff.status_code in (403, 404) else 403)
    checkin = ok(api.post("/v1/checkins", json={"code": promoted["checkin_code"]}, headers=host.owner.headers))
    assert checkin["booking_id"] == waiting["id"]
    assert datetime.fromisoformat(checkin["checked_in_at"]).tzinfo is not None
    assert_problem(api.post("/v1/checkins", json={"code": promoted["checkin_code"]}, headers=host.owner.headers), 409)
    assert_problem(api.post("/v1/checkins", json={"code": unique("nope")}, headers=host.owner.headers), 404)

    # The hour Ben attended is on his learning record; Ana has nothing.
    assert _learning(api, ben)["total_minutes"] == 60
    assert _learning(api, ben)["sessions_attended"] == 1
    assert _learning(api, ana)["total_minutes"] == 0


def _learning(api: httpx.Client, person: Citizen) -> Json:
    now = datetime.now(UTC)
    window = {"from": rfc3339(now - timedelta(days=1)), "to": rfc3339(now + timedelta(days=1))}
    return ok(api.get("/v1/learning-records/me", params=window, headers=person.headers))


def test_an_organization_sees_its_members_learning(api: httpx.Client) -> None:
    host = Host.open(api)
    workshop = host.session(api, capacity=3)
    member = register(api, "member")
    created(
        api.post(
            f"/v1/organizations/{host.org['id']}/members",
            json={"email": member.email, "role": "member"},
            headers=host.owner.headers,
        )
    )
    booking = created(book(api, member, workshop["id"]))
    ok(api.post("/v1/checkins", json={"code": booking["checkin_code"]}, headers=host.owner.headers))

    now = datetime.now(UTC)
    window = {"organization_id": host.org["id"], "from": rfc3339(now - timedelta(days=1))}
    window["to"] = rfc3339(now + timedelta(days=1))
    report = ok(api.get("/v1/learning-records", params=window, headers=host.owner.headers))
    rows = [row for row in _dicts(report) if row.get("person_id") == member.id]
    assert rows and rows[0]["total_minutes"] == 60, report
    assert_problem(api.get("/v1/learning-records", params=window, headers=member.headers), 403)


def _dicts(value: object) -> list[Json]:
    """Every object inside a JSON document (the per-member rows, wherever the report nests them)."""
    if isinstance(value, dict):
        return [value, *(d for child in value.values() for d in _dicts(child))]
    if isinstance(value, list):
        return [d for child in value for d in _dicts(child)]
    return []


def test_without_a_token_protected_routes_answer_401(api: httpx.Client) -> None:
    for method, path in [("GET", "/v1/me"), ("GET", "/v1/bookings"), ("GET", "/v1/learning-records/me")]:
        response = api.request(method, path)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
