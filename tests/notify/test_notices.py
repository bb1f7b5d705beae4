"""Every kind of notice, from the events that cause it, and each exactly once per person and cause."""

import asyncio
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.booking.conftest import organization
from tests.notify.conftest import GONGSHU_HALL, Bookings, Catalog, EventSender, Mint, inbox, kinds, put_contact, scalar
from tests.support import assert_problem

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(days: int, hour: int, minute: int = 0) -> datetime:
    day = datetime.now(SHANGHAI).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


async def test_a_confirmed_booking_is_told_with_time_place_and_code(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    person = mint()
    await put_contact(apps["notify"], person, email=None, language="zh-CN", name="小明")
    session = await catalog.schedule(starts_at=shanghai(3, 19), ends_at=shanghai(3, 20, 30))
    booking = await bookings.confirm(person.id, session.session_id, seats=2)

    (notice,) = await inbox(client, person)
    assert notice["kind"] == "booking_confirmed"
    assert notice["title"] == "预约成功：西湖读书会"
    assert "小明" in notice["body"] and "2 个座位" in notice["body"]
    assert "19:00–20:30" in notice["body"]  # Asia/Shanghai wall time
    assert "湖滨图书馆" in notice["body"] and "1 Hubin Road" in notice["body"]
    assert booking.checkin_code is not None and booking.checkin_code in notice["body"]
    assert notice["booking_id"] == str(booking.booking_id)
    assert notice["session_id"] == str(session.session_id)
    assert notice["read_at"] is None


async def test_waitlisted_promoted_and_cancelled_notices(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    person, other = mint(), mint()
    await put_contact(apps["notify"], person, email=None, language="en")
    session = await catalog.schedule()
    waiting = await bookings.send("waitlisted", person.id, session.session_id, position=3)
    (notice,) = await inbox(client, person)
    assert notice["kind"] == "booking_waitlisted"
    assert "position 3" in notice["body"]

    promoted = await bookings.confirm(person.id, session.session_id, booking_id=waiting.booking_id, cause="promoted")
    assert (await inbox(client, person))[0]["title"] == "You have a seat: West Lake reading circle"
    await bookings.cancel(promoted, "by_owner")
    assert await kinds(client, person) == ["booking_waitlisted", "waitlist_promoted", "booking_cancelled"]
    assert "You cancelled" in (await inbox(client, person))[0]["body"]

    theirs = await bookings.confirm(other.id, session.session_id)
    await bookings.cancel(theirs, "by_org_admin")
    assert await kinds(client, other) == ["booking_confirmed", "booking_cancelled"]
    # No contact at orgs (never registered): notices still come, in the default language.
    assert "您所在机构的管理员" in (await inbox(client, other))[0]["body"]


async def test_an_erasure_cancellation_tells_nobody_and_keeps_nothing_of_the_booking(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    person = mint()
    session = await catalog.schedule()
    booking = await bookings.confirm(person.id, session.session_id)
    await bookings.cancel(booking, "erased")
    assert await kinds(client, person) == ["booking_confirmed"]
    for table in ("holdings", "reminders"):
        count = await scalar(
            apps["notify"], f"SELECT count(*) FROM notify.{table} WHERE booking_id = :id", id=booking.booking_id
        )
        assert count == 0, table


async def test_a_host_cancellation_is_one_notice_per_holder_whichever_event_comes_first(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    early, late, waiting, gone = mint(), mint(), mint(), mint()
    session = await catalog.schedule()
    held = {p.id: await bookings.confirm(p.id, session.session_id) for p in (early, late, gone)}
    held[waiting.id] = await bookings.send("waitlisted", waiting.id, session.session_id, position=1)
    await bookings.cancel(held[gone.id], "by_owner")

    # booking's cancellation reaches notify before the catalog's own event, for one holder...
    first, _ = bookings.event(
        "cancelled", early.id, session.session_id, booking_id=held[early.id].booking_id, cause="session_cancelled"
    )
    assert await catalog.sender.deliver(first) == ["applied"]
    # ...then the catalog's event (twice), then booking's for the rest.
    cancelled = catalog.cancelled(session, reason="The reader is ill")
    assert await catalog.sender.deliver(cancelled) == ["applied"]
    assert await catalog.sender.deliver(cancelled) == ["duplicate"]
    rest = [
        bookings.event(
            "cancelled", p.id, session.session_id, booking_id=held[p.id].booking_id, cause="session_cancelled"
        )[0]
        for p in (late, waiting)
    ]
    assert await catalog.sender.deliver(*rest) == ["applied", "applied"]

    for person in (early, late, waiting):
        notices = [n for n in await inbox(client, person) if n["kind"] == "session_cancelled"]
        assert len(notices) == 1, notices
        assert notices[0]["session_id"] == str(session.session_id)
    assert "session_cancelled" not in await kinds(client, gone)
    # The catalog was asked when booking's cancellation came first: the host's reason is known.
    reason = await scalar(
        apps["notify"], "SELECT cancel_reason FROM notify.sessions WHERE session_id = :id", id=session.session_id
    )
    assert reason == "The reader is ill"


async def test_a_moved_session_tells_confirmed_and_waiting_holders(
    client: httpx.AsyncClient, catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    confirmed, waiting, cancelled = mint(), mint(), mint()
    session = await catalog.schedule(starts_at=shanghai(4, 19), ends_at=shanghai(4, 20))
    await bookings.confirm(confirmed.id, session.session_id)
    await bookings.send("waitlisted", waiting.id, session.session_id, position=1)
    await bookings.cancel(await bookings.confirm(cancelled.id, session.session_id), "by_owner")

    resized = await catalog.update(session, capacity=20)  # not a change anyone is told of
    assert await kinds(client, confirmed) == ["booking_confirmed"]
    await catalog.update(
        resized,
        starts_at=shanghai(5, 9),
        ends_at=shanghai(5, 10, 30),
        site_id=GONGSHU_HALL.site_id,
        place=GONGSHU_HALL,
    )

    for person in (confirmed, waiting):
        notice = (await inbox(client, person))[0]
        assert notice["kind"] == "session_changed"
        assert "时间和地点" in notice["body"] and "09:00–10:30" in notice["body"] and "拱墅文化馆" in notice["body"]
    assert await kinds(client, confirmed) == ["booking_confirmed", "session_changed"]
    assert "session_changed" not in await kinds(client, cancelled)


async def test_a_redelivered_batch_changes_nothing(
    client: httpx.AsyncClient, catalog: Catalog, bookings: Bookings, sender: EventSender, mint: Mint
) -> None:
    people = [mint() for _ in range(3)]
    session = await catalog.schedule()
    batch = [bookings.event("confirmed", p.id, session.session_id)[0] for p in people]
    assert await sender.deliver(*batch) == ["applied"] * 3
    assert await sender.deliver(*batch) == ["duplicate"] * 3
    for person in people:
        assert await kinds(client, person) == ["booking_confirmed"]


async def test_two_replicas_handling_one_cause_make_one_notice(
    client: httpx.AsyncClient, catalog: Catalog, bookings: Bookings, sender: EventSender, mint: Mint
) -> None:
    """The same cause in two events (as when the catalog's and booking's reports of a cancellation cross),
    handled at the same moment: the unique (person, cause) leaves one notice."""
    people = [mint() for _ in range(5)]
    session = await catalog.schedule()
    held = [await bookings.confirm(p.id, session.session_id) for p in people]
    cancellations = [
        bookings.event("cancelled", b.person_id, b.session_id, booking_id=b.booking_id, cause="session_cancelled")[0]
        for b in held
    ]
    outcomes = await asyncio.gather(sender.deliver(catalog.cancelled(session)), sender.deliver(*cancellations))
    assert list(outcomes) == [["applied"], ["applied"] * 5]
    for person in people:
        assert await kinds(client, person) == ["booking_confirmed", "session_cancelled"]


async def test_a_session_notify_never_heard_of_is_asked_of_the_catalog(
    client: httpx.AsyncClient, bookings: Bookings, mint: Mint
) -> None:
    org = await organization(client, roles=("admin",))
    admin = org["admin"].headers
    activity = await client.post(
        "/v1/activities",
        json={"title": {"zh-CN": "古琴入门", "en": "Guqin for beginners"}, "kind": "workshop", "host_org_id": org.id},
        headers=admin,
    )
    assert activity.status_code == 201, activity.text
    starts_at = shanghai(6, 14)
    created = await client.post(
        f"/v1/activities/{activity.json()['id']}/sessions",
        json={
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + timedelta(hours=2)).isoformat(),
            "capacity": 5,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    session_id = UUID(created.json()["items"][0]["id"])

    person = mint()
    await bookings.confirm(person.id, session_id)
    (notice,) = await inbox(client, person)
    assert notice["title"] == "预约成功：古琴入门"
    assert "14:00–16:00" in notice["body"]


def _down(_: object) -> JSONResponse:
    return JSONResponse({"detail": "down for maintenance"}, status_code=503)


async def test_a_peer_down_fails_its_event_alone_and_redelivery_applies_it(
    client: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    catalog: Catalog,
    bookings: Bookings,
    sender: EventSender,
    mint: Mint,
) -> None:
    known = await catalog.schedule()
    unknown = catalog.scheduled()  # the catalog's event has not come: notify must ask the catalog
    person, other = mint(), mint()
    needs_catalog, _ = bookings.event("confirmed", person.id, unknown.session_id)
    fine, _ = bookings.event("confirmed", other.id, known.session_id)

    usual = apps["catalog"]
    apps["catalog"] = Starlette(routes=[Route("/{path:path}", _down)])  # type: ignore[assignment]
    try:
        assert await sender.deliver(needs_catalog, fine) == ["failed", "applied"]
    finally:
        apps["catalog"] = usual
    assert await inbox(client, person) == []
    assert await kinds(client, other) == ["booking_confirmed"]

    # The relay delivers it again later; by then the catalog knows the session (its event came).
    assert await sender.deliver(catalog.event("session.scheduled", unknown)) == ["applied"]
    assert await sender.deliver(needs_catalog) == ["applied"]
    assert await kinds(client, person) == ["booking_confirmed"]


async def test_the_inbox_pages_newest_first_filters_unread_and_marks_read(
    client: httpx.AsyncClient, catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    person, stranger = mint(), mint()
    sessions = [await catalog.schedule() for _ in range(5)]
    made = [await bookings.confirm(person.id, s.session_id) for s in sessions]

    first = await client.get("/v1/notifications", params={"limit": 2}, headers=person.headers)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [n["booking_id"] for n in page["items"]] == [str(made[4].booking_id), str(made[3].booking_id)]
    rest = await client.get(
        "/v1/notifications", params={"limit": 10, "cursor": page["next_cursor"]}, headers=person.headers
    )
    assert [n["booking_id"] for n in rest.json()["items"]] == [str(b.booking_id) for b in reversed(made[:3])]
    assert rest.json()["next_cursor"] is None

    target = page["items"][1]["id"]
    read = await client.post(f"/v1/notifications/{target}/read", headers=person.headers)
    assert read.status_code == 200, read.text
    read_at = read.json()["read_at"]
    assert read_at is not None
    again = await client.post(f"/v1/notifications/{target}/read", headers=person.headers)
    assert again.json()["read_at"] == read_at  # the first reading's time stays
    unread = await inbox(client, person, unread="true")
    assert len(unread) == 4 and target not in {n["id"] for n in unread}

    assert_problem(await client.post(f"/v1/notifications/{target}/read", headers=stranger.headers), 404)
    assert await inbox(client, stranger) == []
    assert_problem(await client.get("/v1/notifications"), 401)
    assert_problem(await client.get("/v1/notifications", params={"limit": 101}, headers=person.headers), 422)
    assert_problem(await client.get("/v1/notifications", params={"cursor": "bm9wZQ"}, headers=person.headers), 422)


async def test_a_session_with_thousands_of_holders_tells_each_once(
    apps: dict[str, FastAPI], catalog: Catalog, sender: EventSender
) -> None:
    """More rows than one statement may carry parameters for (PostgreSQL: 32767)."""
    notify = apps["notify"]
    session = await catalog.schedule(capacity=5000)
    async with notify.state.database.sessionmaker.begin() as db:
        await db.execute(
            text(
                "WITH people AS (SELECT gen_random_uuid() AS person_id FROM generate_series(1, 4000)),"
                " contacts AS (INSERT INTO notify.contacts (person_id, email, display_name, language, fetched_at)"
                "  SELECT person_id, NULL, 'Reader', 'en', now() FROM people)"
                " INSERT INTO notify.holdings (booking_id, person_id, session_id, status, seats, checkin_code)"
                " SELECT gen_random_uuid(), person_id, :session_id, 'confirmed', 1, md5(person_id::text) FROM people"
            ),
            {"session_id": session.session_id},
        )
    assert await sender.deliver(catalog.cancelled(session)) == ["applied"]
    count = "SELECT count(DISTINCT person_id) FROM notify.notifications WHERE kind = 'session_cancelled'"
    assert await scalar(notify, count) == 4000
