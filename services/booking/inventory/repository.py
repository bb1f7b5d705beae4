"""Booking's copy of each session and its seat figures. Every seat change goes through the session's
inventory row: a conditional UPDATE, or the row locked FOR UPDATE for the rest of the transaction."""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.models import AnyRow, Inventory, table_of
from shared.events.schemas import AvailabilityChanged, SessionSnapshot


class SeatPool(StrEnum):
    """standard: what a request gets unless it asks for another (in-person seats not kept apart, or an online
    session's seats); accessible: in-person seats kept for people who ask for one; online: a hybrid
    session's online seats."""

    standard = "standard"
    accessible = "accessible"
    online = "online"


inventory = table_of(Inventory)
_c = inventory.c
FIGURE_COLUMNS = (
    _c.session_id,
    _c.capacity,
    _c.confirmed_seats,
    _c.waitlist_length,
    _c.accessible_capacity,
    _c.accessible_confirmed,
    _c.online_capacity,
    _c.online_confirmed,
    _c.accessible_waitlist,
    _c.online_waitlist,
)
FIGURE_NAMES = tuple(column.name for column in FIGURE_COLUMNS)
# Each pool's confirmed seats on the inventory row, and its waitlisted bookings (the standard pool's are what
# the other pools leave of `waitlist_length`).
_CONFIRMED_OF: dict[str, Any] = {
    SeatPool.standard: _c.confirmed_seats,
    SeatPool.accessible: _c.accessible_confirmed,
    SeatPool.online: _c.online_confirmed,
}
_WAITLIST_OF: dict[str, Any] = {SeatPool.accessible: _c.accessible_waitlist, SeatPool.online: _c.online_waitlist}


@dataclass(frozen=True, slots=True)
class Figures:
    """A session's seats by pool. The standard pool is `capacity` less the accessible seats kept apart
    (`confirmed_seats` are its confirmed seats); the accessible pool is `accessible_capacity` of the in-person
    `capacity`; a hybrid session's online seats are `online_capacity`, apart from `capacity`. `waitlist_length`
    counts every waitlisted booking; `accessible_waitlist` and `online_waitlist` those of the two pools."""

    session_id: UUID
    capacity: int
    confirmed_seats: int
    waitlist_length: int
    accessible_capacity: int = 0
    accessible_confirmed: int = 0
    online_capacity: int = 0
    online_confirmed: int = 0
    accessible_waitlist: int = 0
    online_waitlist: int = 0

    def free(self, pool: SeatPool) -> int:
        """The pool's seats nobody holds."""
        if pool == SeatPool.accessible:
            return self.accessible_capacity - self.accessible_confirmed
        if pool == SeatPool.online:
            return self.online_capacity - self.online_confirmed
        return self.capacity - self.accessible_capacity - self.confirmed_seats

    def waiting(self, pool: SeatPool) -> int:
        """The pool's waitlisted bookings."""
        if pool == SeatPool.accessible:
            return self.accessible_waitlist
        if pool == SeatPool.online:
            return self.online_waitlist
        return self.waitlist_length - self.accessible_waitlist - self.online_waitlist

    def fits(self, pool: SeatPool, seats: int) -> bool:
        """A new booking of `seats` is confirmed at once: the seats are free and nobody waits in the pool."""
        return self.waiting(pool) == 0 and seats <= self.free(pool)

    def confirm(self, pool: SeatPool, seats: int) -> "Figures":
        """The figures once `seats` more seats of the pool are confirmed."""
        if pool == SeatPool.accessible:
            return replace(self, accessible_confirmed=self.accessible_confirmed + seats)
        if pool == SeatPool.online:
            return replace(self, online_confirmed=self.online_confirmed + seats)
        return replace(self, confirmed_seats=self.confirmed_seats + seats)

    def join_waitlist(self, pool: SeatPool) -> "Figures":
        """The figures once one more booking waits in the pool."""
        joined = replace(self, waitlist_length=self.waitlist_length + 1)
        if pool == SeatPool.accessible:
            return replace(joined, accessible_waitlist=self.accessible_waitlist + 1)
        if pool == SeatPool.online:
            return replace(joined, online_waitlist=self.online_waitlist + 1)
        return joined

    def free_for_waitlist(self, pool: SeatPool) -> int:
        return max(0, self.free(pool)) if self.waiting(pool) else 0

    @property
    def seats_available(self) -> int:
        return max(0, self.free(SeatPool.standard))

    def payload(self) -> AvailabilityChanged:
        """As `availability.changed` carries them (and `GET /v1/availability` shows them)."""
        return AvailabilityChanged(
            session_id=self.session_id,
            capacity=self.capacity,
            confirmed_seats=self.confirmed_seats,
            seats_available=self.seats_available,
            waitlist_length=self.waitlist_length,
            accessible_capacity=self.accessible_capacity,
            accessible_available=max(0, self.free(SeatPool.accessible)),
            online_capacity=self.online_capacity,
            online_available=max(0, self.free(SeatPool.online)),
        )

    @classmethod
    def of(cls, row: AnyRow) -> "Figures":
        return cls.of_mapping(row._mapping)

    @classmethod
    def of_mapping(cls, row: Mapping[Any, Any]) -> "Figures":
        return cls(*(row[name] for name in FIGURE_NAMES))


@dataclass(frozen=True, slots=True)
class Capacities:
    """The seats booking keeps of a session, per pool, from the catalog's snapshot."""

    capacity: int
    accessible_capacity: int
    online_capacity: int

    @classmethod
    def kept(cls, snapshot: SessionSnapshot, held: Figures | None = None) -> "Capacities":
        """An online session's seats are all standard (it has no in-person seats to keep apart); only a hybrid
        session has online seats apart. With the seats `held` now, no pool drops below its confirmed seats
        (never bumping anyone, a race the catalog's check could not see): the accessible seats first, then
        `capacity` so that the standard pool keeps its confirmed seats too."""
        accessible = max(0, snapshot.accessible_seats) if snapshot.mode != "online" else 0
        online = max(0, snapshot.online_capacity) if snapshot.mode == "hybrid" else 0
        capacity = max(0, snapshot.capacity)
        if held is None:
            return cls(capacity, min(accessible, capacity), online)
        accessible = max(accessible, held.accessible_confirmed)
        capacity = max(capacity, held.confirmed_seats + accessible)
        return cls(capacity, accessible, max(online, held.online_confirmed))


def _snapshot_values(snapshot: SessionSnapshot) -> dict[str, Any]:
    return {
        "activity_id": snapshot.activity_id,
        "host_org_id": snapshot.host_org_id,
        "site_id": snapshot.site_id,
        "title": snapshot.title,
        "kind": snapshot.kind,
        "starts_at": snapshot.starts_at,
        "ends_at": snapshot.ends_at,
        "booking_opens_at": snapshot.booking_opens_at,
        "booking_closes_at": snapshot.booking_closes_at,
        "status": snapshot.status,
        "mode": snapshot.mode,
        "join_url": snapshot.join_url,
    }


class InventoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, session_id: UUID, *, for_update: bool = False) -> AnyRow | None:
        statement = select(inventory).where(_c.session_id == session_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).first()

    async def insert_if_absent(self, snapshot: SessionSnapshot, now: datetime) -> Figures | None:
        """Figures of the new row, or None when the session was already known (nothing changed)."""
        kept = Capacities.kept(snapshot)
        statement = (
            insert(inventory)
            .values(
                session_id=snapshot.session_id,
                capacity=kept.capacity,
                accessible_capacity=kept.accessible_capacity,
                online_capacity=kept.online_capacity,
                updated_at=now,
            )
            .values(**_snapshot_values(snapshot))
            .on_conflict_do_nothing(index_elements=[_c.session_id])
            .returning(*FIGURE_COLUMNS)
        )
        row = (await self.session.execute(statement)).first()
        return Figures.of(row) if row else None

    async def apply_snapshot(self, snapshot: SessionSnapshot, kept: Capacities, now: datetime) -> Figures:
        """Overwrite what the catalog owns (the row is locked by the caller); seat figures stay."""
        statement = (
            update(inventory)
            .where(_c.session_id == snapshot.session_id)
            .values(
                **_snapshot_values(snapshot),
                capacity=kept.capacity,
                accessible_capacity=kept.accessible_capacity,
                online_capacity=kept.online_capacity,
                updated_at=now,
            )
            .returning(*FIGURE_COLUMNS)
        )
        return Figures.of((await self.session.execute(statement)).one())

    async def change_figures(
        self,
        session_id: UUID,
        *,
        pool: SeatPool = SeatPool.standard,
        confirmed_delta: int = 0,
        waitlist_delta: int = 0,
        now: datetime,
    ) -> Figures:
        """Seats confirmed (or freed) and bookings waitlisted (or not any more) in one pool."""
        confirmed = _CONFIRMED_OF[pool]
        values: dict[Any, Any] = {
            confirmed: confirmed + confirmed_delta,
            _c.waitlist_length: _c.waitlist_length + waitlist_delta,
            _c.updated_at: now,
        }
        if pool in _WAITLIST_OF:
            values[_WAITLIST_OF[pool]] = _WAITLIST_OF[pool] + waitlist_delta
        statement = update(inventory).where(_c.session_id == session_id).values(values).returning(*FIGURE_COLUMNS)
        return Figures.of((await self.session.execute(statement)).one())

    async def empty(self, session_id: UUID, now: datetime) -> Figures:
        statement = (
            update(inventory)
            .where(_c.session_id == session_id)
            .values(
                confirmed_seats=0,
                accessible_confirmed=0,
                online_confirmed=0,
                waitlist_length=0,
                accessible_waitlist=0,
                online_waitlist=0,
                updated_at=now,
            )
            .returning(*FIGURE_COLUMNS)
        )
        return Figures.of((await self.session.execute(statement)).one())

    async def figures(self, session_id: UUID) -> Figures | None:
        row = (await self.session.execute(select(*FIGURE_COLUMNS).where(_c.session_id == session_id))).first()
        return Figures.of(row) if row else None
