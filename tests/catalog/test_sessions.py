"""Sessions: scheduling (one-off and recurring), reading with free seats, changing, cancelling, and the
events booking learns them from."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select

from services.booking.models import event_tables as booking_tables
from shared.clients import INTERNAL_SECRET_HEADER
from shared.settings import DEV_INTERNAL_SECRET
from tests.catalog.conftest import BookingStandIn, Catalog, OutboxRows, SendAvailability, iso, later, pointers
from tests.support import assert_problem

SHANGHAI = ZoneInfo("Asia/Shanghai")
UNKNOWN_ID = "0190a000-0000-7000-8000-000000000000"


@pytest.fixture
async def activity(catalog: Catalog) -> dict[str, Any]:
    return await catalog.activity((await catalog.site())["id"])


async def test_schedule_one_session_and_read_it(
    client: httpx.AsyncClient, catalog: Catalog, activity: dict[str, Any]
) -> None:
    starts_at = later(days=3)
    created = await catalog.session(
        activity["id"],
        starts_at=starts_at,
        capacity=25,
        booking_opens_at=iso(starts_at - timedelta(days=7)),
        booking_closes_at=iso(starts_at - timedelta(hours=1)),
    )
    assert created["activity_id"] == activity["id"] and created["site_id"] == activity["site_id"]
    assert datetime.fromisoformat(created["starts_at"]) == starts_at
    assert datetime.fromisoformat(created["ends_at"]) == starts_at + timedelta(minutes=90)
    assert created["capacity"] == 25 and created["seats_available"] == 25 and created["status"] == "scheduled"
    assert datetime.fromisoformat(created["booking_opens_at"]) == starts_at - timedelta(days=7)
    read = (await client.get(f"/v1/sessions/{created['id']}")).json()
    assert read == created
    assert_problem(await client.get(f"/v1/sessions/{UNKNOWN_ID}"), 404)
    assert_problem(await client.get("/v1/sessions/1"), 422)
    listed = (await client.get(f"/v1/activities/{activity['id']}/sessions")).json()
    assert [item["id"] for item in listed["items"]] == [created["id"]]


async def test_invalid_sessions_are_422_and_store_nothing(
    client: httpx.AsyncClient, catalog: Catalog, activity: dict[str, Any]
) -> None:
    starts_at = later(days=3)
    ends_at = starts_at + timedelta(hours=1)
    valid = {"starts_at": iso(starts_at), "ends_at": iso(ends_at), "capacity": 10}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"ends_at": iso(starts_at)}, "/body/ends_at"),
        ({"ends_at": iso(starts_at - timedelta(minutes=1))}, "/body/ends_at"),
        ({"ends_at": iso(starts_at + timedelta(days=367))}, "/body/ends_at"),
        ({"capacity": 0}, "/body/capacity"),
        ({"capacity": 100_001}, "/body/capacity"),
        ({"capacity": "lots"}, "/body/capacity"),
        ({"starts_at": "2027-03-02T19:00:00"}, "/body/starts_at"),
        ({"starts_at": "2300-03-02T19:00:00Z"}, "/body/starts_at"),
        ({"starts_at": 1_800_000_000}, "/body/starts_at"),
        ({"booking_opens_at": iso(ends_at)}, "/body/booking_opens_at"),
        ({"booking_closes_at": iso(ends_at + timedelta(seconds=1))}, "/body/booking_closes_at"),
        (
            {
                "booking_opens_at": iso(starts_at - timedelta(days=1)),
                "booking_closes_at": iso(starts_at - timedelta(days=2)),
            },
            "/body/booking_closes_at",
        ),
        ({"site_id": UNKNOWN_ID}, "/body/site_id"),
    ]
    url = f"/v1/activities/{activity['id']}/sessions"
    headers = catalog.team["owner"].headers
    for change, pointer in cases:
        assert pointer in pointers(await client.post(url, json=valid | change, headers=headers)), change
    assert_problem(await client.post(f"/v1/activities/{UNKNOWN_ID}/sessions", json=valid, headers=headers), 404)
    assert (await client.get(f"/v1/activities/{activity['id']}/sessions")).json()["items"] == []


async def test_weekly_for_ten_weeks_keeps_19_00_in_shanghai(
    client: httpx.AsyncClient, catalog: Catalog, activity: dict[str, Any]
) -> None:
    first = datetime(2027, 3, 2, 19, 0, tzinfo=SHANGHAI)  # a Tuesday
    created = await catalog.sessions(
        activity["id"],
        starts_at=first,
        ends_at=first + timedelta(minutes=90),
        booking_opens_at=iso(first - timedelta(days=7)),
        booking_closes_at=iso(first - timedelta(hours=2)),
        recurrence={"rrule": "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10"},
    )
    assert len(created) == 10
    for week, item in enumerate(created):
        starts = datetime.fromisoformat(item["starts_at"])
        local = starts.astimezone(SHANGHAI)
        assert (local.date(), local.hour, local.minute) == ((first + timedelta(weeks=week)).date(), 19, 0)
        assert local.isoweekday() == 2
        assert datetime.fromisoformat(item["ends_at"]) - starts == timedelta(minutes=90)
        assert starts - datetime.fromisoformat(item["booking_opens_at"]) == timedelta(days=7)
        assert starts - datetime.fromisoformat(item["booking_closes_at"]) == timedelta(hours=2)
    listed = (await client.get(f"/v1/activities/{activity['id']}/sessions", params={"limit": 100})).json()
    assert [item["id"] for item in listed["items"]] == [item["id"] for item in created]


async def test_recurrence_is_expanded_in_city_wall_time_or_the_zone_given(
    catalog: Catalog, activity: dict[str, Any]
) -> None:
    # 01:00 on a Tuesday in Shanghai is still Monday in UTC: BYDAY=TU must match it as given in UTC.
    first = datetime(2027, 3, 1, 17, 0, tzinfo=UTC)
    created = await catalog.sessions(
        activity["id"], starts_at=first, recurrence={"rrule": "FREQ=WEEKLY;BYDAY=TU", "count": 3}
    )
    assert [datetime.fromisoformat(i["starts_at"]) for i in created] == [first + timedelta(weeks=w) for w in range(3)]
    # Berlin moves its clocks on 2027-03-28: the weekly 19:00 stays 19:00 local, so 18:00 then 17:00 UTC.
    berlin = ZoneInfo("Europe/Berlin")
    evening = datetime(2027, 3, 22, 19, 0, tzinfo=berlin)
    created = await catalog.sessions(
        activity["id"],
        starts_at=evening,
        recurrence={"rrule": "FREQ=WEEKLY", "until": "2027-04-06T00:00:00Z", "timezone": "Europe/Berlin"},
    )
    starts = [datetime.fromisoformat(i["starts_at"]) for i in created]
    assert [s.astimezone(berlin).hour for s in starts] == [19, 19, 19]
    assert [s.astimezone(UTC).hour for s in starts] == [18, 17, 17]


async def test_recurrence_bounds_and_errors(
    client: httpx.AsyncClient, catalog: Catalog, activity: dict[str, Any]
) -> None:
    first = datetime(2027, 3, 2, 19, 0, tzinfo=SHANGHAI)
    url = f"/v1/activities/{activity['id']}/sessions"
    headers = catalog.team["owner"].headers
    base = {"starts_at": iso(first), "ends_at": iso(first + timedelta(hours=1)), "capacity": 10}
    exactly_500 = await client.post(url, json=base | {"recurrence": {"rrule": "FREQ=DAILY;COUNT=500"}}, headers=headers)
    assert exactly_500.status_code == 201 and len(exactly_500.json()["items"]) == 500
    cases: list[tuple[dict[str, Any], str]] = [
        ({"rrule": "FREQ=DAILY;COUNT=501"}, "/body/recurrence/rrule"),
        ({"rrule": "FREQ=DAILY", "count": 501}, "/body/recurrence/count"),
        ({"rrule": "FREQ=DAILY;UNTIL=20290101T000000Z"}, "/body/recurrence/rrule"),  # 671 days
        ({"rrule": "FREQ=WEEKLY;BYDAY=TU"}, "/body/recurrence/rrule"),  # never ends
        ({"rrule": "FREQ=HOURLY;COUNT=5"}, "/body/recurrence/rrule"),
        ({"rrule": "FREQ=MONTHLY;BYSETPOS=1;BYDAY=MO;COUNT=3"}, "/body/recurrence/rrule"),
        ({"rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=3"}, "/body/recurrence/rrule"),  # never occurs
        ({"rrule": "FREQ=MONTHLY;BYDAY=6MO;COUNT=3"}, "/body/recurrence/rrule"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=2TU;COUNT=3"}, "/body/recurrence/rrule"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=XX;COUNT=3"}, "/body/recurrence/rrule"),
        ({"rrule": "FREQ=WEEKLY;INTERVAL=0;COUNT=3"}, "/body/recurrence/rrule"),
        ({"rrule": "FREQ=WEEKLY;COUNT=3;COUNT=4"}, "/body/recurrence/rrule"),
        ({"rrule": "FREQ=WEEKLY;COUNT=3\nDTSTART:20270101T000000Z"}, "/body/recurrence/rrule"),
        ({"rrule": "FREQ=WEEKLY;UNTIL=20270201"}, "/body/recurrence/rrule"),  # before starts_at: nothing
        ({"rrule": "FREQ=YEARLY;UNTIL=20350101T000000Z"}, "/body/recurrence/rrule"),  # beyond five years
        ({"rrule": "FREQ=YEARLY;COUNT=7"}, "/body/recurrence/rrule"),  # does not finish in five years
        ({"rrule": "FREQ=WEEKLY;UNTIL=tomorrow"}, "/body/recurrence/rrule"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=MO" + ",MO" * 200}, "/body/recurrence/rrule"),
        ({"rrule": "FREQ=WEEKLY", "timezone": "Mars/Olympus"}, "/body/recurrence/timezone"),
        ({"rrule": "FREQ=WEEKLY", "count": 3, "exdate": "x"}, "/body/recurrence/exdate"),
    ]
    for recurrence, pointer in cases:
        assert pointer in pointers(await client.post(url, json=base | {"recurrence": recurrence}, headers=headers)), (
            recurrence
        )
    listed = (await client.get(url, params={"limit": 100})).json()
    assert len(listed["items"]) == 100 and listed["next_cursor"] is not None  # only the 500 from above


async def test_scheduled_sessions_become_events_booking_receives(
    apps: dict[str, FastAPI],
    client: httpx.AsyncClient,
    catalog: Catalog,
    activity: dict[str, Any],
    outbox_rows: OutboxRows,
    deliver_events: Callable[[], Awaitable[int]],
) -> None:
    created = await catalog.sessions(activity["id"], recurrence={"rrule": "FREQ=DAILY;COUNT=3"})
    rows = [row for row in await outbox_rows() if row.type != "site.changed"]  # the site's own event aside
    assert [(row.type, str(row.aggregate_id), row.sequence) for row in rows] == sorted(
        ("session.scheduled", item["id"], 1) for item in created
    )
    # Notify hears the same events (where and when, to tell people).
    notify_rows = await outbox_rows(subscriber="notify")
    assert [(row.event_id, row.payload) for row in notify_rows] == [(row.event_id, row.payload) for row in rows]
    site = (await client.get(f"/v1/sites/{activity['site_id']}")).json()
    payload = next(row.payload for row in rows if str(row.aggregate_id) == created[0]["id"])
    assert payload == {
        "session_id": created[0]["id"],
        "activity_id": activity["id"],
        "host_org_id": catalog.team.organization_id,
        "site_id": activity["site_id"],
        "title": activity["title"],
        "kind": "reading",
        "starts_at": payload["starts_at"],
        "ends_at": payload["ends_at"],
        "capacity": 20,
        "status": "scheduled",
        "booking_opens_at": None,
        "booking_closes_at": None,
        "place": {
            "site_id": site["id"],
            "name": {"zh-CN": "湖滨图书室", "en": "Hubin Reading Room"},
            "address": "杭州市上城区东坡路 Dongpo Road",
            "lat": site["location"]["lat"],
            "lon": site["location"]["lon"],
        },
        "cancel_reason": None,
        "mode": "in_person",
        "join_url": None,
        "accessible_seats": 0,
        "online_capacity": 0,
    }
    assert datetime.fromisoformat(payload["starts_at"]) == datetime.fromisoformat(created[0]["starts_at"])
    assert await deliver_events() >= 3
    async with apps["booking"].state.database.sessionmaker() as session:
        received = (await session.execute(select(booking_tables.inbox.c.event_id))).scalars().all()
    assert {row.event_id for row in rows} <= set(received)
    assert {row.status for row in await outbox_rows()} == {"delivered"}


async def test_the_internal_snapshot_endpoint(client: httpx.AsyncClient, catalog: Catalog) -> None:
    session = await catalog.scheduled_session(capacity=12)
    url = f"http://catalog.internal/internal/v1/sessions/{session['id']}"
    assert_problem(await client.get(url), 401)
    assert_problem(await client.get(url, headers={INTERNAL_SECRET_HEADER: "wrong"}), 401)
    headers = {INTERNAL_SECRET_HEADER: DEV_INTERNAL_SECRET}
    snapshot = (await client.get(url, headers=headers)).json()
    assert snapshot["session_id"] == session["id"] and snapshot["capacity"] == 12
    assert snapshot["status"] == "scheduled" and snapshot["host_org_id"] == catalog.team.organization_id
    assert snapshot["place"]["site_id"] == session["site_id"] and snapshot["place"]["address"]
    assert snapshot["cancel_reason"] is None
    assert_problem(await client.get(f"http://catalog.internal/internal/v1/sessions/{UNKNOWN_ID}", headers=headers), 404)
    # Not routed publicly: the gateway knows only /v1/ paths.
    assert (await client.get(f"/internal/v1/sessions/{session['id']}", headers=headers)).status_code == 404


async def test_snapshots_say_where_reading_the_site_once_per_change(
    apps: dict[str, FastAPI], catalog: Catalog, outbox_rows: OutboxRows
) -> None:
    without_site = await catalog.session((await catalog.activity(None))["id"])
    (row,) = await outbox_rows(without_site["id"])
    assert row.payload["site_id"] is None and row.payload["place"] is None

    site = await catalog.site(name="Xixi Wetland Hall", address="西溪路 Xixi Road")
    activity = await catalog.activity(site["id"])
    statements: list[str] = []

    def record(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = apps["catalog"].state.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        created = await catalog.sessions(activity["id"], recurrence={"rrule": "FREQ=DAILY;COUNT=5"})
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len([statement for statement in statements if "FROM catalog.sites" in statement]) == 1
    places = [row.payload["place"] for item in created for row in await outbox_rows(item["id"])]
    assert (
        places
        == [
            {
                "site_id": site["id"],
                "name": {"und": "Xixi Wetland Hall"},
                "address": "西溪路 Xixi Road",
                "lat": site["location"]["lat"],
                "lon": site["location"]["lon"],
            }
        ]
        * 5
    )


async def test_free_seats_follow_availability_events(
    client: httpx.AsyncClient, catalog: Catalog, booking: BookingStandIn, send_availability: SendAvailability
) -> None:
    session = await catalog.scheduled_session(capacity=10)
    url = f"/v1/sessions/{session['id']}"
    assert await send_availability(session["id"], capacity=10, confirmed=7, waitlist=0) == "applied"
    assert (await client.get(url)).json()["seats_available"] == 3
    assert await send_availability(session["id"], capacity=10, confirmed=10, waitlist=4) == "applied"
    read = (await client.get(url)).json()
    assert (read["seats_available"], read["waitlist_length"]) == (0, 4)
    # The host raises capacity: free seats show at once only after booking reports (it may promote the waitlist).
    headers = catalog.team["owner"].headers
    assert (await client.patch(url, json={"capacity": 12}, headers=headers)).json()["seats_available"] == 0
    assert await send_availability(session["id"], capacity=12, confirmed=12, waitlist=2) == "applied"
    assert (await client.get(url)).json()["seats_available"] == 0
    # An event for a session the catalog does not know changes nothing.
    assert await send_availability(UNKNOWN_ID, capacity=5, confirmed=1) == "applied"
    assert (await client.get(f"/v1/sessions/{UNKNOWN_ID}")).status_code == 404


async def test_lowered_capacity_shows_at_once_in_free_seats(
    client: httpx.AsyncClient, catalog: Catalog, booking: BookingStandIn, send_availability: SendAvailability
) -> None:
    session = await catalog.scheduled_session(capacity=10)
    await send_availability(session["id"], capacity=10, confirmed=4)
    booking.confirmed[session["id"]] = 4
    patched = await client.patch(
        f"/v1/sessions/{session['id']}", json={"capacity": 6}, headers=catalog.team["owner"].headers
    )
    assert patched.status_code == 200 and patched.json()["seats_available"] == 2


async def test_capacity_cannot_drop_below_confirmed_seats(
    client: httpx.AsyncClient, catalog: Catalog, booking: BookingStandIn, outbox_rows: OutboxRows
) -> None:
    session = await catalog.scheduled_session(capacity=10)
    url = f"/v1/sessions/{session['id']}"
    headers = catalog.team["owner"].headers
    booking.confirmed[session["id"]] = 5
    assert_problem(await client.patch(url, json={"capacity": 4}, headers=headers), 409)
    assert (await client.get(url)).json()["capacity"] == 10
    assert (await client.patch(url, json={"capacity": 5}, headers=headers)).json()["capacity"] == 5
    calls = booking.calls
    assert (await client.patch(url, json={"capacity": 30}, headers=headers)).json()["capacity"] == 30
    assert booking.calls == calls  # raising never asks booking
    booking.down = True
    body = await client.patch(url, json={"capacity": 6}, headers=headers)
    assert_problem(body, 503)
    assert int(body.headers["Retry-After"]) >= 1
    assert (await client.get(url)).json()["capacity"] == 30
    booking.down = False
    unknown_to_booking = await catalog.scheduled_session(capacity=10)  # booking answers 404: no bookings
    lowered = await client.patch(f"/v1/sessions/{unknown_to_booking['id']}", json={"capacity": 1}, headers=headers)
    assert lowered.status_code == 200 and lowered.json()["capacity"] == 1
    updates = [row.payload["capacity"] for row in await outbox_rows(session["id"]) if row.type == "session.updated"]
    assert updates == [5, 30]


async def test_patch_times_and_window_emit_the_whole_snapshot(
    client: httpx.AsyncClient, catalog: Catalog, booking: BookingStandIn, outbox_rows: OutboxRows
) -> None:
    session = await catalog.scheduled_session()
    url = f"/v1/sessions/{session['id']}"
    headers = catalog.team["owner"].headers
    new_start = later(days=10)
    body = {
        "starts_at": iso(new_start),
        "ends_at": iso(new_start + timedelta(hours=2)),
        "booking_closes_at": iso(new_start),
    }
    patched = (await client.patch(url, json=body, headers=headers)).json()
    assert datetime.fromisoformat(patched["starts_at"]) == new_start
    assert datetime.fromisoformat(patched["booking_closes_at"]) == new_start
    cleared = (await client.patch(url, json={"booking_closes_at": None}, headers=headers)).json()
    assert cleared["booking_closes_at"] is None
    assert (await client.patch(url, json={}, headers=headers)).status_code == 200  # nothing changes: no event
    rows = await outbox_rows(session["id"])
    assert [(row.type, row.sequence) for row in rows] == [
        ("session.scheduled", 1),
        ("session.updated", 2),
        ("session.updated", 3),
    ]
    assert datetime.fromisoformat(rows[1].payload["starts_at"]) == new_start
    assert rows[1].payload["booking_closes_at"] is not None and rows[2].payload["booking_closes_at"] is None
    assert rows[2].payload["capacity"] == 20 and rows[2].payload["session_id"] == session["id"]
    for change, pointer in [
        ({"capacity": None}, "/body/capacity"),
        ({"starts_at": None}, "/body/starts_at"),
        ({"ends_at": iso(new_start)}, "/body/ends_at"),
        ({"starts_at": iso(later(hours=-1)), "ends_at": iso(later(hours=1))}, "/body/starts_at"),
        ({"status": "cancelled"}, "/body/status"),
    ]:
        assert pointer in pointers(await client.patch(url, json=change, headers=headers)), change
    assert_problem(await client.patch(f"/v1/sessions/{UNKNOWN_ID}", json={"capacity": 3}, headers=headers), 404)


async def test_started_and_cancelled_sessions_cannot_be_patched(
    client: httpx.AsyncClient, catalog: Catalog, booking: BookingStandIn
) -> None:
    headers = catalog.team["owner"].headers
    past = await catalog.scheduled_session(starts_at=later(hours=-2), ends_at=later(hours=-1))
    assert_problem(await client.patch(f"/v1/sessions/{past['id']}", json={"capacity": 50}, headers=headers), 409)
    running = await catalog.scheduled_session(starts_at=later(minutes=-10), ends_at=later(hours=1))
    assert_problem(await client.patch(f"/v1/sessions/{running['id']}", json={"capacity": 50}, headers=headers), 409)
    upcoming = await catalog.scheduled_session()
    assert (await client.post(f"/v1/sessions/{upcoming['id']}/cancel", headers=headers)).status_code == 200
    assert_problem(await client.patch(f"/v1/sessions/{upcoming['id']}", json={"capacity": 50}, headers=headers), 409)


async def test_cancel_is_idempotent_and_emits_once(
    client: httpx.AsyncClient, catalog: Catalog, outbox_rows: OutboxRows
) -> None:
    session = await catalog.scheduled_session()
    url = f"/v1/sessions/{session['id']}/cancel"
    headers = catalog.team["owner"].headers
    first = await client.post(url, json={"reason": "Typhoon warning / 台风预警"}, headers=headers)
    assert first.status_code == 200
    cancelled = first.json()
    assert cancelled["status"] == "cancelled" and cancelled["cancel_reason"] == "Typhoon warning / 台风预警"
    assert cancelled["cancelled_at"] is not None
    again = await client.post(url, headers=headers)
    assert again.status_code == 200 and again.json() == cancelled
    assert (await client.get(f"/v1/sessions/{session['id']}")).json() == cancelled
    rows = await outbox_rows(session["id"])
    assert [row.type for row in rows] == ["session.scheduled", "session.cancelled"]
    assert rows[1].payload["status"] == "cancelled"
    assert rows[1].payload["cancel_reason"] == "Typhoon warning / 台风预警"
    assert rows[1].payload["place"]["site_id"] == session["site_id"]
    internal = f"http://catalog.internal/internal/v1/sessions/{session['id']}"
    snapshot = (await client.get(internal, headers={INTERNAL_SECRET_HEADER: DEV_INTERNAL_SECRET})).json()
    assert snapshot["cancel_reason"] == "Typhoon warning / 台风预警"
    assert_problem(await client.post(url, json={"reason": ""}, headers=headers), 422)
    assert_problem(await client.post(url, json={"why": "x"}, headers=headers), 422)
    ended = await catalog.scheduled_session(starts_at=later(hours=-3), ends_at=later(hours=-2))
    assert_problem(await client.post(f"/v1/sessions/{ended['id']}/cancel", headers=headers), 409)
    assert_problem(await client.post(f"/v1/sessions/{UNKNOWN_ID}/cancel", headers=headers), 404)
