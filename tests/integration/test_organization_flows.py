"""Learning organizations that work (issue 14), end to end through the gateway of a running `learncity up`:
an admin invites residents by email (some register through the link), a coordinator books seats for five
named members, host staff check three of them in, the other two become no-shows after the grace period, and
the organization's report (JSON and CSV) tells who learned what; a reassigned seat moves its code, and a
cancelled line hands its seat to the waitlist exactly once.

This module runs its own `learncity up` with its own mail sink (the invitations travel only by mail) and a
no-show grace period of one second, swept every second."""

import csv
import email
import email.policy
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from learncity.mailsink import running_sink
from tests.integration.city import (
    Citizen,
    Host,
    Json,
    book,
    created,
    eventually,
    ok,
    organization,
    register,
    rfc3339,
    unique,
)
from tests.live import free_port, learncity_up
from tests.support import PASSWORD, assert_problem
from tests.test_learncity_up import _free_base_port

pytestmark = pytest.mark.system

TOKEN_IN_LINK = re.compile(r"token=([A-Za-z0-9_-]{20,})")


@dataclass
class City:
    base_url: str
    mail_dir: Path

    def invitation_token(self, address: str) -> str:
        """The token of the newest invitation mailed to `address` (it travels only by mail)."""

        def tokens() -> list[str]:
            found = []
            for path in sorted(self.mail_dir.glob("*.eml")):
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                assert isinstance(message, EmailMessage)
                if address in str(message["To"]):
                    body = message.get_body(("plain",))
                    assert isinstance(body, EmailMessage)
                    found += TOKEN_IN_LINK.findall(body.get_content())
            return found

        return eventually(tokens, bool)[-1]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    folder = tmp_path_factory.mktemp("organizations-city")
    mail_dir = folder / "mail"
    with running_sink(mail_dir, port=free_port()) as sink:
        environment = {
            "NOTIFY_SMTP_URL": sink.smtp_url,
            "BOOKING_NO_SHOW_GRACE_S": "1",
            "BOOKING_NO_SHOW_SWEEP_INTERVAL_S": "1",
        }
        with learncity_up(folder, _free_base_port(), environment) as base_url:
            yield City(base_url, mail_dir)


@pytest.fixture
def api(city: City) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=city.base_url, timeout=30) as client:
        yield client


def sign_in(api: httpx.Client, person_id: str, address: str) -> Citizen:
    token = ok(api.post("/v1/auth/token", data={"username": address, "password": PASSWORD}))
    return Citizen(person_id, address, {"Authorization": f"Bearer {token['access_token']}"})


def invite(api: httpx.Client, city: City, admin: Citizen, org: Json, address: str, role: str) -> str:
    invitation = created(
        api.post(
            f"/v1/organizations/{org['id']}/invitations", json={"email": address, "role": role}, headers=admin.headers
        )
    )
    assert set(invitation) >= {"id", "email", "role", "expires_at"} and "token" not in invitation
    return city.invitation_token(address)


def community_with_members(api: httpx.Client, city: City, count: int) -> tuple[Json, Citizen, Citizen, list[Citizen]]:
    """A community organization whose coordinator and `count` members all joined by invitation: the first
    two members registered through the link, the others had accounts and accepted it."""
    owner = register(api, "community-owner")
    org = organization(api, owner, kind="community")
    coordinator = register(api, "coordinator")
    token = invite(api, city, owner, org, coordinator.email, "coordinator")
    ok(api.post("/v1/organizations/invitations/accept", json={"token": token}, headers=coordinator.headers))
    members = []
    for index in range(count):
        if index < 2:
            address = f"{unique('resident')}@example.org"
            token = invite(api, city, owner, org, address, "member")
            body = {
                "email": address,
                "password": PASSWORD,
                "display_name": f"Resident {index}",
                "invitation_token": token,
            }
            person = created(api.post("/v1/auth/register", json=body))
            members.append(sign_in(api, person["id"], address))
        else:
            member = register(api, f"member-{index}")
            token = invite(api, city, owner, org, member.email, "member")
            ok(api.post("/v1/organizations/invitations/accept", json={"token": token}, headers=member.headers))
            members.append(member)
    roles = {
        item["person_id"]: item["role"]
        for item in ok(api.get(f"/v1/organizations/{org['id']}/members", params={"limit": 100}, headers=owner.headers))[
            "items"
        ]
    }
    assert roles[coordinator.id] == "coordinator"
    assert all(roles[member.id] == "member" for member in members)
    return org, owner, coordinator, members


def short_session(api: httpx.Client, host: Host, *, capacity: int, starts_in_s: int, minutes: int) -> Json:
    starts = datetime.now(UTC) + timedelta(seconds=starts_in_s)
    body = {"starts_at": rfc3339(starts), "ends_at": rfc3339(starts + timedelta(minutes=minutes)), "capacity": capacity}
    items = created(api.post(f"/v1/activities/{host.offering['id']}/sessions", json=body, headers=host.owner.headers))
    only: Json = items["items"][0]
    return only


def book_for_members(
    api: httpx.Client, coordinator: Citizen, org: Json, session_id: str, members: list[Citizen], *, seats: int
) -> Json:
    body = {"session_id": session_id, "seats": seats, "organization_id": org["id"], "members": [m.id for m in members]}
    headers = {**coordinator.headers, "Idempotency-Key": unique("key")}
    return created(api.post("/v1/bookings", json=body, headers=headers))


def own_line(api: httpx.Client, member: Citizen, session_id: str) -> Json:
    items = ok(api.get("/v1/bookings", params={"session_id": session_id}, headers=member.headers))["items"]
    assert len(items) == 1, items
    line: Json = items[0]
    assert line["person_id"] == member.id
    return line


def status_of(api: httpx.Client, person: Citizen, booking_id: str) -> str:
    status: str = ok(api.get(f"/v1/bookings/{booking_id}", headers=person.headers))["status"]
    return status


def minutes_of(api: httpx.Client, person: Citizen) -> int:
    minutes: int = ok(api.get("/v1/learning-records/me", headers=person.headers))["total_minutes"]
    return minutes


def test_an_invitation_is_single_use(api: httpx.Client, city: City) -> None:
    owner = register(api, "owner")
    org = organization(api, owner, kind="workplace")
    first, second = register(api, "first"), register(api, "second")
    token = invite(api, city, owner, org, first.email, "member")
    assert (
        ok(api.post("/v1/organizations/invitations/accept", json={"token": token}, headers=first.headers))["role"]
        == "member"
    )
    reused = api.post("/v1/organizations/invitations/accept", json={"token": token}, headers=second.headers)
    assert_problem(reused, 410)


def test_seats_for_named_members_check_in_no_show_and_report(api: httpx.Client, city: City) -> None:
    host = Host.open(api)
    org, owner, coordinator, members = community_with_members(api, city, 5)
    # Short enough to end within the test: check-in is open from an hour before the start to the end.
    reading = short_session(api, host, capacity=20, starts_in_s=20, minutes=1)
    block = book_for_members(api, coordinator, org, reading["id"], members, seats=5)
    assert block["status"] == "confirmed" and block["seats"] == 5
    assert block["unassigned_seats"] == 0 and len(block["lines"]) == 5

    lines = [own_line(api, member, reading["id"]) for member in members]
    codes = [line["checkin_code"] for line in lines]
    assert len(set(codes)) == 5 and block.get("checkin_code") not in codes
    # A member never sees another member's line.
    assert_problem(api.get(f"/v1/bookings/{lines[1]['id']}", headers=members[0].headers), 404)

    before = {member.id: minutes_of(api, member) for member in members}
    coordinator_before = minutes_of(api, coordinator)
    for code in codes[:3]:
        ok(api.post("/v1/checkins", json={"code": code}, headers=host.owner.headers))
    for member in members[:3]:
        assert minutes_of(api, member) == before[member.id] + 1
    assert minutes_of(api, coordinator) == coordinator_before

    # The session ends a minute after it starts; one second of grace later the absent two are no-shows.
    ends_at = datetime.fromisoformat(reading["ends_at"])
    time.sleep(max(0.0, (ends_at - datetime.now(UTC)).total_seconds()))
    for member, line in zip(members[3:], lines[3:], strict=True):
        eventually(partial(status_of, api, member, line["id"]), lambda status: status == "no_show", timeout_s=15)
        record = ok(api.get("/v1/learning-records/me", headers=member.headers))
        assert record["standing"]["no_shows"] == 1
        assert record["total_minutes"] == before[member.id]
    for member, line in zip(members[:3], lines[:3], strict=True):
        assert ok(api.get(f"/v1/bookings/{line['id']}", headers=member.headers))["status"] == "confirmed"

    # The organization's report: JSON and CSV agree row for row; the three attended at the host (not at the
    # organization itself), the two absent are counted as no-shows.
    json_rows = report_rows(api, org, owner)
    assert json_rows == csv_rows(api, org, owner)
    attended = {row["person_id"]: row for row in json_rows if row["month"]}
    for member in members[:3]:
        row = attended[member.id]
        assert (row["minutes_elsewhere"], row["minutes_at_organization"], row["sessions_attended"]) == ("1", "0", "1")
    for member in members[3:]:
        assert attended[member.id]["no_shows"] == "1" and attended[member.id]["total_minutes"] == "0"


REPORT_COLUMNS = (
    "person_id",
    "display_name",
    "role",
    "month",
    "total_minutes",
    "minutes_at_organization",
    "minutes_elsewhere",
    "sessions_attended",
    "no_shows",
)


def report_rows(api: httpx.Client, org: Json, admin: Citizen) -> list[dict[str, str]]:
    """The JSON report flattened to a row per (member, month), every page, as text like the CSV's cells."""
    rows: list[dict[str, str]] = []
    params: dict[str, Any] = {"organization_id": org["id"], "limit": 2}
    while True:
        page = ok(api.get("/v1/learning-records", params=params, headers=admin.headers))
        for member in page["items"]:
            who = {"person_id": member["person_id"], "display_name": member["display_name"], "role": member["role"]}
            months = member["months"] or [dict.fromkeys(REPORT_COLUMNS[4:], 0) | {"month": ""}]
            rows += [{**who, **{column: str(month[column]) for column in REPORT_COLUMNS[3:]}} for month in months]
        if page["next_cursor"] is None:
            return sorted(rows, key=lambda row: (row["person_id"], row["month"]))
        params["cursor"] = page["next_cursor"]


def csv_rows(api: httpx.Client, org: Json, admin: Citizen) -> list[dict[str, str]]:
    response = api.get(
        "/v1/learning-records", params={"organization_id": org["id"]}, headers={**admin.headers, "Accept": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))
    assert tuple(reader.fieldnames or ()) == REPORT_COLUMNS
    return sorted(reader, key=lambda row: (row["person_id"], row["month"]))


def test_a_reassigned_seat_moves_the_code_and_a_cancelled_line_promotes_one(api: httpx.Client, city: City) -> None:
    host = Host.open(api)
    org, _, coordinator, members = community_with_members(api, city, 3)
    workshop = short_session(api, host, capacity=3, starts_in_s=1800, minutes=60)
    block = book_for_members(api, coordinator, org, workshop["id"], members[:2], seats=3)
    assert block["unassigned_seats"] == 1
    first_line = own_line(api, members[0], workshop["id"])
    moved = ok(
        api.post(
            f"/v1/bookings/{first_line['id']}/reassign", json={"person_id": members[2].id}, headers=coordinator.headers
        )
    )
    new_line = own_line(api, members[2], workshop["id"])
    assert moved["id"] == new_line["id"] and new_line["checkin_code"] != first_line["checkin_code"]
    assert ok(api.get(f"/v1/bookings/{first_line['id']}", headers=members[0].headers))["status"] == "cancelled"
    assert_problem(api.post("/v1/checkins", json={"code": first_line["checkin_code"]}, headers=host.owner.headers), 404)

    walk_ins = [register(api, f"walk-in-{index}") for index in range(2)]
    waiting = [created(book(api, person, workshop["id"])) for person in walk_ins]
    assert [w["status"] for w in waiting] == ["waitlisted", "waitlisted"]
    ok(api.post(f"/v1/bookings/{new_line['id']}/cancel", headers=members[2].headers))
    statuses = [
        ok(api.get(f"/v1/bookings/{w['id']}", headers=p.headers))["status"]
        for w, p in zip(waiting, walk_ins, strict=True)
    ]
    assert statuses == ["confirmed", "waitlisted"]
    availability = ok(api.get(f"/v1/availability/{workshop['id']}"))
    assert availability["confirmed_seats"] == 3 and availability["waitlist_length"] == 1
    assert ok(api.get(f"/v1/bookings/{block['id']}", headers=coordinator.headers))["seats"] == 2
