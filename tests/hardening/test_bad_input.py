"""Hostile input on every service ends as a clear 4xx problem, never a 500, and changes nothing: NUL bytes
(JSON, form, query), huge integers, oversized strings and bodies, malformed UUIDs and dates, forged cursors."""

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.orgs.models import Person as PersonRow
from shared.ids import new_id
from tests.support import Person, assert_problem, new_email

HUGE = 10**30
MALFORMED_UUIDS = ("not-a-uuid", "1234", "01936f4e-8a2b-7c3d-9e4f-5a6b7c8d9e0", "%00", "' OR 1=1 --")
MALFORMED_TIMES = ("2027-02-30T10:00:00+08:00", "tomorrow", "2027-03-02T25:00:00Z", "99999-01-01T00:00:00Z", "1e308")
BIG_BODY = b'{"name": "' + b"x" * 1_100_000 + b'"}'


def forged_cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).rstrip(b"=").decode()


# Well-formed cursors (base64 of a JSON list) carrying the wrong types for any keyset here.
FORGED_CURSORS = [forged_cursor(v) for v in ([5], [[1]], [{"a": 1}], [True], ["x"], [None], [{"t": "2020-01-01"}])]
FORGED_CURSORS += [forged_cursor(v) for v in ([{"u": str(new_id())}, 5], [1.5, {"u": "zz"}], [{"t": "x"}, 1])]


@pytest.fixture
async def owner(apps: dict[str, FastAPI], client: httpx.AsyncClient) -> tuple[Person, str]:
    """A person (account inserted directly, minted token) who owns an organization."""
    person_id, email = new_id(), new_email("bad")
    async with apps["orgs"].state.database.sessionmaker.begin() as session:
        session.add(PersonRow(id=person_id, email=email, display_name="B", password_hash="!", roles=[]))
    token, _ = apps["orgs"].state.signing_keys.issue_access_token(person_id, [])
    person = Person(id=str(person_id), email=email, token=token)
    created = await client.post("/v1/organizations", json={"name": "Org", "kind": "school"}, headers=person.headers)
    assert created.status_code == 201, created.text
    return person, created.json()["id"]


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


async def _activity(client: httpx.AsyncClient, person: Person, org_id: str) -> str:
    body = {"title": "T", "kind": "lecture", "host_org_id": org_id}
    response = await client.post("/v1/activities", json=body, headers=person.headers)
    assert response.status_code == 201, response.text
    activity_id: str = response.json()["id"]
    return activity_id


def _bodies(org_id: str, activity_id: str) -> dict[str, dict[str, Any]]:
    """A valid body per create route; each test spoils one field."""
    return {
        "/v1/organizations": {"name": "Org", "kind": "school"},
        "/v1/sites": {
            "name": "S",
            "kind": "museum",
            "location": {"lat": 30.2, "lon": 120.1},
            "address": "B",
            "owner_org_id": org_id,
        },
        "/v1/activities": {"title": "T", "kind": "lecture", "host_org_id": org_id},
        f"/v1/activities/{activity_id}/sessions": {"starts_at": in_days(2), "ends_at": in_days(2.1), "capacity": 5},
        "/v1/series": {
            "name": "F",
            "kind": "course",
            "starts_on": "2027-01-01",
            "ends_on": "2027-02-01",
            "organizer_org_id": org_id,
        },
        "/v1/bookings": {"session_id": str(new_id())},
        "/v1/checkins": {"code": "abc"},
    }


SPOILERS: dict[str, tuple[str, Any]] = {
    "/v1/organizations": ("name", "x\x00y"),
    "/v1/sites": ("address", "a\x00"),
    "/v1/activities": ("title", {"en": "\x00"}),
    "/sessions": ("capacity", HUGE),
    "/v1/series": ("description", {"zh-CN": "d", "en\x00": "e"}),
    "/v1/bookings": ("seats", HUGE),
    "/v1/checkins": ("code", "\x00"),
}


async def _post(client: httpx.AsyncClient, person: Person, path: str, body: Any) -> httpx.Response:
    headers = {**person.headers, "Idempotency-Key": str(new_id())}
    return await client.post(path, json=body, headers=headers)


async def test_nul_bytes_huge_integers_and_oversized_strings_in_bodies_are_422(
    client: httpx.AsyncClient, owner: tuple[Person, str]
) -> None:
    person, org_id = owner
    activity_id = await _activity(client, person, org_id)
    for path, body in _bodies(org_id, activity_id).items():
        field, bad = SPOILERS["/sessions" if path.endswith("/sessions") else path]
        for spoiled in (bad, "x" * 100_000, HUGE, -HUGE, 1e308, [1] * 10_000, {"deep": [[[[["x"]]]]]}):
            if spoiled is bad or field not in ("seats", "capacity") or not isinstance(spoiled, int):
                response = await _post(client, person, path, body | {field: spoiled})
                problem = assert_problem(response, 422)
                assert problem["errors"], problem
        huge_key = body | {"x" * 10_000: 1}
        assert_problem(await _post(client, person, path, huge_key), 422)


@pytest.mark.parametrize(
    "path", ["/v1/organizations", "/v1/sites", "/v1/activities", "/v1/series", "/v1/bookings", "/v1/auth/register"]
)
async def test_bodies_over_the_cap_are_413_streamed_or_declared(
    client: httpx.AsyncClient, owner: tuple[Person, str], path: str
) -> None:
    person, _ = owner
    headers = {**person.headers, "content-type": "application/json", "Idempotency-Key": "k"}
    assert_problem(await client.post(path, content=BIG_BODY, headers=headers), 413)

    async def chunks() -> Any:  # no Content-Length: the cap holds while the body streams in
        for _ in range(40):
            yield b"x" * 50_000

    assert_problem(await client.post(path, content=chunks(), headers=headers), 413)


async def test_unparseable_bodies_are_4xx(client: httpx.AsyncClient, owner: tuple[Person, str]) -> None:
    person, _ = owner
    headers = {**person.headers, "content-type": "application/json", "Idempotency-Key": "k"}
    for path in ("/v1/organizations", "/v1/sites", "/v1/bookings", "/v1/auth/register"):
        for raw in (b"\xff\xfe\x00", b"{", b"[]", b"null", b'"text"', b'{"a": NaN}'):
            response = await client.post(path, content=raw, headers=headers)
            assert response.status_code in (400, 422), (path, raw, response.status_code)
            assert_problem(response, response.status_code)


async def test_nul_in_query_and_form_is_422(client: httpx.AsyncClient, owner: tuple[Person, str]) -> None:
    person, _ = owner
    for path in ("/v1/organizations", "/v1/sites", "/v1/search/sessions", "/v1/bookings", "/v1/learning-records/me"):
        assert_problem(await client.get(path, params={"q": "a\x00b"}, headers=person.headers), 422)
    form = {"username": "a\x00@example.org", "password": "p\x00"}
    assert_problem(await client.post("/v1/auth/token", data=form), 422)


PATHS_WITH_IDS = (
    "/v1/organizations/{id}",
    "/v1/organizations/{id}/members",
    "/v1/people/{id}",
    "/v1/sites/{id}",
    "/v1/activities/{id}",
    "/v1/activities/{id}/sessions",
    "/v1/sessions/{id}",
    "/v1/series/{id}",
    "/v1/bookings/{id}",
    "/v1/availability/{id}",
)


async def test_malformed_uuids_in_paths_queries_and_bodies_are_422(
    client: httpx.AsyncClient, owner: tuple[Person, str]
) -> None:
    person, _ = owner
    for bad in MALFORMED_UUIDS:
        for template in PATHS_WITH_IDS:
            response = await client.get(template.format(id=bad), headers=person.headers)
            assert response.status_code in (404, 422), (template, bad, response.status_code)
            assert_problem(response, response.status_code)
        for path, name in (("/v1/bookings", "session_id"), ("/v1/search/sessions", "series_id")):
            assert_problem(await client.get(path, params={name: bad}, headers=person.headers), 422)
        assert_problem(await _post(client, person, "/v1/bookings", {"session_id": bad}), 422)
        assert_problem(
            await client.get("/v1/learning-records", params={"organization_id": bad}, headers=person.headers), 422
        )


async def test_malformed_dates_are_422(client: httpx.AsyncClient, owner: tuple[Person, str]) -> None:
    person, org_id = owner
    activity_id = await _activity(client, person, org_id)
    for bad in MALFORMED_TIMES:
        body = {"starts_at": bad, "ends_at": in_days(3), "capacity": 5}
        assert_problem(await _post(client, person, f"/v1/activities/{activity_id}/sessions", body), 422)
        assert_problem(await client.get("/v1/search/sessions", params={"from": bad}), 422)
        assert_problem(await client.get("/v1/learning-records/me", params={"to": bad}, headers=person.headers), 422)
    series = _bodies(org_id, activity_id)["/v1/series"] | {"starts_on": "2027-13-01"}
    assert_problem(await _post(client, person, "/v1/series", series), 422)
    listed = await client.get(f"/v1/activities/{activity_id}/sessions")
    assert listed.json()["items"] == [], "a refused request created something"


async def test_huge_and_out_of_range_numbers_in_queries_are_422(client: httpx.AsyncClient) -> None:
    for path, params in (
        ("/v1/sites", {"limit": str(HUGE)}),
        ("/v1/sites", {"limit": "0"}),
        ("/v1/sites", {"limit": "101"}),
        ("/v1/sites", {"near": f"{HUGE},{HUGE}"}),
        ("/v1/sites", {"near": "30.2,120.1", "walk_minutes": str(HUGE)}),
        ("/v1/search/sessions", {"near": "nan,nan"}),
        ("/v1/search/sessions", {"near": "inf,-inf"}),
        ("/v1/coverage", {"bbox": "0,0,180,90", "cell_m": "100"}),
        ("/v1/coverage", {"bbox": f"{HUGE},0,1,1", "cell_m": "100"}),
        ("/v1/organizations", {"limit": "-1"}),
    ):
        assert_problem(await client.get(path, params=params), 422)


async def test_forged_cursors_are_422_on_every_list(client: httpx.AsyncClient, owner: tuple[Person, str]) -> None:
    person, org_id = owner
    activity_id = await _activity(client, person, org_id)
    lists = (
        "/v1/organizations",
        f"/v1/organizations/{org_id}/members",
        "/v1/sites",
        "/v1/search/sessions",
        f"/v1/activities/{activity_id}/sessions",
        "/v1/bookings",
        "/v1/learning-records/me",
        "/v1/learning-records",
    )
    for path in lists:
        for cursor in [*FORGED_CURSORS, "0", "A" * 512]:
            params = (
                {"cursor": cursor, "organization_id": org_id} if path == "/v1/learning-records" else {"cursor": cursor}
            )
            response = await client.get(path, params=params, headers=person.headers)
            assert response.status_code == 422, (path, cursor, response.status_code, response.text)
            assert_problem(response, 422)
    near = await client.get("/v1/sites", params={"near": "30.2,120.1", "cursor": FORGED_CURSORS[0]})
    assert_problem(near, 422)
