"""Reports: an organization's learning per member and month (JSON and the same rows as CSV, for its admins),
and for operators, how many organizations of each kind were active."""

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from services.booking.attendance.service import NoShowSweep
from services.booking.models import Checkin
from shared.db import utcnow
from shared.ids import new_id
from tests.booking.conftest import CatalogStandIn, Mint, Organization, book, minutes_from_now, organization
from tests.support import Person, assert_problem, new_email, register_and_login

REPORT = "/v1/learning-records"
ACTIVITY = "/v1/learning-records/organizations-activity"
CSV_COLUMNS = [
    "person_id",
    "display_name",
    "role",
    "month",
    "total_minutes",
    "minutes_at_organization",
    "minutes_elsewhere",
    "sessions_attended",
    "no_shows",
]
# A display name a spreadsheet would run as a formula.
FORMULA_NAME = '=HYPERLINK("http://evil.example","click")'


async def join(client: httpx.AsyncClient, org: Organization, display_name: str) -> Person:
    person = await register_and_login(client, new_email("resident"), display_name=display_name)
    added = await client.post(
        f"/v1/organizations/{org.id}/members",
        json={"email": person.email, "role": "member"},
        headers=org["owner"].headers,
    )
    assert added.status_code == 201, added.text
    return person


async def attend(
    client: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    catalog: CatalogStandIn,
    host: Organization,
    person: Person,
    *,
    minutes: int,
    kind: str,
    started: datetime,
) -> None:
    """Attend a session of `host` (checked in by its coordinator), then date the record to `started`: a
    check-in can only happen around the session, so the past is written directly."""
    starts_at = minutes_from_now(30)
    session = await catalog.schedule(
        host_org_id=host.id, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes), kind=kind
    )
    response = await book(client, person, session.session_id)
    assert response.status_code == 201, response.text
    booking = response.json()
    checkin = await client.post(
        "/v1/checkins", json={"code": booking["checkin_code"]}, headers=host["coordinator"].headers
    )
    assert checkin.status_code == 200, checkin.text
    async with apps["booking"].state.database.sessionmaker.begin() as db:
        await db.execute(update(Checkin).where(Checkin.booking_id == UUID(booking["id"])).values(starts_at=started))


async def miss(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, person: Person, *, started: datetime
) -> None:
    session = await catalog.schedule()
    assert (await book(client, person, session.session_id)).status_code == 201
    await catalog.update(session, starts_at=started, ends_at=started + timedelta(minutes=90))
    state = apps["booking"].state
    sweep = NoShowSweep(state.database, state.outbox, state.bookings_entered, state.settings)
    # Long past the no-show window: swept only when asked to look that far back.
    assert (await sweep.run_once(ended_after=started)).marked == 1


async def whole_report(client: httpx.AsyncClient, org: Organization, person: Person, **params: str) -> list[Any]:
    """Every page of the JSON report (two members a page)."""
    items: list[Any] = []
    cursor = None
    while True:
        query = {"organization_id": org.id, "limit": "2", **params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(REPORT, params=query, headers=person.headers)
        assert response.status_code == 200, response.text
        assert response.headers["vary"] == "Accept"
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items


def flattened(items: list[Any]) -> list[list[str]]:
    """The JSON report as the CSV rows it must equal: a row per member and month, or one empty-month row of
    zeros; text a spreadsheet would run as a formula starts with an apostrophe."""

    def cell(value: Any) -> str:
        text = str(value)
        return "'" + text if text.startswith(("=", "+", "-", "@")) else text

    rows = []
    for item in items:
        who = [item["person_id"], item["display_name"], item["role"]]
        months = item["months"] or [
            {
                "month": "",
                "total_minutes": 0,
                "minutes_at_organization": 0,
                "minutes_elsewhere": 0,
                "sessions_attended": 0,
                "no_shows": 0,
            }
        ]
        for month in months:
            rows.append([cell(value) for value in who + [month[column] for column in CSV_COLUMNS[3:]]])
    return rows


async def test_organization_report_by_month_and_as_csv(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    org = await organization(client, roles=("admin", "coordinator", "member"))
    elsewhere = await organization(client, roles=("coordinator",))
    xiaoming = await join(client, org, "王小明")
    mischief = await join(client, org, FORMULA_NAME)
    # 2025-03-31T16:30Z is 00:30 on April 1 in Hangzhou: the city's month, not UTC's.
    await attend(
        client,
        apps,
        catalog,
        org,
        xiaoming,
        minutes=60,
        kind="lecture",
        started=datetime(2025, 3, 31, 16, 30, tzinfo=UTC),
    )
    await attend(
        client,
        apps,
        catalog,
        elsewhere,
        xiaoming,
        minutes=45,
        kind="reading",
        started=datetime(2025, 4, 10, 2, tzinfo=UTC),
    )
    await attend(
        client,
        apps,
        catalog,
        elsewhere,
        xiaoming,
        minutes=30,
        kind="reading",
        started=datetime(2025, 5, 3, 2, tzinfo=UTC),
    )
    await miss(client, apps, catalog, xiaoming, started=datetime(2025, 2, 28, 17, tzinfo=UTC))  # March 1 in Hangzhou
    await attend(
        client, apps, catalog, org, mischief, minutes=90, kind="workshop", started=datetime(2025, 4, 2, 2, tzinfo=UTC)
    )
    await attend(client, apps, catalog, elsewhere, mint(), minutes=90, kind="reading", started=utcnow())  # no member

    items = await whole_report(client, org, org["admin"])
    assert [item["person_id"] for item in items] == sorted(
        {p.id for p in org.people.values()} | {xiaoming.id, mischief.id}
    )
    report = {item["person_id"]: item for item in items}
    assert report[xiaoming.id] == {
        "person_id": xiaoming.id,
        "display_name": "王小明",
        "role": "member",
        "total_minutes": 135,
        "sessions_attended": 3,
        "by_kind": {"lecture": 60, "reading": 75},
        "minutes_at_organization": 60,
        "minutes_elsewhere": 75,
        "no_shows": 1,
        "months": [
            {
                "month": "2025-03",
                "total_minutes": 0,
                "minutes_at_organization": 0,
                "minutes_elsewhere": 0,
                "sessions_attended": 0,
                "no_shows": 1,
            },
            {
                "month": "2025-04",
                "total_minutes": 105,
                "minutes_at_organization": 60,
                "minutes_elsewhere": 45,
                "sessions_attended": 2,
                "no_shows": 0,
            },
            {
                "month": "2025-05",
                "total_minutes": 30,
                "minutes_at_organization": 0,
                "minutes_elsewhere": 30,
                "sessions_attended": 1,
                "no_shows": 0,
            },
        ],
    }
    assert report[mischief.id]["display_name"] == FORMULA_NAME
    assert report[mischief.id]["minutes_at_organization"] == 90
    idle = report[org["coordinator"].id]
    assert (idle["role"], idle["total_minutes"], idle["no_shows"], idle["months"]) == ("coordinator", 0, 0, [])

    # `from`/`to` bound the sessions' starts, no-shows included (April 1 00:00 in Hangzhou onwards).
    april = await whole_report(client, org, org["admin"], **{"from": "2025-04-01T00:00:00+08:00"})
    narrowed = {item["person_id"]: item for item in april}[xiaoming.id]
    assert [m["month"] for m in narrowed["months"]] == ["2025-04", "2025-05"]
    assert (narrowed["no_shows"], narrowed["total_minutes"]) == (0, 135)
    may = await whole_report(client, org, org["admin"], to="2025-05-01T00:00:00+08:00")
    assert {item["person_id"]: item for item in may}[xiaoming.id]["total_minutes"] == 105

    # The same report as CSV: every member in one document, row for row the JSON.
    response = await client.get(
        REPORT, params={"organization_id": org.id}, headers={**org["admin"].headers, "Accept": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["vary"] == "Accept"
    assert response.headers["content-disposition"] == f'attachment; filename="learning-records-{org.id}.csv"'
    assert response.content.startswith("\ufeff".encode())  # so Excel reads UTF-8
    parsed = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert parsed[0] == CSV_COLUMNS
    assert parsed[1:] == flattened(items)
    assert len(parsed) - 1 == len(items) + 2  # 王小明 has three months, everyone else one row
    assert next(row for row in parsed if row[0] == mischief.id)[1] == "'" + FORMULA_NAME
    assert response.text.count("\r\n") == len(parsed)
    # The range applies to the CSV too.
    narrowed_csv = await client.get(
        REPORT,
        params={"organization_id": org.id, "from": "2025-04-01T00:00:00+08:00"},
        headers={**org["owner"].headers, "Accept": "text/csv"},
    )
    assert list(csv.reader(io.StringIO(narrowed_csv.content.decode("utf-8-sig"))))[1:] == flattened(april)

    # JSON unless CSV is preferred.
    for accept in ("*/*", "application/json", "text/csv;q=0.5, application/json", "text/html"):
        answer = await client.get(
            REPORT, params={"organization_id": org.id}, headers={**org["admin"].headers, "Accept": accept}
        )
        assert answer.headers["content-type"] == "application/json", accept
    preferred = await client.get(
        REPORT,
        params={"organization_id": org.id},
        headers={**org["admin"].headers, "Accept": "application/json;q=0.4, text/*"},
    )
    assert preferred.headers["content-type"].startswith("text/csv")


async def test_organization_report_is_for_its_admins_and_operators(client: httpx.AsyncClient, mint: Mint) -> None:
    org = await organization(client, roles=("admin", "coordinator", "member"))
    params = {"organization_id": org.id}
    for person in (org["coordinator"], org["member"], mint()):
        for accept in ("application/json", "text/csv"):
            assert_problem(await client.get(REPORT, params=params, headers={**person.headers, "Accept": accept}), 403)
    for person in (org["admin"], org["owner"], mint(roles=["operator"])):
        assert (await client.get(REPORT, params=params, headers=person.headers)).status_code == 200
    unknown = {"organization_id": str(new_id())}
    operator = mint(roles=["operator"])
    for accept in ("application/json", "text/csv"):
        assert_problem(await client.get(REPORT, params=unknown, headers={**operator.headers, "Accept": accept}), 404)
    assert_problem(await client.get(REPORT, params=params), 401)
    assert_problem(await client.get(REPORT, params={**params, "limit": "101"}, headers=org["admin"].headers), 422)


async def new_organization(client: httpx.AsyncClient, kind: str) -> Organization:
    owner = await register_and_login(client, new_email(kind))
    created = await client.post("/v1/organizations", json={"name": f"A {kind}", "kind": kind}, headers=owner.headers)
    assert created.status_code == 201, created.text
    return Organization(created.json()["id"], {"owner": owner, "coordinator": owner})


async def test_operators_see_active_organizations_per_kind(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    hosting = await new_organization(client, "community")  # hosted a session 10 days ago
    quiet = await new_organization(client, "community")  # its only session in the window was cancelled
    attending = await new_organization(client, "workplace")  # its block was checked in today
    long_ago = await new_organization(client, "school")  # hosted a session 100 days ago
    museum = await new_organization(client, "museum")  # hosts a session that has not started yet
    await new_organization(client, "library")  # nothing at all
    await catalog.schedule(host_org_id=hosting.id, starts_at=utcnow() - timedelta(days=10))
    await catalog.cancel(await catalog.schedule(host_org_id=quiet.id, starts_at=utcnow() - timedelta(days=5)))
    await catalog.schedule(host_org_id=long_ago.id, starts_at=utcnow() - timedelta(days=100))
    await catalog.schedule(host_org_id=new_id(), starts_at=utcnow() - timedelta(days=1))  # unknown to orgs
    visit = await catalog.schedule(host_org_id=museum.id, starts_at=minutes_from_now(30))
    block = await book(client, attending["owner"], visit.session_id, seats=3, organization_id=attending.id)
    assert block.status_code == 201, block.text
    checkin = await client.post(
        "/v1/checkins", json={"code": block.json()["checkin_code"]}, headers=museum["owner"].headers
    )
    assert checkin.status_code == 200, checkin.text

    operator = mint(roles=["operator"])

    async def activity(**params: int) -> dict[str, tuple[int, int, float]]:
        response = await client.get(ACTIVITY, params=params, headers=operator.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["days"] == params.get("days", 90)
        since = datetime.fromisoformat(body["since"])
        assert abs(since - (utcnow() - timedelta(days=body["days"]))) < timedelta(minutes=1)
        return {item["kind"]: (item["organizations"], item["active"], item["share_active"]) for item in body["items"]}

    quarter = await activity()
    assert quarter == {
        "community": (2, 1, 0.5),
        "workplace": (1, 1, 1.0),
        "school": (1, 0, 0.0),
        "library": (1, 0, 0.0),
        "museum": (1, 0, 0.0),
        "cultural_center": (0, 0, 0.0),
        "enterprise": (0, 0, 0.0),
        "nonprofit": (0, 0, 0.0),
        "government": (0, 0, 0.0),
    }
    assert list(quarter)[:2] == ["community", "workplace"]  # the contract's order of kinds
    assert (await activity(days=120))["school"] == (1, 1, 1.0)
    assert (await activity(days=5))["community"] == (2, 0, 0.0)
    # The block's check-in 100 days ago would not count in the last 90.
    async with apps["booking"].state.database.sessionmaker.begin() as db:
        await db.execute(update(Checkin).values(checked_in_at=utcnow() - timedelta(days=100)))
    assert (await activity())["workplace"] == (1, 0, 0.0)

    for person in (hosting["owner"], mint()):
        assert_problem(await client.get(ACTIVITY, headers=person.headers), 403)
    assert_problem(await client.get(ACTIVITY), 401)
    for days in ("0", "367", "ninety"):
        assert_problem(await client.get(ACTIVITY, params={"days": days}, headers=operator.headers), 422)
