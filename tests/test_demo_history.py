"""The demo city's past (issue 16): past sessions with bookings, check-ins, no-shows and cancellations, seeded
by each service's own code through the runner; seat figures equal to the bookings; what the analytics and
maps need on first start; a second run adds nothing; a demo citizen's learning record shows minutes."""

import time
from datetime import date, datetime
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from learncity.demo import DEMO_EMAIL, DEMO_PASSWORD, citizen_email, seed_demo
from services.catalog.demo.seed import CITY_ZONE
from services.orgs.demo import CITIZENS
from shared.db import driver_url
from shared.ids import demo_id

TODAY = date(2027, 3, 1)
START_OF_TODAY = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=CITY_ZONE)

# Each pool's confirmed seats on booking's row of a session, against the seats of its confirmed and no-show
# bookings (cancelled ones hold none): the sessions where they differ.
MISCOUNTED = """
    SELECT i.session_id FROM booking.inventory i
    LEFT JOIN (
        SELECT session_id,
            coalesce(sum(seats) FILTER (WHERE seat_pool = 'standard'), 0) AS standard,
            coalesce(sum(seats) FILTER (WHERE seat_pool = 'accessible'), 0) AS accessible,
            coalesce(sum(seats) FILTER (WHERE seat_pool = 'online'), 0) AS online
        FROM booking.bookings WHERE status IN ('confirmed', 'no_show') GROUP BY session_id
    ) b USING (session_id)
    WHERE (i.confirmed_seats, i.accessible_confirmed, i.online_confirmed)
        IS DISTINCT FROM (coalesce(b.standard, 0), coalesce(b.accessible, 0), coalesce(b.online, 0))"""
# The share of the seats held, by where the sessions took place (a test may read every schema).
FILL_BY_PLACE = """
    SELECT s.kind, split_part(s.district, ' ', 1) AS district,
        sum(i.confirmed_seats + i.accessible_confirmed + i.online_confirmed)::float
            / sum(i.capacity + i.online_capacity) AS fill
    FROM booking.inventory i JOIN catalog.sites s ON s.id = i.site_id
    WHERE i.starts_at < $1 GROUP BY 1, 2"""
RURAL_COUNTIES = {"淳安县", "桐庐县", "建德市", "临安区"}
ROWS = ("booking.inventory", "booking.bookings", "booking.checkins", "catalog.sessions", "orgs.people")


async def _counts(connection: asyncpg.Connection) -> dict[str, int]:
    return {table: await connection.fetchval(f"SELECT count(*) FROM {table}") for table in ROWS}


async def _token(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    token = await client.post("/v1/auth/token", data={"username": email, "password": DEMO_PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def test_the_demo_city_has_a_past(client: httpx.AsyncClient, database_url: str, apps: dict[str, FastAPI]) -> None:
    started = time.perf_counter()
    added = await seed_demo(database_url, today=TODAY)
    seeding_s = time.perf_counter() - started
    assert added["citizens"] == CITIZENS and added["citizen_memberships"] > CITIZENS // 2
    assert added["past_sessions"] >= 500
    assert added["bookings"] > 10 * added["past_sessions"]
    assert 0 < added["no_shows"] < added["bookings"] // 5 and 0 < added["cancellations"] < added["bookings"] // 10
    assert added["checkins"] == added["bookings"] - added["no_shows"] - added["cancellations"]
    assert seeding_s < 30, f"seeding took {seeding_s:.1f}s"

    connection = await asyncpg.connect(driver_url(database_url))
    try:
        # Booking knows every past session (as the catalog's event would have told it), and most were booked.
        past = await connection.fetch("SELECT id FROM catalog.sessions WHERE starts_at < $1", START_OF_TODAY)
        assert len(past) == added["past_sessions"]
        known = await connection.fetchval(
            "SELECT count(*) FROM booking.inventory WHERE session_id = ANY($1::uuid[])", [row["id"] for row in past]
        )
        assert known == len(past)
        booked = await connection.fetchval("SELECT count(DISTINCT session_id) FROM booking.bookings")
        assert booked >= 0.9 * len(past)
        assert (
            await connection.fetchval(
                "SELECT count(*) FROM booking.bookings WHERE session_ends_at >= $1", START_OF_TODAY
            )
            == 0
        )

        assert await connection.fetch(MISCOUNTED) == []
        # Exactly the confirmed bookings are checked in (as a check-in leaves them), crediting the session's
        # minutes, by the demo account (staff of every host), between an hour before the start and its end.
        statuses = dict(await connection.fetch("SELECT status, count(*) FROM booking.bookings GROUP BY status"))
        assert statuses == {
            "confirmed": added["checkins"],
            "no_show": added["no_shows"],
            "cancelled": added["cancellations"],
        }
        wrong_checkins = await connection.fetchval(
            """SELECT count(*) FROM booking.checkins c
            JOIN booking.bookings b ON b.id = c.booking_id JOIN booking.inventory i ON i.session_id = c.session_id
            WHERE b.status <> 'confirmed' OR b.checkin_code IS NULL OR c.person_id <> b.person_id
                OR c.minutes <> extract(epoch FROM i.ends_at - i.starts_at)::int / 60 OR c.kind <> i.kind
                OR c.checked_in_by <> $1
                OR c.checked_in_at NOT BETWEEN i.starts_at - interval '1 hour' AND i.ends_at""",
            demo_id("person", DEMO_EMAIL),
        )
        assert wrong_checkins == 0
        assert await connection.fetchval("SELECT count(*) FROM booking.checkins") == added["checkins"]
        cancelled_late = await connection.fetchval(
            """SELECT count(*) FROM booking.bookings b JOIN booking.inventory i USING (session_id)
            WHERE b.status = 'cancelled' AND (b.cancelled_at >= i.starts_at OR b.cancelled_at < b.created_at)"""
        )
        assert cancelled_late == 0

        # Rural cultural halls are used less than the central libraries, museums and theatres.
        fills = {
            (row["kind"], row["district"]): row["fill"] for row in await connection.fetch(FILL_BY_PLACE, START_OF_TODAY)
        }
        rural = [
            fill for (kind, district), fill in fills.items() if kind == "cultural_hall" and district in RURAL_COUNTIES
        ]
        central = [
            fill
            for (kind, district), fill in fills.items()
            if kind in ("library", "museum", "theatre") and district in ("上城区", "西湖区", "拱墅区")
        ]
        assert len(rural) >= 3 and central
        assert max(rural) < min(central)
        # The fairness rule restricts the citizens who often miss what they booked, not most citizens.
        restricted = await connection.fetchval("SELECT count(*) FROM booking.restrictions")
        assert 0 < restricted < CITIZENS // 5

        # No mail flood: no booking.* events for the past; the catalog hears each booked session's figures.
        events = dict(await connection.fetch("SELECT type, count(*) FROM booking.outbox GROUP BY type"))
        assert set(events) == {"availability.changed"} and events["availability.changed"] == booked
        # The catalog's session.scheduled events reach booking afterwards and leave the figures as they are.
        delivered, relay = 0, apps["catalog"].state.relay
        while claimed := await relay.run_once("booking"):
            delivered += claimed
        assert delivered >= added["sessions"] + added["past_sessions"]
        assert await connection.fetch(MISCOUNTED) == []
        events = dict(await connection.fetch("SELECT type, count(*) FROM booking.outbox GROUP BY type"))
        assert events == {"availability.changed": booked + added["sessions"]}  # and one per coming session

        before = await _counts(connection)
        again = await seed_demo(database_url, today=TODAY)
        assert again == dict.fromkeys(added, 0)
        assert await _counts(connection) == before
    finally:
        await connection.close()

    # A demo citizen signs in with the demo password and sees minutes in their learning record.
    citizen = await _token(client, citizen_email(1))
    record = (await client.get("/v1/learning-records/me", headers=citizen)).json()
    assert record["total_minutes"] > 0 and record["sessions_attended"] > 0, record
    # The demo account (owner of every demo organization) sees its members' learning.
    owner = await _token(client, DEMO_EMAIL)
    community = demo_id("organization", "gongchen-qiaoxi")
    report = await client.get("/v1/learning-records", params={"organization_id": str(community)}, headers=owner)
    assert report.status_code == 200, report.text
    members: list[dict[str, Any]] = report.json()["items"]
    assert any(member["role"] == "member" and member["total_minutes"] > 0 for member in members)
