"""The demo city: Hangzhou's libraries, museums, theatres, cinemas and rural cultural halls, the
organizations behind them, their activities, the West Lake Reading Festival, and sessions over the coming
eight weeks (from `hangzhou.json`).

A development tool (`learncity up` on a fresh database, `learncity seed --demo`). It writes the orgs
schema through the orgs models (one demo account owning every demo organization) and the catalog schema
through the catalog's own service code, so every new session also lands in the catalog outbox as
`session.scheduled` and booking learns it when the relay runs. Idempotent: every row has a deterministic
id (uuid5 of its key) and what exists is skipped, so a second run adds nothing.
"""

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from services.catalog.activities.schemas import ActivityCreate
from services.catalog.activities.service import add_activity
from services.catalog.models import SCHEMA, Activity, Series, Site, event_tables
from services.catalog.series.schemas import SeriesCreate
from services.catalog.series.service import add_series
from services.catalog.sessions.repository import ActivitySessionRepository
from services.catalog.sessions.service import add_sessions
from services.catalog.sessions.timing import SessionTimes
from services.catalog.settings import CatalogSettings
from services.catalog.sites.schemas import LocationIn, SiteCreate
from services.catalog.sites.service import add_site
from services.orgs.auth.repository import PersonRepository
from services.orgs.auth.service import hash_password
from services.orgs.models import Membership, Organization, Person
from shared.authz import OrgRole
from shared.db import async_url
from shared.events.outbox import Outbox

DEMO_EMAIL = "demo@learncity.example"
DEMO_PASSWORD = "learncity-demo"
DEMO_DISPLAY_NAME = "Learning City Demo"
DATA_FILE = Path(__file__).with_name("hangzhou.json")
CITY_ZONE = ZoneInfo("Asia/Shanghai")
WEEKS_AHEAD = 8
# Fixed forever: demo ids must be the same on every machine and every run.
_NAMESPACE = UUID("6f1c2a4e-3b7d-5e9f-8a1b-2c3d4e5f6a7b")


def demo_id(kind: str, key: str) -> UUID:
    return uuid5(_NAMESPACE, f"{kind}:{key}")


@dataclass
class _Seeding:
    db: AsyncSession
    outbox: Outbox
    today: date
    counts: dict[str, int] = field(default_factory=dict)
    series_dates: dict[str, tuple[date, date]] = field(default_factory=dict)

    def added(self, kind: str, number: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + number


async def _demo_owner(seeding: _Seeding) -> Person:
    people = PersonRepository(seeding.db)
    person = await people.by_email(DEMO_EMAIL)
    if person is None:
        person = await people.add(
            Person(
                id=demo_id("person", DEMO_EMAIL),
                email=DEMO_EMAIL,
                display_name=DEMO_DISPLAY_NAME,
                password_hash=await hash_password(DEMO_PASSWORD),
            )
        )
        seeding.added("people")
    return person


async def _organizations(seeding: _Seeding, records: list[dict[str, Any]], owner: Person) -> None:
    db = seeding.db
    for record in records:
        organization_id = demo_id("organization", record["key"])
        if await db.get(Organization, organization_id) is None:
            db.add(
                Organization(
                    id=organization_id,
                    name=record["name"],
                    kind=record["kind"],
                    district=record.get("district"),
                    description=record.get("description"),
                    created_by=owner.id,
                    # As the orgs service fills it: every name, lowercased, for its `q` search.
                    search_text=" ".join(record["name"].values()).lower(),
                )
            )
            seeding.added("organizations")
            await db.flush()
        if await db.get(Membership, (organization_id, owner.id)) is None:
            db.add(Membership(organization_id=organization_id, person_id=owner.id, role=OrgRole.owner.value))
            seeding.added("memberships")
    await db.flush()


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
        await add_site(seeding.db, body, site_id=site_id)
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


async def _sessions(seeding: _Seeding, activity: Activity, record: dict[str, Any]) -> None:
    planned = {demo_id("session", f"{record['key']}:{day.isoformat()}"): day for day in _session_dates(seeding, record)}
    if not planned:
        return
    existing = await ActivitySessionRepository(seeding.db).with_existing_ids(list(planned))
    missing = [(session_id, day) for session_id, day in planned.items() if session_id not in existing]
    if not missing:
        return
    await add_sessions(
        seeding.db,
        seeding.outbox,
        activity,
        [_times(day, record["schedule"]) for _, day in missing],
        capacity=record["schedule"]["capacity"],
        session_ids=[session_id for session_id, _ in missing],
    )
    seeding.added("sessions", len(missing))


async def seed_demo(
    database_url: str, *, today: date | None = None, subscriptions: dict[str, list[str]] | None = None
) -> dict[str, int]:
    """Load the demo city (one transaction); returns how many rows of each kind were added (zeros when it
    was already there). `today` (Asia/Shanghai) anchors the series and the eight weeks of sessions."""
    data = json.loads(await asyncio.to_thread(DATA_FILE.read_text, encoding="utf-8"))
    engine = create_async_engine(async_url(database_url))
    outbox = Outbox(
        event_tables,
        producer=SCHEMA,
        subscriptions=subscriptions if subscriptions is not None else CatalogSettings().event_subscriptions,
    )
    try:
        async with async_sessionmaker(engine, expire_on_commit=False, autoflush=False).begin() as db:
            seeding = _Seeding(db=db, outbox=outbox, today=today or datetime.now(CITY_ZONE).date())
            seeding.counts = dict.fromkeys(
                ("people", "organizations", "memberships", "sites", "series", "activities", "sessions"), 0
            )
            owner = await _demo_owner(seeding)
            await _organizations(seeding, data["organizations"], owner)
            await _sites(seeding, data["sites"])
            await _series(seeding, data["series"])
            await _activities(seeding, data["activities"])
            return seeding.counts
    finally:
        await engine.dispose()
