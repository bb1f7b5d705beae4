"""The demo city: Hangzhou's libraries, museums, theatres, cinemas and rural cultural halls, the
organizations behind them, their activities, the West Lake Reading Festival, and sessions over the coming
eight weeks (from `hangzhou.json`).

A development tool (`learncity up` on a fresh database, `learncity seed --demo`, both through
`learncity.demo`, which also has the orgs service seed the organizations). This module writes the catalog
schema through the catalog's own service code, so every new session also lands in the catalog outbox as
`session.scheduled` and booking learns it when the relay runs. Idempotent: every row has a deterministic
id (`shared.ids.demo_id` of its key, the organizations' as orgs gives them) and what exists is skipped, so
a second run adds nothing.

`seed_history` adds the city's past: the activities outside a series met over the last `HISTORY_WEEKS`
weeks (written like any other session, `session.scheduled` included, so booking learns them as it learns
every session); it returns them for the runner to hand booking, which writes who booked and came.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from services.catalog.activities.schemas import ActivityCreate
from services.catalog.activities.service import add_activity
from services.catalog.demo.districts import seed_districts
from services.catalog.models import SCHEMA, Activity, ActivitySession, Series, Site, event_tables
from services.catalog.series.schemas import SeriesCreate
from services.catalog.series.service import add_series
from services.catalog.sessions.repository import ActivitySessionRepository
from services.catalog.sessions.service import add_sessions, snapshot
from services.catalog.sessions.timing import SessionTimes
from services.catalog.settings import CatalogSettings
from services.catalog.sites.schemas import LocationIn, SiteCreate
from services.catalog.sites.service import add_site
from shared.db import async_url
from shared.events.outbox import Outbox
from shared.events.schemas import SessionSnapshot
from shared.ids import demo_id

DATA_FILE = Path(__file__).with_name("hangzhou.json")
CITY_ZONE = ZoneInfo("Asia/Shanghai")
WEEKS_AHEAD = 8


def load_demo_data() -> dict[str, Any]:
    """`hangzhou.json`: organizations, sites, series and activities of the demo city."""
    data: dict[str, Any] = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return data


def _catalog_outbox(subscriptions: dict[str, list[str]] | None) -> Outbox:
    """The catalog's outbox, with `subscriptions` or else the catalog's configured ones."""
    return Outbox(
        event_tables,
        producer=SCHEMA,
        subscriptions=subscriptions if subscriptions is not None else CatalogSettings().event_subscriptions,
    )


@dataclass
class _Seeding:
    db: AsyncSession
    outbox: Outbox
    today: date
    counts: dict[str, int] = field(default_factory=dict)
    series_dates: dict[str, tuple[date, date]] = field(default_factory=dict)

    def added(self, kind: str, number: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + number


async def _sites(seeding: _Seeding, records: list[dict[str, Any]]) -> None:
    for record in records:
        site_id = demo_id("site", record["key"])
        if await seeding.db.get(Site, site_id) is not None:
            continue
        body = SiteCreate(
            name=record["name"],
            kind=record["kind"],
            location=LocationIn(lat=record["lat"], lon=record["lon"]),
            address=record["address"],
            district=record.get("district"),
            owner_org_id=demo_id("organization", record["owner_org"]),
            accessibility=record.get("accessibility", []),
            opening_hours=record.get("opening_hours"),
        )
        await add_site(seeding.db, body, outbox=seeding.outbox, site_id=site_id)
        seeding.added("sites")


async def _series(seeding: _Seeding, records: list[dict[str, Any]]) -> None:
    for record in records:
        starts_on = seeding.today + timedelta(days=record["starts_in_days"])
        ends_on = starts_on + timedelta(days=record["length_days"] - 1)
        series_id = demo_id("series", record["key"])
        existing = await seeding.db.get(Series, series_id)
        if existing is not None:
            seeding.series_dates[record["key"]] = (existing.starts_on, existing.ends_on)
            continue
        body = SeriesCreate(
            name=record["name"],
            kind=record["kind"],
            starts_on=starts_on,
            ends_on=ends_on,
            organizer_org_id=demo_id("organization", record["organizer_org"]),
        )
        await add_series(seeding.db, body, series_id=series_id)
        seeding.series_dates[record["key"]] = (starts_on, ends_on)
        seeding.added("series")


async def _activities(seeding: _Seeding, records: list[dict[str, Any]]) -> None:
    for record in records:
        activity_id = demo_id("activity", record["key"])
        activity = await seeding.db.get(Activity, activity_id)
        if activity is None:
            body = ActivityCreate(
                title=record["title"],
                description=record.get("description"),
                kind=record["kind"],
                topics=record.get("topics", []),
                audience=record.get("audience", []),
                language=record.get("language"),
                host_org_id=demo_id("organization", record["host_org"]),
                site_id=demo_id("site", record["site"]) if record.get("site") else None,
                series_id=demo_id("series", record["series"]) if record.get("series") else None,
                price_cents=record.get("price_cents", 0),
                mode=record.get("mode", "in_person"),
                join_url=record.get("join_url"),
            )
            activity = await add_activity(seeding.db, body, activity_id=activity_id)
            seeding.added("activities")
        await _sessions(seeding, activity, record)


def _session_dates(seeding: _Seeding, record: dict[str, Any]) -> list[date]:
    """The schedule's weekdays (ISO: 1 = Monday) for `weeks` weeks from the start of its series (or today),
    inside the coming eight weeks and the series' dates."""
    schedule = record["schedule"]
    first, last = seeding.today, seeding.today + timedelta(weeks=WEEKS_AHEAD) - timedelta(days=1)
    if record.get("series"):
        series_starts, series_ends = seeding.series_dates[record["series"]]
        first, last = max(first, series_starts), min(last, series_ends)
    last = min(last, first + timedelta(weeks=schedule["weeks"]) - timedelta(days=1))
    days = (first + timedelta(days=offset) for offset in range((last - first).days + 1))
    return [day for day in days if day.isoweekday() in schedule["weekdays"]]


def _times(day: date, schedule: dict[str, Any]) -> SessionTimes:
    hours, minutes = (int(part) for part in schedule["start"].split(":"))
    starts_at = datetime.combine(day, time(hours, minutes), tzinfo=CITY_ZONE).astimezone(UTC)
    opens_days = schedule.get("booking_opens_days_before")
    return SessionTimes(
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=schedule["minutes"]),
        booking_opens_at=None if opens_days is None else starts_at - timedelta(days=opens_days),
    )


def _planned(record: dict[str, Any], days: list[date]) -> dict[UUID, date]:
    """The sessions of an activity on `days`, by id (one per activity and day, past or future)."""
    return {demo_id("session", f"{record['key']}:{day.isoformat()}"): day for day in days}


async def _sessions(seeding: _Seeding, activity: Activity, record: dict[str, Any]) -> None:
    added = await _add_missing(seeding, activity, record, _planned(record, _session_dates(seeding, record)))
    seeding.added("sessions", len(added))


async def _add_missing(
    seeding: _Seeding, activity: Activity, record: dict[str, Any], planned: dict[UUID, date]
) -> list[ActivitySession]:
    """The sessions of `planned` that do not exist yet, added through the catalog's `add_sessions`."""
    if not planned:
        return []
    existing = await ActivitySessionRepository(seeding.db).with_existing_ids(list(planned))
    missing = [(session_id, day) for session_id, day in planned.items() if session_id not in existing]
    if not missing:
        return []
    schedule = record["schedule"]
    # The activity's stored mode decides (a city seeded before it had modes keeps in-person activities).
    return await add_sessions(
        seeding.db,
        seeding.outbox,
        activity,
        [_times(day, schedule) for _, day in missing],
        capacity=schedule["capacity"],
        accessible_seats=0 if activity.mode == "online" else schedule.get("accessible_seats", 0),
        online_capacity=schedule.get("online_capacity") if activity.mode == "hybrid" else None,
        session_ids=[session_id for session_id, _ in missing],
    )


async def seed_catalog(
    database_url: str,
    data: dict[str, Any],
    *,
    today: date | None = None,
    subscriptions: dict[str, list[str]] | None = None,
) -> dict[str, int]:
    """Load the demo city's sites, series, activities and sessions from `data` (one transaction); returns
    how many rows of each kind were added (zeros when it was already there). `today` (Asia/Shanghai)
    anchors the series and the eight weeks of sessions."""
    engine = create_async_engine(async_url(database_url))
    outbox = _catalog_outbox(subscriptions)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False, autoflush=False).begin() as db:
            seeding = _Seeding(db=db, outbox=outbox, today=today or datetime.now(CITY_ZONE).date())
            seeding.counts = dict.fromkeys(("sites", "series", "activities", "sessions"), 0)
            await seed_districts(db, outbox)  # before the sites, so each is created in its district
            await _sites(seeding, data["sites"])
            await _series(seeding, data["series"])
            await _activities(seeding, data["activities"])
            return seeding.counts
    finally:
        await engine.dispose()


# The demo city's past: how many weeks back, and how often each kind of activity met (every n weeks).
HISTORY_WEEKS = 20
_EVERY_WEEKS = {"course": 1, "study_group": 1, "workshop": 1, "exhibition": 1, "performance": 4, "forum": 4}
_DEFAULT_EVERY_WEEKS = 2


@dataclass(frozen=True, slots=True)
class PastSession:
    """A session of the demo city's past as the runner hands it on: the catalog's snapshot (what its
    `session.scheduled` carries) and where it took place (the site's kind and free-text district; None for
    an online activity)."""

    snapshot: SessionSnapshot
    site_kind: str | None
    district: str | None


@dataclass(frozen=True, slots=True)
class CatalogHistory:
    added: int  # sessions this run added
    sessions: list[PastSession]  # every session of the history, those that existed already too


def history_dates(today: date, record: dict[str, Any]) -> list[date]:
    """The days an activity outside a series met before `today`: on the first weekday of its schedule,
    every week or every few weeks (by kind), back to `HISTORY_WEEKS` weeks ago. A series' activities (the
    festival) are ahead of the city, not behind it."""
    if record.get("series"):
        return []
    weekday = record["schedule"]["weekdays"][0]
    day = today - timedelta(days=1)
    day -= timedelta(days=(day.isoweekday() - weekday) % 7)
    first = today - timedelta(weeks=HISTORY_WEEKS)
    step = timedelta(weeks=_EVERY_WEEKS.get(record["kind"], _DEFAULT_EVERY_WEEKS))
    days = []
    while day >= first:
        days.append(day)
        day -= step
    return days[::-1]


async def _history(seeding: _Seeding, records: list[dict[str, Any]]) -> list[PastSession]:
    past: list[PastSession] = []
    sites: dict[UUID, Site | None] = {}
    for record in records:
        planned = _planned(record, history_dates(seeding.today, record))
        activity = await seeding.db.get(Activity, demo_id("activity", record["key"])) if planned else None
        if activity is None:  # `seed_catalog` adds the activities
            continue
        added = await _add_missing(seeding, activity, record, planned)
        seeding.added("past_sessions", len(added))
        rows = (await seeding.db.scalars(select(ActivitySession).where(ActivitySession.id.in_(list(planned))))).all()
        site_id = activity.site_id
        if site_id is not None and site_id not in sites:
            sites[site_id] = await seeding.db.get(Site, site_id)
        site = None if site_id is None else sites[site_id]
        for row in sorted(rows, key=lambda row: row.starts_at):
            past.append(
                PastSession(
                    snapshot(row, activity, site),
                    site_kind=None if site is None else site.kind,
                    district=None if site is None else site.district,
                )
            )
    return past


async def seed_history(
    database_url: str,
    data: dict[str, Any],
    *,
    today: date | None = None,
    subscriptions: dict[str, list[str]] | None = None,
) -> CatalogHistory:
    """The past sessions of the demo city's activities (after `seed_catalog`; one transaction): adds the
    missing ones and returns every one of them. `today` (Asia/Shanghai): the history ends the day before."""
    engine = create_async_engine(async_url(database_url))
    outbox = _catalog_outbox(subscriptions)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False, autoflush=False).begin() as db:
            seeding = _Seeding(db=db, outbox=outbox, today=today or datetime.now(CITY_ZONE).date())
            seeding.counts = {"past_sessions": 0}
            past = await _history(seeding, data["activities"])
            return CatalogHistory(added=seeding.counts["past_sessions"], sessions=past)
    finally:
        await engine.dispose()
