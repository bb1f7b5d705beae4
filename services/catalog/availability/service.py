"""The availability projection: booking's `availability.changed` events, applied in the inbox's transaction."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import ColumnElement, case, func
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.availability.repository import AvailabilityRepository
from services.catalog.models import ActivitySession, SessionAvailability
from shared.events.inbox import SetHandler
from shared.events.schemas import AvailabilityChanged, EventEnvelope

logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class FreeSeats:
    """A session's free seats per pool: `standard` (what a booking asking for no particular seat takes),
    `accessible` (kept for people who ask for one), `online` (a hybrid session's online seats)."""

    standard: int
    accessible: int
    online: int


def _pool_free(size_now: int, reported_size: int, reported_free: int) -> int:
    """Booking's free seats of a pool, never more than the pool's current size leaves beside the seats booked
    in it: a shrunk pool shows at once, and a grown one only once booking has promoted its waitlist."""
    taken = reported_size - reported_free
    return max(0, min(reported_free, size_now - taken))


def free_seats(activity_session: ActivitySession, figures: SessionAvailability | None) -> FreeSeats:
    """Every pool is wholly free until booking has reported."""
    in_person_standard = activity_session.capacity - activity_session.accessible_seats
    if figures is None:
        return FreeSeats(in_person_standard, activity_session.accessible_seats, activity_session.online_capacity)
    return FreeSeats(
        standard=max(0, min(figures.seats_available, in_person_standard - figures.confirmed_seats)),
        accessible=_pool_free(
            activity_session.accessible_seats, figures.accessible_capacity, figures.accessible_available
        ),
        online=_pool_free(activity_session.online_capacity, figures.online_capacity, figures.online_available),
    )


def _pool_free_sql(size_now: Any, reported_size: Any, reported_free: Any) -> ColumnElement[Any]:
    reported = func.greatest(0, func.least(reported_free, size_now - (reported_size - reported_free)))
    return case((SessionAvailability.session_id.is_(None), size_now), else_=reported)


def seats_available_sql() -> ColumnElement[Any]:
    """`free_seats(...).standard` as SQL, over `sessions` outer-joined to `session_availability`."""
    figures = SessionAvailability
    standard = ActivitySession.capacity - ActivitySession.accessible_seats
    reported = func.greatest(0, func.least(figures.seats_available, standard - figures.confirmed_seats))
    return case((figures.session_id.is_(None), standard), else_=reported)


def accessible_available_sql() -> ColumnElement[Any]:
    """`free_seats(...).accessible` as SQL, over `sessions` outer-joined to `session_availability`."""
    figures = SessionAvailability
    return _pool_free_sql(ActivitySession.accessible_seats, figures.accessible_capacity, figures.accessible_available)


def online_available_sql() -> ColumnElement[Any]:
    """`free_seats(...).online` as SQL, over `sessions` outer-joined to `session_availability`."""
    figures = SessionAvailability
    return _pool_free_sql(ActivitySession.online_capacity, figures.online_capacity, figures.online_available)


async def _apply_availability_changes(db: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
    """Store booking's newest figures of each session in one statement (events come in sequence order, so
    the last one of a session is its newest). Sessions the catalog did not make are skipped: only its own
    sessions are booked, and an unknown id changes nothing (and is not retried)."""
    newest = {figures.session_id: figures for figures in map(_figures, envelopes)}
    unknown = await AvailabilityRepository(db).store_many(list(newest.values()))
    for session_id in unknown:
        logger.warning("availability_for_unknown_session", session_id=str(session_id))


def _figures(envelope: EventEnvelope) -> AvailabilityChanged:
    return AvailabilityChanged.model_validate(envelope.payload)


# The inbox applies a delivery's availability.changed events together (one upsert), or one at a time.
apply_availability_changed = SetHandler(_apply_availability_changes)
