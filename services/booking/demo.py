"""The demo city's past in booking (`learncity up` on a fresh database, `learncity seed --demo`, through
`learncity.demo`, which hands it the catalog's past sessions and orgs' demo people as plain data): who booked
each past session, who came (checked in, so credited in their learning record), who did not (no-shows) and
who cancelled beforehand. Written through booking's own code and tables, as the real paths leave them:

- the session: `InventoryRepository.insert_if_absent`, what the `session.scheduled` handler does for a
  session it has not heard of (the catalog's event arrives later and finds the row: `apply_snapshot` keeps
  its seat figures);
- seats: each pool's confirmed seats counted from the bookings just written (the seats of its confirmed and
  no-show bookings; cancelled ones hold none), so they are equal by construction, within every CHECK;
- check-ins: the rows `CheckinRepository.record` writes (the learning record: the session's scheduled
  minutes, title and kind), by the demo account, staff of every host;
- no-shows: as the sweep leaves them (`no_show`, code dropped), and `update_restrictions` recomputes the
  restrictions they earn, as the sweep does. Most people come when they book; a few often do not (a draw
  seeded by the person's id), so the fairness rule restricts some citizens, not most;
- `availability.changed` per session with bookings, so the catalog's figures agree with booking's.

No `booking.*` events: they are notify's, which would mail every demo citizen a confirmation, a no-show
notice and a cancellation for sessions long past (thousands of mails into the dev mail sink on first
start). Notify therefore knows nothing of the history; its reminders and calendars concern coming sessions.

Deterministic (a random draw seeded by each session's id; booking ids are `shared.ids.demo_id` of session
and person) and idempotent: a session that already has bookings is left as it is, so a second run adds
nothing. Set-based where it counts (every booking, then every check-in, in one COPY each): a few seconds."""

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from services.booking.attendance.repository import AttendanceRepository
from services.booking.attendance.service import update_restrictions
from services.booking.bookings.repository import new_checkin_code
from services.booking.checkins.service import scheduled_minutes
from services.booking.inventory.repository import FIGURE_COLUMNS, Figures, InventoryRepository, SeatPool
from services.booking.models import SCHEMA, Booking, Checkin, Inventory, event_tables, table_of
from services.booking.publishing import availability_changed
from services.booking.settings import BookingSettings
from shared.db import async_url, utcnow
from shared.events.outbox import Outbox
from shared.events.schemas import SessionSnapshot
from shared.ids import demo_id

bookings = table_of(Booking)
checkins = table_of(Checkin)
inventory = table_of(Inventory)

# Seats per personal booking: mostly one, sometimes a family.
_SEATS = (1, 2, 3, 4)
_SEATS_WEIGHTS = (70, 20, 7, 3)
# People book between an hour and two weeks ahead (never before booking opens).
_LEAD_MINUTES = (60, 14 * 24 * 60)
# They arrive from half an hour early to ten minutes late (check-in opens an hour before the start).
_ARRIVAL_MINUTES = (-30, 10)
CANCELLED_REASON = "by_holder"
# The people who often miss what they booked, and how much more (the others miss less, so the rate a
# session's demand asks for holds on average).
_FLAKY_SHARE = 0.1
_FLAKY_FACTOR = 7.0
_RELIABLE_FACTOR = (1 - _FLAKY_SHARE * _FLAKY_FACTOR) / (1 - _FLAKY_SHARE)


@dataclass(frozen=True, slots=True)
class PastSessionDemand:
    """A past session (the catalog's snapshot of it) and how it went, as the demo city's runner decides:
    `fill`, the share of each seat pool its bookings held (the accessible pool's half that); `no_show_rate`,
    of the confirmed bookings, those nobody came for; `cancel_rate`, of the bookings made, those cancelled
    before the session."""

    snapshot: SessionSnapshot
    fill: float
    no_show_rate: float
    cancel_rate: float = 0.06


@dataclass
class _History:
    now: datetime
    checked_in_by: UUID
    bookings: list[dict[str, Any]] = field(default_factory=list)
    checkins: list[dict[str, Any]] = field(default_factory=list)
    # How much more (or less) often than a session's rate each person misses it.
    no_show_factors: dict[UUID, float] = field(default_factory=dict)
    no_show_people: set[UUID] = field(default_factory=set)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("bookings", "checkins", "no_shows", "cancellations"), 0)
    )


def _pools(figures: Figures, fill: float) -> list[tuple[SeatPool, int]]:
    """The seats to fill of each pool the session has."""
    return [
        (SeatPool.standard, round((figures.capacity - figures.accessible_capacity) * fill)),
        (SeatPool.accessible, round(figures.accessible_capacity * fill / 2)),
        (SeatPool.online, round(figures.online_capacity * fill)),
    ]


def _no_show_factor(history: _History, person_id: UUID) -> float:
    factor = history.no_show_factors.get(person_id)
    if factor is None:
        flaky = random.Random(f"no-shows:{person_id}").random() < _FLAKY_SHARE  # noqa: S311 - demo data
        factor = history.no_show_factors[person_id] = _FLAKY_FACTOR if flaky else _RELIABLE_FACTOR
    return factor


def _booked_at(draw: random.Random, snapshot: SessionSnapshot) -> datetime:
    booked_at = snapshot.starts_at - timedelta(minutes=draw.randint(*_LEAD_MINUTES))
    opens_at = snapshot.booking_opens_at
    if opens_at is not None and booked_at < opens_at:
        booked_at = opens_at + (snapshot.starts_at - opens_at) * draw.random()
    return booked_at


def _plan(history: _History, demand: PastSessionDemand, figures: Figures, people: Sequence[UUID]) -> None:
    """The session's bookings (and check-ins): a draw seeded by its id, so every run plans the same."""
    snapshot = demand.snapshot
    draw = random.Random(f"history:{snapshot.session_id}")  # noqa: S311 - demo data, not a secret
    candidates = draw.sample(list(people), len(people))
    for pool, wanted in _pools(figures, max(0.0, min(1.0, demand.fill))):
        held = 0
        while held < wanted and candidates:
            person_id = candidates.pop()
            seats = 1 if pool != SeatPool.standard else draw.choices(_SEATS, _SEATS_WEIGHTS)[0]
            seats = min(seats, wanted - held)
            booked_at = _booked_at(draw, snapshot)
            row: dict[str, Any] = {
                "id": demo_id("booking", f"{snapshot.session_id}:{person_id}"),
                "session_id": snapshot.session_id,
                "person_id": person_id,
                "organization_id": None,
                "block_id": None,
                "pending_members": [],
                "seats": seats,
                "seat_pool": pool.value,
                "session_ends_at": snapshot.ends_at,
                "waitlist_seq": None,
                "checkin_code": None,
                "confirmed_at": booked_at,
                "created_at": booked_at,
                "cancelled_at": None,
                "cancel_reason": None,
            }
            history.bookings.append(row)
            history.counts["bookings"] += 1
            if draw.random() < demand.cancel_rate:
                row |= {
                    "status": "cancelled",
                    "cancelled_at": booked_at + (snapshot.starts_at - booked_at) * draw.random(),
                    "cancel_reason": CANCELLED_REASON,
                }
                history.counts["cancellations"] += 1
                continue
            held += seats
            if draw.random() < demand.no_show_rate * _no_show_factor(history, person_id):
                row["status"] = "no_show"
                history.no_show_people.add(person_id)
                history.counts["no_shows"] += 1
                continue
            row |= {"status": "confirmed", "checkin_code": new_checkin_code()}
            arrived = snapshot.starts_at + timedelta(minutes=draw.randint(*_ARRIVAL_MINUTES))
            history.checkins.append(
                {
                    "booking_id": row["id"],
                    "person_id": person_id,
                    "session_id": snapshot.session_id,
                    "host_org_id": snapshot.host_org_id,
                    "title": json.dumps(snapshot.title, ensure_ascii=False),  # as COPY takes JSONB
                    "kind": snapshot.kind,
                    "starts_at": snapshot.starts_at,
                    "minutes": scheduled_minutes(snapshot),
                    "checked_in_at": min(arrived, snapshot.ends_at),
                    "checked_in_by": history.checked_in_by,
                }
            )
            history.counts["checkins"] += 1


async def _unbooked(db: AsyncSession, session_ids: list[UUID]) -> dict[UUID, Figures]:
    """The figures of the sessions that have no booking at all and are not cancelled, their rows locked
    (in id order) until the history is written."""
    statement = (
        select(*FIGURE_COLUMNS)
        .where(
            inventory.c.session_id.in_(session_ids),
            inventory.c.status == "scheduled",
            ~select(bookings.c.id).where(bookings.c.session_id == inventory.c.session_id).exists(),
        )
        .order_by(inventory.c.session_id)
        .with_for_update()
    )
    return {row.session_id: Figures.of(row) for row in (await db.execute(statement)).all()}


async def _copy(db: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """Write `rows` (dicts of the same columns) in one COPY, in the session's transaction: tens of thousands
    of rows in a fraction of the time an INSERT of each takes."""
    if not rows:
        return
    columns = list(rows[0])
    driver = (await (await db.connection()).get_raw_connection()).driver_connection
    assert driver is not None  # asyncpg's connection, in the session's transaction
    await driver.copy_records_to_table(
        table.name,
        schema_name=table.schema,
        columns=columns,
        records=[tuple(row[column] for column in columns) for row in rows],
    )


async def _count_seats(db: AsyncSession, session_ids: list[UUID], now: datetime) -> list[Figures]:
    """Each pool's confirmed seats of these sessions (locked, and booked only by this history), counted
    from their bookings in one statement; returns the figures of those with any."""
    held = bookings.c.status.in_(("confirmed", "no_show"))

    def seats_of(pool: SeatPool) -> Any:
        return func.coalesce(func.sum(bookings.c.seats).filter(held, bookings.c.seat_pool == pool.value), 0)

    counted = (
        select(
            bookings.c.session_id,
            seats_of(SeatPool.standard).label("standard"),
            seats_of(SeatPool.accessible).label("accessible"),
            seats_of(SeatPool.online).label("online"),
        )
        .where(bookings.c.session_id.in_(session_ids))
        .group_by(bookings.c.session_id)
        .subquery()
    )
    statement = (
        update(inventory)
        .where(inventory.c.session_id == counted.c.session_id)
        .values(
            confirmed_seats=counted.c.standard,
            accessible_confirmed=counted.c.accessible,
            online_confirmed=counted.c.online,
            updated_at=now,
        )
        .returning(*FIGURE_COLUMNS)
    )
    rows = (await db.execute(statement)).all() if session_ids else []
    return sorted((Figures.of(row) for row in rows), key=lambda figures: str(figures.session_id))


async def write_history(
    db: AsyncSession,
    outbox: Outbox,
    sessions: Sequence[PastSessionDemand],
    people: Sequence[UUID],
    *,
    checked_in_by: UUID,
    settings: BookingSettings,
) -> dict[str, int]:
    """The history of `sessions` in the caller's transaction; returns what was added."""
    history = _History(now=utcnow(), checked_in_by=checked_in_by)
    repository = InventoryRepository(db)
    for demand in sessions:
        await repository.insert_if_absent(demand.snapshot, history.now)
    unbooked = await _unbooked(db, [demand.snapshot.session_id for demand in sessions])
    for demand in sessions:
        figures = unbooked.get(demand.snapshot.session_id)
        if figures is not None and people:
            _plan(history, demand, figures, people)
    await _copy(db, bookings, history.bookings)
    await _copy(db, checkins, history.checkins)
    for figures in await _count_seats(db, list(unbooked), history.now):
        await availability_changed(db, outbox, figures)
    await update_restrictions(AttendanceRepository(db), history.no_show_people, history.now, settings)
    return history.counts


async def seed_history(
    database_url: str,
    sessions: Sequence[PastSessionDemand],
    people: Sequence[UUID],
    *,
    checked_in_by: UUID,
    subscriptions: dict[str, list[str]] | None = None,
) -> dict[str, int]:
    """Bookings, check-ins, no-shows and cancellations of the demo city's past `sessions` by `people` (the
    demo citizens), in one transaction; `checked_in_by`: the staff member who checked everyone in. Returns
    how many bookings, check-ins, no-shows and cancellations were added."""
    settings = BookingSettings()
    engine = create_async_engine(async_url(database_url))
    outbox = Outbox(
        event_tables,
        producer=SCHEMA,
        subscriptions=subscriptions if subscriptions is not None else settings.event_subscriptions,
    )
    try:
        async with async_sessionmaker(engine, expire_on_commit=False, autoflush=False).begin() as db:
            return await write_history(db, outbox, sessions, people, checked_in_by=checked_in_by, settings=settings)
    finally:
        await engine.dispose()
