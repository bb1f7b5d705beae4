"""The availability projection: booking's `availability.changed` events, applied in the inbox's transaction."""

from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import ColumnElement, case, func
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.availability.repository import AvailabilityRepository
from services.catalog.models import ActivitySession, SessionAvailability
from shared.events.inbox import SetHandler
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
