"""A person's data is theirs: booking's part of their export, and of their erasure (`person.erased`)."""

import uuid
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.bookings.repository import BookingRepository
from services.booking.bookings.service import BLOCK_CANCELLED_REASON
from services.booking.bookings.waitlist import cancel_and_promote
from services.booking.inventory.repository import InventoryRepository
from services.booking.learning_records.service import whole_record
from services.booking.lines.repository import LineRepository, is_block
from services.booking.lines.service import release_lines
from services.booking.models import ACTIVE_STATUSES, AnyRow
from services.booking.people.repository import PersonDataRepository
from services.booking.people.schemas import (
    ExportedAssignment,
    ExportedBooking,
    ExportedCheckin,
    PerformedCheckin,
    PersonExport,
)
from services.booking.publishing import availability_changed, bookings_changed
from services.booking.settings import BookingSettings
from shared.db import utcnow
from shared.events.inbox import Handler
from shared.events.outbox import Outbox
from shared.events.schemas import EventEnvelope, PersonErased

logger = structlog.get_logger(__name__)

ERASED_REASON = "erased"


async def export(session: AsyncSession, person_id: UUID, settings: BookingSettings) -> PersonExport:
    repository = PersonDataRepository(session)
    return PersonExport(
        bookings=[ExportedBooking.model_validate(row) for row in await repository.bookings(person_id)],
        checkins=[ExportedCheckin.model_validate(row) for row in await repository.checkins(person_id)],
        checkins_performed=[
            PerformedCheckin.model_validate(row) for row in await repository.checkins_performed(person_id)
        ],
        seat_assignments=[
            ExportedAssignment.model_validate(row) for row in await repository.seat_assignments(person_id)
        ],
        learning_record=await whole_record(session, person_id, settings),
    )


async def erase(session: AsyncSession, outbox: Outbox, entered: Counter, person_id: UUID) -> None:
    """Cancel the person's active bookings as any cancellation would (their seats go to the waitlist, whose
    promoted people are told; the seat figures too) but tell nothing of the person's own bookings; give
    their member lines' seats back to the blocks, unassigned, and take their name off waitlisted blocks;
    cancel the organization blocks they booked with their lines (whose members are told). Then keep their
    bookings, check-ins and seat audit as aggregates under a fresh random id, and delete the rest that
    names them. Erasing an erased person changes nothing."""
    now = utcnow()
    repository = PersonDataRepository(session)
    inventory = InventoryRepository(session)
    for session_id in await repository.sessions_to_release(person_id):
        session_row = await inventory.get(session_id, for_update=True)  # before the bookings, as cancel does
        assert session_row is not None  # inventory rows are never deleted
        # Once a session has begun, a freed seat helps nobody on the waitlist (a cancellation is refused then).
        promote = session_row.starts_at > now
        await LineRepository(session).forget_pending(person_id, session_id)
        bookings = BookingRepository(session)
        for booking in await repository.active_bookings(person_id, session_id):
            if booking.block_id is not None:
                await bookings.lock(booking.block_id)  # a block before its lines, as everywhere
            current = await bookings.lock(booking.id)
            if current is None or current.status not in ACTIVE_STATUSES:
                continue  # cancelled meanwhile (or with their own block, just before)
            if current.block_id is not None:
                # Their seat stays the organization's; nothing is told of their own line.
                await release_lines(session, [current], by=person_id, now=now, reason=ERASED_REASON)
                continue
            if is_block(current):
                await _cancel_lines_of(session, outbox, entered, current, now)
            _, figures, promoted = await cancel_and_promote(
                session, current, now, reason=ERASED_REASON, promote=promote
            )
            entered.labels("cancelled").inc()
            await availability_changed(session, outbox, figures)
            await bookings_changed(session, outbox, promoted, entered, "promoted")
    await repository.anonymize(person_id, anonymous_id=uuid.uuid4())
    await repository.forget(person_id)


async def _cancel_lines_of(
    session: AsyncSession, outbox: Outbox, entered: Counter, block: AnyRow, now: datetime
) -> None:
    """The member lines of a block whose coordinator is erased: cancelled with it, each member told (the
    organization's booking was withdrawn for them)."""
    lines = LineRepository(session)
    active = await lines.lock_active_lines(block.id)
    cancelled = await lines.cancel_many([line.id for line in active], now, BLOCK_CANCELLED_REASON)
    await bookings_changed(session, outbox, cancelled, entered, "by_org_admin")


def erasure_handler(outbox_of: Callable[[], Outbox], entered: Counter) -> Handler:
    """The inbox handler of `person.erased`. `outbox_of` is asked at delivery time: the outbox is built
    in the app's lifespan, after the handlers."""

    async def handle(session: AsyncSession, envelope: EventEnvelope) -> None:
        erased = PersonErased.model_validate(envelope.payload)
        await erase(session, outbox_of(), entered, erased.person_id)
        logger.info("person_erased", erasure_id=str(erased.erasure_id))

    return handle
