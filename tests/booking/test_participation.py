"""Participation analytics for operators (`GET /v1/learning-records/participation`): every figure equals a
count over the raw rows, grouped each way, live and from the tallies of finished sessions; and booking's copy
of the catalog's sites (`site.changed`)."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.models import Booking, Checkin, Inventory, SessionTally, SitePlace, table_of
from services.booking.participation.repository import NO_DISTRICT, NO_SITE, ONLINE, UNKNOWN_SITE
from services.booking.participation.tallies import tally_all
from shared.db import utcnow
from shared.events.schemas import EventEnvelope, SiteSnapshot
from shared.ids import new_id
from tests.booking.conftest import Mint
from tests.support import assert_problem

PATH = "/v1/learning-records/participation"
ZONE = ZoneInfo("Asia/Shanghai")
BYS = ("district", "urban", "site_kind", "activity_kind", "month")
FIGURES = ("sessions", "seats_offered", "bookings", "seats_booked", "checkins", "learning_minutes", "no_shows")

inventory, bookings, checkins = table_of(Inventory), table_of(Booking), table_of(Checkin)


# ---- site.changed -------------------------------------------------------------------------------------------


class SiteEvents:
    def __init__(self, booking: FastAPI) -> None:
        self._booking = booking
        self._sequences: defaultdict[UUID, int] = defaultdict(int)

    def envelope(self, snapshot: SiteSnapshot) -> EventEnvelope:
        self._sequences[snapshot.site_id] += 1
        return EventEnvelope(
            id=new_id(),
            type="site.changed",
            producer="catalog",
            aggregate_id=snapshot.site_id,
            sequence=self._sequences[snapshot.site_id],
            occurred_at=utcnow(),
            payload=snapshot.model_dump(mode="json"),
        )

    async def deliver(self, *envelopes: EventEnvelope) -> list[str]:
        async with self._booking.state.database.sessionmaker.begin() as db:
            results = await self._booking.state.inbox.accept_batch(db, list(envelopes))
        return [result.outcome for result in results]


def district(name: str) -> tuple[UUID, dict[str, str]]:
    return new_id(), {"zh-CN": name + "区", "en": name}


def site_snapshot(kind: str, place: tuple[UUID, dict[str, str]] | None, urban: bool | None) -> SiteSnapshot:
    return SiteSnapshot(
        site_id=new_id(),
        owner_org_id=new_id(),
        kind=kind,
        name={"en": f"A {kind}", "zh-CN": kind},
        district_id=place[0] if place else None,
        district_name=place[1] if place else None,
        urban=urban,
    )


async def place_of(apps: dict[str, FastAPI], site_id: UUID) -> Any:
    async with apps["booking"].state.database.sessionmaker() as db:
        return (await db.execute(select(table_of(SitePlace)).where(table_of(SitePlace).c.site_id == site_id))).one()


async def test_site_changed_is_stored_idempotently_and_the_newest_wins(apps: dict[str, FastAPI]) -> None:
    events = SiteEvents(apps["booking"])
    first = site_snapshot("library", district("Xihu"), True)
    created = events.envelope(first)
    assert await events.deliver(created) == ["applied"]
    assert await events.deliver(created) == ["duplicate"]
    stored = await place_of(apps, first.site_id)
    assert (stored.kind, stored.district_id, stored.district_name, stored.urban) == (
        "library",
        first.district_id,
        first.district_name,
        True,
    )

    # Two changes in one delivery, the newer sent first: the newest (highest sequence) is what stays.
    moved = first.model_copy(update={"district_id": None, "district_name": None, "urban": None})
    renamed = moved.model_copy(update={"kind": "museum", "name": {"en": "Museum"}})
    older, newer = events.envelope(moved), events.envelope(renamed)
    assert await events.deliver(newer, older) == ["applied", "applied"]
    stored = await place_of(apps, first.site_id)
    assert (stored.kind, stored.name, stored.district_id, stored.urban) == ("museum", {"en": "Museum"}, None, None)

    # A late redelivery of an older snapshot changes nothing.
    assert await events.deliver(created, older) == ["duplicate", "duplicate"]
    late = events.envelope(first)
    late = late.model_copy(update={"sequence": 2, "id": new_id()})
    assert await events.deliver(late) == ["stale"]
    assert (await place_of(apps, first.site_id)).kind == "museum"


# ---- the figures against the raw rows -----------------------------------------------------------------------


@dataclass
class History:
    """What the test wrote: sessions (some outside the range), bookings and check-ins, and its sites."""

    sites: dict[UUID, SiteSnapshot] = field(default_factory=dict)
    from_: datetime = field(default_factory=utcnow)
    to: datetime = field(default_factory=utcnow)


class Writer:
    def __init__(self, db: AsyncSession, now: datetime) -> None:
        self.db = db
        self.now = now
        self._codes = 0

    def code(self) -> str:
        self._codes += 1
        return f"participation-{new_id()}-{self._codes}"

    async def session(
        self,
        *,
        days: float,
        site_id: UUID | None,
        kind: str,
        capacity: int = 40,
        status: str = "scheduled",
        mode: str = "in_person",
        online_capacity: int = 0,
        minutes: int = 90,
    ) -> UUID:
        session_id = new_id()
        starts_at = self.now + timedelta(days=days)
        await self.db.execute(
            insert(inventory).values(
                session_id=session_id,
                activity_id=new_id(),
                host_org_id=new_id(),
                site_id=site_id,
                title={"en": "Session"},
                kind=kind,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=minutes),
                status=status,
                capacity=capacity,
                mode=mode,
                online_capacity=online_capacity,
            )
        )
        return session_id

    async def booking(
        self,
        session_id: UUID,
        status: str,
        *,
        seats: int = 1,
        organization_id: UUID | None = None,
        block_id: UUID | None = None,
        checked_in: bool = False,
        waitlist_seq: int | None = None,
    ) -> UUID:
        session = (await self.db.execute(select(inventory).where(inventory.c.session_id == session_id))).one()
        booking_id = new_id()
        person_id = new_id()
        await self.db.execute(
            insert(bookings).values(
                id=booking_id,
                session_id=session_id,
                person_id=person_id,
                organization_id=organization_id,
                block_id=block_id,
                seats=seats,
                status=status,
                session_ends_at=session.ends_at,
                waitlist_seq=waitlist_seq,
                checkin_code=self.code() if status == "confirmed" else None,
                created_at=self.now,
            )
        )
        if checked_in:
            minutes = int((session.ends_at - session.starts_at).total_seconds() // 60)
            await self.db.execute(
                insert(checkins).values(
                    booking_id=booking_id,
                    person_id=person_id,
                    session_id=session_id,
                    host_org_id=session.host_org_id,
                    title=session.title,
                    kind=session.kind,
                    starts_at=session.starts_at,
                    minutes=minutes,
                    checked_in_at=session.starts_at,
                    checked_in_by=new_id(),
                )
            )
        return booking_id

    async def attendance(self, session_id: UUID, *, attended: int, missed: int, cancelled: int = 0) -> None:
        for _ in range(attended):
            await self.booking(session_id, "confirmed", checked_in=True)
        for _ in range(missed):
            await self.booking(session_id, "no_show")
        for _ in range(cancelled):
            await self.booking(session_id, "cancelled")


@pytest.fixture
async def history(apps: dict[str, FastAPI]) -> History:
    """A varied history: sessions at urban, rural and district-less sites, at a site booking never heard of,
    online and in person without a site; cancelled, future and out-of-range ones; own bookings of one and two
    seats, organization blocks with member lines, no-shows, cancellations, the waitlist."""
    now = utcnow()
    events = SiteEvents(apps["booking"])
    xihu, chunan = district("Xihu"), district("Chun'an")
    sites = [
        site_snapshot("library", xihu, True),
        site_snapshot("museum", xihu, True),
        site_snapshot("cultural_hall", chunan, False),
        site_snapshot("park", None, None),
    ]
    assert await events.deliver(*(events.envelope(s) for s in sites)) == ["applied"] * len(sites)
    library, museum, hall, park = (s.site_id for s in sites)
    unknown = new_id()
    result = History({s.site_id: s for s in sites}, now - timedelta(days=80), now + timedelta(days=20))
    async with apps["booking"].state.database.sessionmaker.begin() as db:
        w = Writer(db, now)
        s1 = await w.session(days=-60, site_id=library, kind="lecture", minutes=120)
        await w.attendance(s1, attended=5, missed=2, cancelled=1)
        await w.booking(s1, "confirmed", seats=2, checked_in=True)
        # An organization block of 4 seats: two named to members (one came, one did not), its own code used.
        org = new_id()
        block = await w.booking(s1, "confirmed", seats=4, organization_id=org, checked_in=True)
        await w.booking(s1, "confirmed", organization_id=org, block_id=block, checked_in=True)
        await w.booking(s1, "no_show", organization_id=org, block_id=block)
        s2 = await w.session(days=-25, site_id=museum, kind="reading")
        await w.attendance(s2, attended=3, missed=0, cancelled=2)
        await w.booking(s2, "confirmed")  # not yet swept: held a seat, neither checked in nor a no-show yet
        s3 = await w.session(days=-40, site_id=hall, kind="lecture", capacity=20, minutes=60)
        await w.attendance(s3, attended=2, missed=3)
        s4 = await w.session(days=-10, site_id=park, kind="workshop")
        await w.attendance(s4, attended=1, missed=1)
        s5 = await w.session(days=-5, site_id=unknown, kind="workshop")
        await w.attendance(s5, attended=4, missed=0)
        s6 = await w.session(days=-3, site_id=None, kind="lecture", mode="online", capacity=100)
        await w.attendance(s6, attended=6, missed=2)
        s7 = await w.session(days=-2, site_id=None, kind="reading", mode="hybrid", online_capacity=30)
        await w.attendance(s7, attended=1, missed=0)
        cancelled = await w.session(days=-15, site_id=library, kind="reading", status="cancelled")
        await w.attendance(cancelled, attended=0, missed=0, cancelled=3)
        future = await w.session(days=7, site_id=hall, kind="lecture", capacity=25)
        await w.booking(future, "confirmed")
        await w.booking(future, "confirmed", seats=3)
        await w.booking(future, "waitlisted", waitlist_seq=1)
        # Outside the range: never counted.
        old = await w.session(days=-200, site_id=library, kind="lecture")
        await w.attendance(old, attended=7, missed=1)
        late = await w.session(days=30, site_id=library, kind="lecture")
        await w.booking(late, "confirmed")
    return result


def group_of(by: str, session: Any, places: dict[UUID, SiteSnapshot]) -> str:
    if by == "activity_kind":
        return str(session.kind)
    if by == "month":
        return str(session.starts_at.astimezone(ZONE).strftime("%Y-%m"))
    if session.site_id is None:
        return ONLINE if session.mode == "online" else NO_SITE
    place = places.get(session.site_id)
    if place is None:
        return UNKNOWN_SITE
    if by == "site_kind":
        return place.kind
    if place.district_id is None:
        return NO_DISTRICT
    if by == "district":
        return str(place.district_id)
    return "urban" if place.urban else "rural"


def expected(by: str, rows: dict[str, list[Any]], history: History, now: datetime) -> dict[str, dict[str, Any]]:
    """The figures per group, counted in Python over the raw rows, as the endpoint documents them."""
    in_range = {s.session_id: s for s in rows["sessions"] if history.from_ <= s.starts_at < history.to}
    tallies: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    key = {session_id: group_of(by, s, history.sites) for session_id, s in in_range.items()}
    for session_id, s in in_range.items():
        figures = tallies[key[session_id]]
        if s.status == "scheduled":
            figures["sessions"] += 1
            figures["seats_offered"] += s.capacity + s.online_capacity
            if s.starts_at <= now:
                figures["past_offered"] += s.capacity + s.online_capacity
        held = [
            b
            for b in rows["bookings"]
            if b.session_id == session_id and b.status in ("confirmed", "no_show") and b.block_id is None
        ]
        figures["bookings"] += len(held)
        figures["seats_booked"] += sum(b.seats for b in held)
        if s.status == "scheduled" and s.starts_at <= now:
            figures["past_booked"] += sum(b.seats for b in held)
        figures["no_shows"] += sum(1 for b in rows["bookings"] if b.session_id == session_id and b.status == "no_show")
        attended = [c for c in rows["checkins"] if c.session_id == session_id]
        figures["checkins"] += len(attended)
        figures["learning_minutes"] += sum(c.minutes for c in attended)
    return {group: dict(figures) for group, figures in tallies.items()}


async def raw_rows(apps: dict[str, FastAPI]) -> dict[str, list[Any]]:
    async with apps["booking"].state.database.sessionmaker() as db:
        return {
            name: list((await db.execute(select(table))).all())
            for name, table in (("sessions", inventory), ("bookings", bookings), ("checkins", checkins))
        }


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def assert_figures(actual: dict[str, Any], counted: dict[str, int]) -> None:
    for name in FIGURES:
        assert actual[name] == counted.get(name, 0), (name, actual, counted)
    assert actual["fill_rate"] == rate(counted.get("past_booked", 0), counted.get("past_offered", 0))
    no_shows, attended = counted.get("no_shows", 0), counted.get("checkins", 0)
    assert actual["no_show_rate"] == rate(no_shows, attended + no_shows)


def totals_of(groups: dict[str, dict[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for figures in groups.values():
        for name, value in figures.items():
            totals[name] += value
    return dict(totals)


async def participation(client: httpx.AsyncClient, person: Any, history: History, by: str) -> dict[str, Any]:
    params = {"by": by, "from": history.from_.isoformat(), "to": history.to.isoformat()}
    response = await client.get(PATH, params=params, headers=person.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def each_by() -> Iterator[str]:
    yield from BYS


async def assert_report_matches_rows(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], operator: Any, history: History
) -> None:
    rows = await raw_rows(apps)
    for by in each_by():
        body = await participation(client, operator, history, by)
        counted = expected(by, rows, history, utcnow())
        assert body["by"] == by and body["time_zone"] == "Asia/Shanghai"
        assert body["organizations_activity"] == "/v1/learning-records/organizations-activity"
        assert [g["key"] for g in body["groups"]] == sorted(counted), by
        for group in body["groups"]:
            assert_figures(group, counted[group["key"]])
        assert_figures(body["totals"], totals_of(counted))


async def test_every_figure_equals_a_count_over_the_raw_rows_grouped_each_way(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], mint: Mint, history: History
) -> None:
    operator = mint(roles=["operator"])
    await assert_report_matches_rows(client, apps, operator, history)

    body = await participation(client, operator, history, "district")
    names = {g["key"]: g["name"] for g in body["groups"]}
    for place in history.sites.values():
        if place.district_id is not None:
            assert names[str(place.district_id)] == place.district_name
    assert {ONLINE, NO_SITE, UNKNOWN_SITE, NO_DISTRICT} <= set(names)
    assert names[ONLINE] is None
    urban = await participation(client, operator, history, "urban")
    assert {g["key"] for g in urban["groups"]} == {"urban", "rural", ONLINE, NO_SITE, UNKNOWN_SITE, NO_DISTRICT}
    # The block's 4 seats are counted once (its member lines are seats of it), the lines' no-show counted.
    totals = body["totals"]
    assert totals["bookings"] < sum(1 for b in (await raw_rows(apps))["bookings"] if b.status != "cancelled")


async def test_tallies_of_finished_sessions_give_the_same_figures_and_follow_changes(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], mint: Mint, history: History
) -> None:
    operator = mint(roles=["operator"])
    database = apps["booking"].state.database
    before = {by: await participation(client, operator, history, by) for by in BYS}
    # Every finished session but the one with a confirmed seat the no-show sweep has yet to mark.
    tallied = await tally_all(database)
    assert tallied >= 8
    assert await tally_all(database) == 0  # nothing left to do
    for by in BYS:
        assert await participation(client, operator, history, by) == before[by]

    # A finished session cancelled by its host afterwards (its bookings cancelled, its row changed): the
    # tally is stale and the live figures are read until it is tallied again.
    async with database.sessionmaker.begin() as db:
        tally = table_of(SessionTally)
        session_id = (await db.execute(select(tally.c.session_id).order_by(tally.c.bookings.desc()))).scalars().first()
        assert session_id is not None
        await db.execute(
            update(bookings)
            .where(bookings.c.session_id == session_id, bookings.c.status == "confirmed")
            .values(status="cancelled", checkin_code=None, cancelled_at=utcnow())
        )
        await db.execute(
            update(inventory)
            .where(inventory.c.session_id == session_id)
            .values(status="cancelled", confirmed_seats=0, updated_at=utcnow())
        )
    await assert_report_matches_rows(client, apps, operator, history)
    assert await tally_all(database) == 1
    await assert_report_matches_rows(client, apps, operator, history)


async def test_the_default_range_is_the_last_twelve_months(
    client: httpx.AsyncClient, mint: Mint, history: History
) -> None:
    response = await client.get(PATH, params={"by": "month"}, headers=mint(roles=["operator"]).headers)
    assert response.status_code == 200, response.text
    body = response.json()
    start = datetime.fromisoformat(body["from"]).astimezone(ZONE)
    assert (start.day, start.hour, start.minute) == (1, 0, 0)
    now = utcnow().astimezone(ZONE)
    assert (now.year * 12 + now.month) - (start.year * 12 + start.month) == 11
    assert datetime.fromisoformat(body["to"]) <= utcnow()
    months = [g["key"] for g in body["groups"]]
    assert months == sorted(months) and all(len(m) == 7 for m in months)
    # The sessions of the last 80 days are in; the future ones are not (they start after `to`).
    assert body["totals"]["checkins"] > 0


async def test_only_operators_see_participation(client: httpx.AsyncClient, mint: Mint) -> None:
    assert_problem(await client.get(PATH), 401)
    assert_problem(await client.get(PATH, headers=mint().headers), 403)
    assert (await client.get(PATH, headers=mint(roles=["operator"]).headers)).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"by": "borough"},
        {"from": "2027-03-01T00:00:00+08:00", "to": "2027-03-01T00:00:00+08:00"},
        {"from": "2027-03-02T00:00:00+08:00", "to": "2027-03-01T00:00:00+08:00"},
        {"from": "2026-01-01T00:00:00+08:00", "to": "2027-03-01T00:00:00+08:00"},
        {"from": "2027-03-01T00:00:00"},
        {"from": "1700000000"},
        {"to": "yesterday"},
    ],
)
async def test_bad_queries_are_refused(client: httpx.AsyncClient, mint: Mint, params: dict[str, str]) -> None:
    assert_problem(await client.get(PATH, params=params, headers=mint(roles=["operator"]).headers), 422)
