"""Citizens are told (issue 13), end to end through the gateway of a running `learncity up`: notices in the
inbox and by mail over real SMTP, exactly once whatever the redelivery or the number of notify processes,
reminders that follow a moved session, the calendar feed, the check-in QR image, and the person's data
exported then erased from every schema.

This module runs its own `learncity up` on a database of the test server (so the tests can read every schema
with SQL), with mail going to an SMTP sink of its own and reminders one minute before a session, plus a
second notify process (`learncity serve notify`) on the same database."""

import asyncio
import email
import email.policy
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import icalendar
import pytest

from learncity.mailsink import running_sink
from learncity.postgres import ensure_database
from shared.clients import INTERNAL_SECRET_HEADER
from shared.db import driver_url
from shared.settings import DEV_INTERNAL_SECRET
from shared.topology import SERVICES, default_ports
from tests.booking.qr import decode_qr_svg
from tests.integration.city import Citizen, Host, book, created, eventually, ok, register, rfc3339, session
from tests.live import free_port, learncity_up
from tests.support import PASSWORD, assert_problem
from tests.test_learncity_up import _free_base_port

pytestmark = pytest.mark.system

SHANGHAI = ZoneInfo("Asia/Shanghai")
DATABASE = "learncity_notify_e2e"
# Reminders one minute before a session, so one falls due within a test.
REMINDER_MINUTES = 1


@dataclass
class City:
    base_url: str
    database_url: str
    mail_dir: Path
    replica_url: str

    def mails_to(self, address: str) -> list[EmailMessage]:
        found = []
        for path in sorted(self.mail_dir.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            if address in str(message["To"]):
                found.append(message)
        return found

    def rows_naming(self, *needles: str) -> dict[str, int]:
        """Per table of every service schema, how many rows contain any of `needles` (any column, as text)."""
        return asyncio.run(_rows_naming(self.database_url, needles))


async def _rows_naming(database_url: str, needles: tuple[str, ...]) -> dict[str, int]:
    connection = await asyncpg.connect(driver_url(database_url))
    try:
        tables = await connection.fetch(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[])", list(SERVICES)
        )
        found = {}
        for table in tables:
            name = f'"{table["schemaname"]}"."{table["tablename"]}"'
            count = await connection.fetchval(
                f"SELECT count(*) FROM {name} AS r WHERE r::text ILIKE ANY($1::text[])",
                [f"%{needle}%" for needle in needles],
            )
            if count:
                found[name] = count
        return found
    finally:
        await connection.close()


async def _execute(database_url: str, statement: str, *arguments: Any) -> str:
    connection = await asyncpg.connect(driver_url(database_url))
    try:
        return str(await connection.execute(statement, *arguments))
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def city(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    folder = tmp_path_factory.mktemp("notify-city")
    url, _ = asyncio.run(ensure_database(database_url, DATABASE, recreate=True))
    mail_dir = folder / "mail"
    with running_sink(mail_dir, port=free_port()) as sink:
        port = _free_base_port()
        ports = default_ports(port)
        notify = {
            "NOTIFY_SMTP_URL": sink.smtp_url,
            "NOTIFY_REMINDER_MINUTES_BEFORE": f"[{REMINDER_MINUTES}]",
        }
        with learncity_up(folder, port, {"DATABASE_URL": url, **notify}) as base_url:
            # A second notify process on the same database: its reminder and mail workers race the first's.
            replica_port = free_port()
            replica_env = {
                **os.environ,
                **notify,
                "NOTIFY_DATABASE_URL": url,
                **{
                    f"NOTIFY_{peer.upper()}_URL": f"http://127.0.0.1:{ports[peer]}"
                    for peer in ("orgs", "catalog", "booking")
                },
                "NOTIFY_LOG_LEVEL": "WARNING",
            }
            replica = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "learncity",
                    "serve",
                    "notify",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(replica_port),
                ],
                env=replica_env,
            )
            replica_url = f"http://127.0.0.1:{replica_port}"
            try:
                eventually(partial(_ready, replica_url), bool, timeout_s=60)
                yield City(base_url, url, mail_dir, replica_url)
            finally:
                replica.terminate()
                replica.wait(20)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def api(city: City) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=city.base_url, timeout=30) as client:
        yield client


def notices(api: httpx.Client, person: Citizen, kind: str | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(api.get("/v1/notifications", params={"limit": 100}, headers=person.headers))[
        "items"
    ]
    return [item for item in items if kind is None or item["kind"] == kind]


def test_a_promoted_person_finds_a_notice_and_a_mail_within_5_s(api: httpx.Client, city: City) -> None:
    host = Host.open(api)
    workshop = host.session(api, capacity=1)
    ada, ben = register(api, "ada"), register(api, "ben")
    first = created(book(api, ada, workshop["id"]))
    waiting = created(book(api, ben, workshop["id"]))
    assert waiting["status"] == "waitlisted"
    eventually(partial(notices, api, ben, "booking_waitlisted"), lambda found: len(found) == 1)

    ok(api.post(f"/v1/bookings/{first['id']}/cancel", headers=ada.headers))
    cancelled_at = time.monotonic()
    promoted = eventually(partial(notices, api, ben, "waitlist_promoted"), lambda found: len(found) == 1, 5)
    mails = eventually(
        lambda: [m for m in city.mails_to(ben.email) if host.title in _plain(m)],
        lambda found: len(found) >= 2,  # the waitlisted notice's mail, then the promotion's
        timeout_s=max(0.1, 5 - (time.monotonic() - cancelled_at)),
    )
    assert promoted[0]["booking_id"] == waiting["id"]
    assert promoted[0]["session_id"] == workshop["id"]
    assert host.title in promoted[0]["body"]
    # The promotion's mail carries the booking as an invitation a calendar app can take.
    invitations = [
        part for mail in mails for part in mail.iter_attachments() if part.get_content_type() == "text/calendar"
    ]
    assert invitations, [mail["Subject"] for mail in mails]
    assert len(notices(api, ada, "booking_cancelled")) == 1


def _plain(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    text: str = body.get_content()
    return text


def test_a_host_cancelling_a_session_tells_every_holder_once_even_when_delivered_twice(
    api: httpx.Client, city: City
) -> None:
    host = Host.open(api)
    workshop = host.session(api, capacity=2)
    holders = [register(api, name) for name in ("cho", "dara", "emil")]
    for holder in holders:
        created(book(api, holder, workshop["id"]))
    ok(api.post(f"/v1/sessions/{workshop['id']}/cancel", json={"reason": "burst pipe"}, headers=host.owner.headers))
    for holder in holders:
        eventually(partial(notices, api, holder, "session_cancelled"), lambda found: len(found) == 1)

    # Every event about the session and its bookings goes out again to notify, and once more to the other
    # notify process directly.
    asyncio.run(
        _execute(
            city.database_url,
            "UPDATE catalog.outbox SET status = 'pending', next_attempt_at = now() "
            "WHERE subscriber = 'notify' AND aggregate_id = $1",
            workshop["id"],
        )
    )
    events = asyncio.run(_notify_events_of(city.database_url, workshop["id"]))
    assert events, "no event of the session was sent to notify"
    replayed = httpx.post(
        f"{city.replica_url}/internal/v1/events",
        json={"events": events},
        headers={INTERNAL_SECRET_HEADER: DEV_INTERNAL_SECRET},
        timeout=10,
    )
    assert replayed.status_code == 200, replayed.text
    assert {result["outcome"] for result in replayed.json()["results"]} <= {"duplicate", "stale"}
    eventually(partial(_pending_to_notify, city.database_url, workshop["id"]), lambda pending: pending == 0)
    time.sleep(1)
    for holder in holders:
        assert len(notices(api, holder, "session_cancelled")) == 1
        assert notices(api, holder, "booking_cancelled") == []
        assert "burst pipe" in notices(api, holder, "session_cancelled")[0]["body"]
    eventually(lambda: [len(city.mails_to(h.email)) for h in holders], lambda counts: min(counts) >= 2)


async def _notify_events_of(database_url: str, session_id: str) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(driver_url(database_url))
    try:
        rows = await connection.fetch(
            "SELECT event_id, type, 'catalog' AS producer, aggregate_id, sequence, occurred_at, payload::text "
            "FROM catalog.outbox WHERE subscriber = 'notify' AND aggregate_id = $1 "
            "UNION ALL SELECT event_id, type, 'booking', aggregate_id, sequence, occurred_at, payload::text "
            "FROM booking.outbox WHERE subscriber = 'notify' AND payload->>'session_id' = $2",
            session_id,
            str(session_id),
        )
    finally:
        await connection.close()
    return [
        {
            "id": str(row["event_id"]),
            "type": row["type"],
            "producer": row["producer"],
            "aggregate_id": str(row["aggregate_id"]),
            "sequence": row["sequence"],
            "occurred_at": row["occurred_at"].isoformat(),
            "payload": json.loads(row["payload"]),
        }
        for row in rows
    ]


def _pending_to_notify(database_url: str, session_id: str) -> int:
    async def count() -> int:
        connection = await asyncpg.connect(driver_url(database_url))
        try:
            pending: int = await connection.fetchval(
                "SELECT count(*) FROM catalog.outbox WHERE subscriber = 'notify' AND aggregate_id = $1 "
                "AND status = 'pending'",
                session_id,
            )
            return pending
        finally:
            await connection.close()

    return asyncio.run(count())


def test_a_reminder_follows_a_moved_session_and_arrives_once_with_two_notify_processes(
    api: httpx.Client, city: City
) -> None:
    host = Host.open(api)
    # Due in two minutes at first; the move brings it within a few seconds.
    workshop = session(api, host.owner, host.offering, capacity=5, starts_in_min=3)
    fay = register(api, "fay")
    created(book(api, fay, workshop["id"]))
    feed_url = created(api.post("/v1/calendar/feed", headers=fay.headers))["url"]

    new_start = (datetime.now(UTC) + timedelta(seconds=REMINDER_MINUTES * 60 + 12)).replace(microsecond=0)
    moved = {"starts_at": rfc3339(new_start), "ends_at": rfc3339(new_start + timedelta(minutes=45))}
    ok(api.patch(f"/v1/sessions/{workshop['id']}", json=moved, headers=host.owner.headers))
    eventually(partial(notices, api, fay, "session_changed"), lambda found: len(found) == 1)

    feed = eventually(
        partial(_feed_events, feed_url), lambda events: len(events) == 1 and _starts(events[0]) == new_start
    )
    local = feed[0]["DTSTART"].dt
    assert local.tzinfo is not None and str(local.tzinfo) == "Asia/Shanghai"
    assert local.replace(tzinfo=None) == new_start.astimezone(SHANGHAI).replace(tzinfo=None)

    reminders = eventually(partial(notices, api, fay, "reminder"), lambda found: len(found) >= 1, timeout_s=40)
    time.sleep(3)  # both notify processes have had their turn since
    assert len(notices(api, fay, "reminder")) == 1
    assert reminders[0]["session_id"] == workshop["id"]
    reminder_mails = eventually(
        lambda: [m for m in city.mails_to(fay.email) if m["Subject"] == reminders[0]["title"]],
        lambda found: len(found) >= 1,
    )
    time.sleep(1)
    assert (
        len([m for m in city.mails_to(fay.email) if m["Subject"] == reminders[0]["title"]]) == len(reminder_mails) == 1
    )


def _status(api: httpx.Client, path: str, person: Citizen) -> int:
    return api.get(path, headers=person.headers).status_code


def _feed_events(url: str) -> list[Any]:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    return list(calendar.walk("VEVENT"))


def _starts(event: Any) -> datetime:
    start: datetime = event["DTSTART"].dt
    return start.astimezone(UTC)


def test_the_calendar_feed_rotates_and_the_qr_image_encodes_the_code(api: httpx.Client, city: City) -> None:
    host = Host.open(api)
    workshop = host.session(api, capacity=3)
    gus = register(api, "gus")
    booking = created(book(api, gus, workshop["id"]))

    qr = api.get(f"/v1/bookings/{booking['id']}/checkin-qr.svg", headers=gus.headers)
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    assert decode_qr_svg(qr.text) == booking["checkin_code"]
    assert_problem(api.get(f"/v1/bookings/{booking['id']}/checkin-qr.svg", headers=register(api, "nosy").headers), 404)

    first = created(api.post("/v1/calendar/feed", headers=gus.headers))["url"]
    assert first.startswith(city.base_url + "/v1/calendar/")
    events = eventually(partial(_feed_events, first), lambda found: len(found) == 1)
    assert str(events[0]["UID"]).startswith(booking["id"])
    second = created(api.post("/v1/calendar/feed", headers=gus.headers))["url"]
    assert second != first
    assert httpx.get(first, timeout=10).status_code == 404
    assert len(_feed_events(second)) == 1


def test_export_then_delete_leaves_no_row_naming_the_person(api: httpx.Client, city: City) -> None:
    host = Host.open(api)
    workshop = host.session(api, capacity=1)
    hana, ivo = register(api, "hana"), register(api, "ivo")
    created(book(api, hana, workshop["id"]))
    waiting = created(book(api, ivo, workshop["id"]))
    created(api.post("/v1/calendar/feed", headers=hana.headers))
    prefs = {"email": True, "language": "en", "reminders_minutes_before": [60, 1440]}
    ok(api.put("/v1/notifications/preferences", json=prefs, headers=hana.headers))
    eventually(partial(notices, api, hana, "booking_confirmed"), lambda found: len(found) == 1)
    eventually(lambda: city.mails_to(hana.email), lambda found: len(found) >= 1)

    export = ok(api.get("/v1/me/export", headers=hana.headers))
    assert export["person"]["email"] == hana.email
    assert [b["session_id"] for b in export["booking"]["bookings"]] == [workshop["id"]]
    assert {n["kind"] for n in export["notify"]["notifications"]} >= {"booking_confirmed"}
    assert export["notify"]["preferences"]["reminders_minutes_before"] == [60, 1440]
    assert city.rows_naming(hana.id, hana.email)  # the check below can see the person

    assert_problem(api.request("DELETE", "/v1/me", json={"password": "not the password"}, headers=hana.headers), 403)
    erased = api.request("DELETE", "/v1/me", json={"password": PASSWORD}, headers=hana.headers)
    assert erased.status_code == 204, erased.text
    eventually(partial(city.rows_naming, hana.id, hana.email), lambda found: found == {}, timeout_s=15)

    assert api.get("/v1/me", headers=hana.headers).status_code == 401
    # The other services verify tokens themselves: they learn of the erasure within a few seconds.
    for path in ("/v1/bookings", "/v1/notifications", "/v1/learning-records/me"):
        eventually(partial(_status, api, path, hana), lambda status: status == 401)
    signed_in = api.post("/v1/auth/token", data={"username": hana.email, "password": PASSWORD})
    assert signed_in.status_code == 401
    # Her seat went to the next in line, who was told.
    eventually(partial(notices, api, ivo, "waitlist_promoted"), lambda found: len(found) == 1)
    assert ok(api.get(f"/v1/bookings/{waiting['id']}", headers=ivo.headers))["status"] == "confirmed"
