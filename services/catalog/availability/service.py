"""The availability projection: booking's `availability.changed` events, applied in the inbox's transaction."""

from typing import Any

import structlog
from sqlalchemy import ColumnElement, case, func
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.availability.repository import AvailabilityRepository
from services.catalog.models import ActivitySession, SessionAvailability
from shared.events.schemas import AvailabilityChanged, EventEnvelope

logger = structlog.get_logger(__name__)


def seats_available(capacity: int, figures: SessionAvailability | None) -> int:
    """Booking's free seats, never more than the catalog's current capacity leaves beside the confirmed
    seats (a lowered capacity shows at once); the full capacity until booking has reported."""
    if figures is None:
        return capacity
    return max(0, min(figures.seats_available, capacity - figures.confirmed_seats))


def seats_available_sql() -> ColumnElement[Any]:
    """`seats_available` above as SQL, over `sessions` outer-joined to `session_availability`."""
    figures = SessionAvailability
    reported = func.greatest(0, func.least(figures.seats_available, ActivitySession.capacity - figures.confirmed_seats))
    return case((figures.session_id.is_(None), ActivitySession.capacity), else_=reported)


async def apply_availability_changed(db: AsyncSession, envelope: EventEnvelope) -> None:
    figures = AvailabilityChanged.model_validate(envelope.payload)
    availability = AvailabilityRepository(db)
    if not await availability.session_exists(figures.session_id):
        # Only sessions the catalog made are booked; an unknown id changes nothing (and is not retried).
        logger.warning("availability_for_unknown_session", session_id=str(figures.session_id))
        return
    await availability.store(figures)
