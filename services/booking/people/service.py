"""A person's data is theirs: booking's part of their export, and of their erasure (`person.erased`)."""

import uuid
from collections.abc import Callable
from uuid import UUID

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.bookings.waitlist import cancel_and_promote
from services.booking.inventory.repository import InventoryRepository
from services.booking.learning_records.service import whole_record
from services.booking.people.repository import PersonDataRepository
from services.booking.people.schemas import ExportedBooking, ExportedCheckin, PerformedCheckin, PersonExport
from services.booking.publishing import availability_changed, bookings_changed
from shared.db import utcnow
from shared.events.inbox import Handler
from shared.events.outbox import Outbox
from shared.events.schemas import EventEnvelope, PersonErased

logger = structlog.get_logger(__name__)

ERASED_REASON = "erased"


async def export(session: AsyncSession, person_id: UUID) -> PersonExport:
    repository = PersonDataRepository(session)
    return PersonExport(
        bookings=[ExportedBooking.model_validate(row) for row in await repository.bookings(person_id)],
        checkins=[ExportedCheckin.model_validate(row) for row in await repository.checkins(person_id)],
        checkins_performed=[
            PerformedCheckin.model_validate(row) for row in await repository.checkins_performed(person_id)
        ],
        learning_record=await whole_record(session, person_id),
    )


async def erase(session: AsyncSession, outbox: Outbox, entered: Counter, person_id: UUID) -> None:
    """Cancel the person's active bookings as any cancellation would (their seats go to the waitlist, whose
    promoted people are told; the seat figures too) but tell nothing of the person's own lines; then keep
    their bookings and check-ins as aggregates under a fresh random id, and delete the rest that names
    them. Erasing an erased person changes nothing."""
    now = utcnow()
    repository = PersonDataRepository(session)
    inventory = InventoryRepository(session)
    for session_id in await repository.sessions_with_active_bookings(person_id):
        session_row = await inventory.get(session_id, for_update=True)  # before the booking, as cancel does
        assert session_row is not None  # inventory rows are never deleted
        booking = await repository.lock_active_booking(person_id, session_id)
        if booking is None:
            continue  # cancelled meanwhile
        # Once a session has begun, a freed seat helps nobody on the waitlist (a cancellation is refused then).
        promote = session_row.starts_at > now
        _, figures, promoted = await cancel_and_promote(session, booking, now, reason=ERASED_REASON, promote=promote)
        entered.labels("cancelled").inc()
        await availability_changed(session, outbox, figures)
        await bookings_changed(session, outbox, promoted, entered, "promoted")
    await repository.anonymize(person_id, anonymous_id=uuid.uuid4())
    await repository.forget(person_id)


def erasure_handler(outbox_of: Callable[[], Outbox], entered: Counter) -> Handler:
    """The inbox handler of `person.erased`. `outbox_of` is asked at delivery time: the outbox is built
    in the app's lifespan, after the handlers."""

    async def handle(session: AsyncSession, envelope: EventEnvelope) -> None:
        erased = PersonErased.model_validate(envelope.payload)
        await erase(session, outbox_of(), entered, erased.person_id)
        logger.info("person_erased", erasure_id=str(erased.erasure_id))

    return handle
