"""What notify does with the events it receives: keep its projections of sessions and bookings, arm and
drop reminders, make the notices each change calls for (each once per person and cause), and mail each
invitation once.

`booking.*` events are applied a batch at a time (a few statements for the whole batch: notify keeps up
with booking's rate). A handler that cannot finish (the catalog or orgs down) raises: the inbox rolls its
events back (retrying a batch one event at a time, to fail only the event at fault) and reports them
failed, and the producer's relay delivers them again later."""

from collections.abc import Mapping, Sequence
from functools import partial
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.context import NotifyContext
from services.notify.invitations.service import mail_invitation
from services.notify.messages import CancelledBy, NoticeKind
from services.notify.models import AnyRow
from services.notify.notifications.service import Draft, post_notices
from services.notify.people.service import erase_person, forget_bookings
from services.notify.projection.repository import HoldingRepository, SessionRepository
from services.notify.projection.service import known_sessions, moved, session_facts
from services.notify.reminders.repository import ReminderRepository
from services.notify.reminders.service import Seat, arm
from shared.db import utcnow
from shared.errors import NotFound
from shared.events.inbox import Handler, SetHandler
from shared.events.schemas import BookingChanged, EventEnvelope, InvitationCreated, PersonErased, SessionSnapshot

SESSION_EVENTS = ("session.scheduled", "session.updated", "session.cancelled")
BOOKING_EVENTS = ("booking.confirmed", "booking.waitlisted", "booking.cancelled", "booking.no_show")
_CANCELLED_BY: Mapping[str, CancelledBy] = {
    "by_owner": "by_owner",
    "by_org_admin": "by_org_admin",
    "unassigned": "unassigned",
    "left_organization": "left_organization",
}


def session_cancelled_cause(session_id: UUID) -> str:
    """One key for "your session was cancelled", whether booking's cancellation or the catalog's event
    tells it first: the person gets one notice."""
    return f"session_cancelled:{session_id}"


async def on_session(db: AsyncSession, envelope: EventEnvelope, *, context: NotifyContext) -> None:
    await apply_session(db, context, SessionSnapshot.model_validate(envelope.payload), envelope.type)


async def apply_session(db: AsyncSession, context: NotifyContext, snapshot: SessionSnapshot, event_type: str) -> None:
    """Store the catalog's newest view of a session and tell its holders what changed for them."""
    now = utcnow()
    sessions = SessionRepository(db)
    current = await sessions.get(snapshot.session_id, for_update=True)
    if current is None:
        await sessions.insert_if_absent([snapshot], now)
        return  # nobody holds a session notify has not heard of
    if event_type == "session.scheduled":
        return  # the row came from the catalog on a miss, after this event was sent: it is as new or newer
    was_moved = moved(current, snapshot)
    newly_cancelled = snapshot.status == "cancelled" and current.status != "cancelled"
    sequence = current.sequence + (1 if was_moved or newly_cancelled else 0)
    updated = await sessions.overwrite(snapshot, sequence=sequence, now=now)
    if snapshot.status == "cancelled":
        await _tell_cancelled(db, context, updated)
    elif was_moved:
        await _tell_moved(db, context, previous=current, updated=updated)


async def _tell_cancelled(db: AsyncSession, context: NotifyContext, session: AnyRow) -> None:
    """Every holder the projection still shows active (booking's own cancellations tell the rest, under
    the same cause)."""
    await ReminderRepository(db).drop_unsent_of_session(session.session_id)
    facts = session_facts(session)
    drafts = [
        Draft(
            person_id=holding.person_id,
            kind="session_cancelled",
            cause=session_cancelled_cause(session.session_id),
            session=facts,
            booking_id=holding.booking_id,
            seats=holding.seats,
            cancelled_by="session_cancelled",
            cancel_reason=session.cancel_reason,
        )
        for holding in await HoldingRepository(db).of_session(session.session_id)
    ]
    await post_notices(db, context, drafts)


async def _tell_moved(db: AsyncSession, context: NotifyContext, *, previous: AnyRow, updated: AnyRow) -> None:
    """Reminders follow the new time (first: every transaction takes reminder rows before contact rows, as
    the reminder worker does, so none deadlocks another); then each holder is told, confirmed or waiting."""
    holders = await HoldingRepository(db).of_session(updated.session_id)
    confirmed = [h for h in holders if h.status == "confirmed"]
    await arm(
        db, context, [Seat(h.booking_id, h.person_id, h.session_id, updated.starts_at) for h in confirmed], utcnow()
    )
    before, after = session_facts(previous), session_facts(updated)
    drafts = [
        Draft(
            person_id=holding.person_id,
            kind="session_changed",
            cause=f"session_changed:{updated.session_id}:{updated.sequence}",
            session=after,
            booking_id=holding.booking_id,
            seats=holding.seats,
            checkin_code=holding.checkin_code if holding.status == "confirmed" else None,
            previous=before,
        )
        for holding in holders
    ]
    await post_notices(db, context, drafts)


async def on_bookings(db: AsyncSession, envelopes: Sequence[EventEnvelope], *, context: NotifyContext) -> None:
    """A batch of `booking.*` events, as if applied one by one in their order."""
    events = [BookingChanged.model_validate(envelope.payload) for envelope in envelopes]
    erased = {event.booking_id for event in events if event.cause == "erased"}
    # A booking anonymized by its holder's erasure: nobody left to tell, and nothing to keep.
    await forget_bookings(db, erased)
    events = [event for event in events if event.booking_id not in erased]
    if not events:
        return
    now = utcnow()
    sessions = await known_sessions(db, context, {event.session_id for event in events})
    await HoldingRepository(db).store(events, now)
    # Reminders before anything that may touch contact rows (as everywhere: no lock-order deadlocks).
    newest = {event.booking_id: event for event in events}
    await ReminderRepository(db).drop_unsent([b for b, event in newest.items() if event.status != "confirmed"])
    seats = [
        Seat(event.booking_id, event.person_id, event.session_id, sessions[event.session_id].starts_at)
        for event in newest.values()
        if event.status == "confirmed" and sessions[event.session_id].status == "scheduled"
    ]
    await arm(db, context, seats, now)
    sessions |= await _cancelled_sessions(db, context, sessions, events)
    drafts = [draft for event in events if (draft := _booking_draft(event, sessions[event.session_id]))]
    await post_notices(db, context, drafts)


async def _cancelled_sessions(
    db: AsyncSession, context: NotifyContext, sessions: Mapping[UUID, AnyRow], events: Sequence[BookingChanged]
) -> dict[UUID, AnyRow]:
    """The sessions booking cancels bookings of because their host cancelled them, as cancelled, with the
    host's reason. booking's cancellations may reach notify before the catalog's own event: then the
    catalog is asked, and its answer applied as that event would be."""
    refreshed: dict[UUID, AnyRow] = {}
    stale = {
        event.session_id
        for event in events
        if event.cause == "session_cancelled" and sessions[event.session_id].status != "cancelled"
    }
    for session_id in stale:
        try:
            snapshot = await context.peers.session(session_id)
        except NotFound:
            continue
        if snapshot.status == "cancelled":
            await apply_session(db, context, snapshot, "session.cancelled")
            row = await SessionRepository(db).get(session_id)
            assert row is not None
            refreshed[session_id] = row
    return refreshed


def _booking_draft(booking: BookingChanged, session: AnyRow) -> Draft | None:
    """The notice a booking's event calls for (None: nothing to tell)."""
    if booking.status == "no_show":
        return None  # the projection records it (no reminder, no calendar event); the person is not told
    kind: NoticeKind
    cause = None
    # A member line: a seat of an organization block, named for this person by its coordinator.
    organization_seat = booking.block_id is not None
    if booking.status == "confirmed":
        # A line made when its waiting block was promoted is still a seat the organization booked for them.
        promoted = booking.cause == "promoted" and not organization_seat
        kind = "waitlist_promoted" if promoted else "booking_confirmed"
    elif booking.status == "waitlisted":
        kind = "booking_waitlisted"
    elif booking.cause == "session_cancelled":
        kind, cause = "session_cancelled", session_cancelled_cause(booking.session_id)
    elif booking.cause in _CANCELLED_BY:
        kind = "booking_cancelled"
    else:
        return None  # `booked` and `promoted` never cancel a booking
    cancelled = kind == "session_cancelled"
    return Draft(
        person_id=booking.person_id,
        kind=kind,
        cause=cause or f"{kind}:{booking.booking_id}",
        session=session_facts(session, status="cancelled" if cancelled else None),
        booking_id=booking.booking_id,
        seats=booking.seats,
        checkin_code=booking.checkin_code if booking.status == "confirmed" else None,
        waitlist_position=booking.waitlist_position if booking.status == "waitlisted" else None,
        cancelled_by="session_cancelled" if cancelled else _CANCELLED_BY.get(booking.cause),
        cancel_reason=session.cancel_reason if cancelled else None,
        organization_seat=organization_seat,
    )


async def on_person_erased(db: AsyncSession, envelope: EventEnvelope) -> None:
    await erase_person(db, PersonErased.model_validate(envelope.payload).person_id)


async def on_invitation_created(db: AsyncSession, envelope: EventEnvelope, *, context: NotifyContext) -> None:
    await mail_invitation(db, context, InvitationCreated.model_validate(envelope.payload))


def event_handlers(context: NotifyContext) -> dict[str, Handler]:
    session_handler = partial(on_session, context=context)
    booking_handler = SetHandler(partial(on_bookings, context=context))
    return {
        **dict.fromkeys(SESSION_EVENTS, session_handler),
        **dict.fromkeys(BOOKING_EVENTS, booking_handler),
        "person.erased": on_person_erased,
        "invitation.created": partial(on_invitation_created, context=context),
    }
