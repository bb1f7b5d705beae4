"""notify's copies of catalog sessions and of bookings (holdings), kept from events."""

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.models import AnyRow, Holding, Session, table_of
from services.notify.sql import any_of
from shared.events.schemas import BookingChanged, SessionSnapshot

sessions = table_of(Session)
holdings = table_of(Holding)
_s = sessions.c
_h = holdings.c
ACTIVE = ("confirmed", "waitlisted")


def snapshot_values(snapshot: SessionSnapshot) -> dict[str, Any]:
    place = snapshot.place
    return {
        "title": snapshot.title,
        "starts_at": snapshot.starts_at,
        "ends_at": snapshot.ends_at,
        "status": snapshot.status,
        "site_id": snapshot.site_id,
        "place_name": place.name if place else None,
        "address": place.address if place else None,
        "lat": place.lat if place else None,
        "lon": place.lon if place else None,
        "cancel_reason": snapshot.cancel_reason,
    }


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, session_id: UUID, *, for_update: bool = False) -> AnyRow | None:
        statement = select(sessions).where(_s.session_id == session_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).first()

    async def get_many(self, session_ids: Collection[UUID]) -> dict[UUID, AnyRow]:
        if not session_ids:
            return {}
        rows = await self.session.execute(select(sessions).where(any_of(_s.session_id, session_ids)))
        return {row.session_id: row for row in rows}

    async def insert_if_absent(self, snapshots: Sequence[SessionSnapshot], now: datetime) -> None:
        if not snapshots:
            return
        statement = (
            insert(sessions)
            .values(
                [
                    {"session_id": snapshot.session_id, "updated_at": now, **snapshot_values(snapshot)}
                    for snapshot in snapshots
                ]
            )
            .on_conflict_do_nothing(index_elements=[_s.session_id])
        )
        await self.session.execute(statement)

    async def overwrite(self, snapshot: SessionSnapshot, *, sequence: int, now: datetime) -> AnyRow:
        statement = (
            update(sessions)
            .where(_s.session_id == snapshot.session_id)
            .values(**snapshot_values(snapshot), sequence=sequence, updated_at=now)
            .returning(*sessions.c)
        )
        return (await self.session.execute(statement)).one()


class HoldingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_many(self, booking_ids: Collection[UUID]) -> dict[UUID, AnyRow]:
        if not booking_ids:
            return {}
        rows = await self.session.execute(select(holdings).where(any_of(_h.booking_id, booking_ids)))
        return {row.booking_id: row for row in rows}

    async def store(self, bookings: Sequence[BookingChanged], now: datetime) -> None:
        """Each booking as its newest event tells it (the inbox applies a booking's events in order; of
        several of one booking here, the last wins)."""
        newest = {booking.booking_id: booking for booking in bookings}
        if not newest:
            return
        statement = insert(holdings).values(
            [
                {
                    "booking_id": booking.booking_id,
                    "person_id": booking.person_id,
                    "session_id": booking.session_id,
                    "status": booking.status,
                    "seats": booking.seats,
                    "checkin_code": booking.checkin_code if booking.status == "confirmed" else None,
                    "updated_at": now,
                }
                for booking in newest.values()
            ]
        )
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[_h.booking_id],
            set_={
                column: excluded[column]
                for column in ("person_id", "session_id", "status", "seats", "checkin_code", "updated_at")
            },
        )
        await self.session.execute(statement)

    async def of_session(self, session_id: UUID, statuses: Sequence[str] = ACTIVE) -> list[AnyRow]:
        statement = (
            select(holdings).where(_h.session_id == session_id, _h.status.in_(list(statuses))).order_by(_h.booking_id)
        )
        return list((await self.session.execute(statement)).all())

    async def confirmed_sessions(
        self, person_id: UUID, *, ending_after: datetime, scheduled_only: bool, limit: int
    ) -> list[AnyRow]:
        """A person's confirmed holdings, soonest first: each row is the session's columns plus the
        booking's `booking_id`, `person_id`, `seats` and `checkin_code`."""
        statement = (
            select(_h.booking_id, _h.person_id, _h.seats, _h.checkin_code, *sessions.c)
            .join(sessions, _s.session_id == _h.session_id)
            .where(_h.person_id == person_id, _h.status == "confirmed", _s.ends_at > ending_after)
            .order_by(_s.starts_at, _h.booking_id)
            .limit(limit)
        )
        if scheduled_only:
            statement = statement.where(_s.status == "scheduled")
        return list((await self.session.execute(statement)).all())
