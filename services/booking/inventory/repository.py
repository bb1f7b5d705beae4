"""Booking's copy of each session and its seat figures. Every seat change goes through the session's
inventory row: a conditional UPDATE, or the row locked FOR UPDATE for the rest of the transaction."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.models import AnyRow, Inventory, table_of
from shared.events.schemas import AvailabilityChanged, SessionSnapshot

inventory = table_of(Inventory)
_c = inventory.c
FIGURE_COLUMNS = (_c.session_id, _c.capacity, _c.confirmed_seats, _c.waitlist_length)


@dataclass(frozen=True, slots=True)
class Figures:
    session_id: UUID
    capacity: int
    confirmed_seats: int
    waitlist_length: int

    @property
    def seats_available(self) -> int:
        return max(0, self.capacity - self.confirmed_seats)

    @property
    def free_for_waitlist(self) -> int:
        return self.capacity - self.confirmed_seats if self.waitlist_length else 0

    def payload(self) -> AvailabilityChanged:
        """As `availability.changed` carries them (and `GET /v1/availability` shows them)."""
        return AvailabilityChanged(
            session_id=self.session_id,
            capacity=self.capacity,
            confirmed_seats=self.confirmed_seats,
            seats_available=self.seats_available,
            waitlist_length=self.waitlist_length,
        )

    @classmethod
    def of(cls, row: AnyRow) -> "Figures":
        return cls(row.session_id, row.capacity, row.confirmed_seats, row.waitlist_length)


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
        statement = (
            insert(inventory)
            .values(session_id=snapshot.session_id, capacity=max(0, snapshot.capacity), updated_at=now)
            .values(**_snapshot_values(snapshot))
            .on_conflict_do_nothing(index_elements=[_c.session_id])
            .returning(*FIGURE_COLUMNS)
        )
        row = (await self.session.execute(statement)).first()
        return Figures.of(row) if row else None

    async def apply_snapshot(self, snapshot: SessionSnapshot, capacity: int, now: datetime) -> Figures:
        """Overwrite what the catalog owns (the row is locked by the caller); seat figures stay."""
        statement = (
            update(inventory)
            .where(_c.session_id == snapshot.session_id)
            .values(**_snapshot_values(snapshot), capacity=capacity, updated_at=now)
            .returning(*FIGURE_COLUMNS)
        )
        return Figures.of((await self.session.execute(statement)).one())

    async def change_figures(
        self, session_id: UUID, *, confirmed_delta: int = 0, waitlist_delta: int = 0, now: datetime
    ) -> Figures:
        statement = (
            update(inventory)
            .where(_c.session_id == session_id)
            .values(
                confirmed_seats=_c.confirmed_seats + confirmed_delta,
                waitlist_length=_c.waitlist_length + waitlist_delta,
                updated_at=now,
            )
            .returning(*FIGURE_COLUMNS)
        )
        return Figures.of((await self.session.execute(statement)).one())

    async def join_waitlist(self, session_id: UUID, now: datetime) -> tuple[Figures, int]:
        """One more waitlisted booking; returns the figures and its waitlist sequence (FIFO order)."""
        statement = (
            update(inventory)
            .where(_c.session_id == session_id)
            .values(waitlist_length=_c.waitlist_length + 1, waitlist_last_seq=_c.waitlist_last_seq + 1, updated_at=now)
            .returning(*FIGURE_COLUMNS, _c.waitlist_last_seq)
        )
        row = (await self.session.execute(statement)).one()
        return Figures.of(row), int(row.waitlist_last_seq)

    async def empty(self, session_id: UUID, now: datetime) -> Figures:
        statement = (
            update(inventory)
            .where(_c.session_id == session_id)
            .values(confirmed_seats=0, waitlist_length=0, updated_at=now)
            .returning(*FIGURE_COLUMNS)
        )
        return Figures.of((await self.session.execute(statement)).one())

    async def figures(self, session_id: UUID) -> Figures | None:
        row = (await self.session.execute(select(*FIGURE_COLUMNS).where(_c.session_id == session_id))).first()
        return Figures.of(row) if row else None
