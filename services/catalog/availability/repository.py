from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import ARRAY, DateTime, Integer, Uuid, bindparam, text
from sqlalchemy.dialects.postgresql import insert

from services.catalog.models import SCHEMA, ActivitySession, SessionAvailability
from shared.db import utcnow
from shared.events.schemas import AvailabilityChanged
from shared.repository import Repository

# Upsert in session id order, only for sessions the catalog has (the join), as one statement.
_STORE_MANY = (
    text(
        f"""INSERT INTO {SCHEMA}.{SessionAvailability.__tablename__} AS a
            (session_id, capacity, confirmed_seats, seats_available, waitlist_length, accessible_capacity,
             accessible_available, online_capacity, online_available, updated_at)
        SELECT f.session_id, f.capacity, f.confirmed_seats, f.seats_available, f.waitlist_length,
            f.accessible_capacity, f.accessible_available, f.online_capacity, f.online_available, :now
        FROM unnest(:session_ids, :capacities, :confirmed, :available, :waitlists, :accessible_capacities,
                    :accessible_available, :online_capacities, :online_available)
            AS f(session_id, capacity, confirmed_seats, seats_available, waitlist_length, accessible_capacity,
                 accessible_available, online_capacity, online_available)
        JOIN {SCHEMA}.{ActivitySession.__tablename__} AS s ON s.id = f.session_id
        ORDER BY f.session_id
        ON CONFLICT (session_id) DO UPDATE SET capacity = excluded.capacity,
            confirmed_seats = excluded.confirmed_seats, seats_available = excluded.seats_available,
            waitlist_length = excluded.waitlist_length, accessible_capacity = excluded.accessible_capacity,
            accessible_available = excluded.accessible_available, online_capacity = excluded.online_capacity,
            online_available = excluded.online_available, updated_at = excluded.updated_at
        RETURNING a.session_id"""
    )
    .bindparams(
        bindparam("session_ids", type_=ARRAY(Uuid)),
        bindparam("capacities", type_=ARRAY(Integer)),
        bindparam("confirmed", type_=ARRAY(Integer)),
        bindparam("available", type_=ARRAY(Integer)),
        bindparam("waitlists", type_=ARRAY(Integer)),
        bindparam("accessible_capacities", type_=ARRAY(Integer)),
        bindparam("accessible_available", type_=ARRAY(Integer)),
        bindparam("online_capacities", type_=ARRAY(Integer)),
        bindparam("online_available", type_=ARRAY(Integer)),
        bindparam("now", type_=DateTime(timezone=True)),
    )
    .columns(SessionAvailability.session_id)
)


class AvailabilityRepository(Repository[SessionAvailability]):
    model = SessionAvailability

    async def store_many(self, many: Sequence[AvailabilityChanged]) -> list[UUID]:
        """Insert or replace the figures of several sessions (one each) in one statement; returns the
        session ids the catalog does not know, whose figures are not stored."""
        if not many:
            return []
        ordered = sorted(many, key=lambda figures: figures.session_id)
        params = {
            "session_ids": [f.session_id for f in ordered],
            "capacities": [max(0, f.capacity) for f in ordered],
            "confirmed": [max(0, f.confirmed_seats) for f in ordered],
            "available": [max(0, f.seats_available) for f in ordered],
            "waitlists": [max(0, f.waitlist_length) for f in ordered],
            "accessible_capacities": [max(0, f.accessible_capacity) for f in ordered],
            "accessible_available": [max(0, f.accessible_available) for f in ordered],
            "online_capacities": [max(0, f.online_capacity) for f in ordered],
            "online_available": [max(0, f.online_available) for f in ordered],
            "now": utcnow(),
        }
        stored = set((await self.session.execute(_STORE_MANY, params)).scalars())
        return [f.session_id for f in ordered if f.session_id not in stored]

    async def store(self, figures: AvailabilityChanged) -> None:
        """Insert or replace the figures (the inbox has already dropped events older than the stored ones)."""
        values = {
            "capacity": max(0, figures.capacity),
            "confirmed_seats": max(0, figures.confirmed_seats),
            "seats_available": max(0, figures.seats_available),
            "waitlist_length": max(0, figures.waitlist_length),
            "accessible_capacity": max(0, figures.accessible_capacity),
            "accessible_available": max(0, figures.accessible_available),
            "online_capacity": max(0, figures.online_capacity),
            "online_available": max(0, figures.online_available),
            "updated_at": utcnow(),
        }
        statement = insert(SessionAvailability).values(session_id=figures.session_id, **values)
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=[SessionAvailability.session_id], set_=values)
        )
