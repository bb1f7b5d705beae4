"""Everything in the booking schema that names a person, read for their export or erased for good.

Names a person: `bookings.person_id` and `bookings.pending_members`, `checkins.person_id` and
`checkins.checked_in_by`, `line_assignments` (person, previous person, by whom), `audit_log` (the actor, and
the person checked in, cancelled or named in its snapshots: ids only), `idempotency_keys` (and the
responses stored there: an organization booking's names its members), `rate_windows`, `restrictions` (their
no-show standing), and the payloads of the
outbox's `booking.*` rows. Nothing else does: the inventory is the catalog's sessions, outbox sequences and
inbox positions are keyed by bookings, sessions and erasures, and the inbox keeps event ids only."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import any_, case, delete, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.bookings.repository import BOOKING_COLUMNS, booking_view, bookings, inventory
from services.booking.lines.repository import assignments
from services.booking.models import (
    ACTIVE_STATUSES,
    AnyRow,
    Checkin,
    IdempotencyKey,
    RateWindow,
    Restriction,
    audit_log,
    event_tables,
    table_of,
)
from shared.audit import pseudonymize

checkins = table_of(Checkin)
idempotency_keys = table_of(IdempotencyKey)
rate_windows = table_of(RateWindow)
restrictions = table_of(Restriction)
outbox = event_tables.outbox
_b, _c, _a = bookings.c, checkins.c, assignments.c


class PersonDataRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def bookings(self, person_id: UUID) -> Sequence[AnyRow]:
        statement = (
            booking_view()
            .add_columns(
                _b.confirmed_at,
                _b.cancel_reason,
                inventory.c.title.label("session_title"),
                inventory.c.starts_at.label("session_starts_at"),
                inventory.c.ends_at.label("session_ends_at"),
            )
            .where(_b.person_id == person_id)
            .order_by(_b.id)
        )
        return (await self.session.execute(statement)).all()

    async def checkins(self, person_id: UUID) -> Sequence[AnyRow]:
        statement = select(checkins).where(_c.person_id == person_id).order_by(_c.starts_at, _c.booking_id)
        return (await self.session.execute(statement)).all()

    async def checkins_performed(self, person_id: UUID) -> Sequence[AnyRow]:
        statement = (
            select(_c.session_id, _c.checked_in_at)
            .where(_c.checked_in_by == person_id)
            .order_by(_c.checked_in_at, _c.booking_id)
        )
        return (await self.session.execute(statement)).all()

    async def seat_assignments(self, person_id: UUID) -> Sequence[AnyRow]:
        """The seat audit rows naming the person, oldest first, with how they were involved."""
        involvement = case(
            (_a.person_id == person_id, literal("named")),
            (_a.previous_person_id == person_id, literal("replaced")),
            else_=literal("made"),
        ).label("involvement")
        statement = (
            select(_a.block_id, _a.line_id, _a.action, _a.at, involvement)
            .where(or_(_a.person_id == person_id, _a.previous_person_id == person_id, _a.by_person_id == person_id))
            .order_by(_a.at, _a.id)
        )
        return (await self.session.execute(statement)).all()

    async def sessions_to_release(self, person_id: UUID) -> list[UUID]:
        """Sessions where the person holds an active booking (own, member line or organization block) or is
        named to a waitlisted block. In session id order: the order in which an erasure locks them (two
        erasures never deadlock)."""
        statement = (
            select(_b.session_id)
            .where(
                or_(
                    (_b.person_id == person_id) & _b.status.in_(ACTIVE_STATUSES),
                    (_b.status == "waitlisted") & (any_(_b.pending_members) == person_id),
                )
            )
            .distinct()
            .order_by(_b.session_id)
        )
        return list((await self.session.execute(statement)).scalars())

    async def active_bookings(self, person_id: UUID, session_id: UUID) -> Sequence[AnyRow]:
        """The person's active bookings of the session (an own booking or a member line, and an organization
        block), not locked: blocks first, as an erasure releases them."""
        statement = (
            select(*BOOKING_COLUMNS)
            .where(_b.person_id == person_id, _b.session_id == session_id, _b.status.in_(ACTIVE_STATUSES))
            .order_by(_b.organization_id.is_(None), _b.block_id.is_not(None), _b.id)
        )
        return (await self.session.execute(statement)).all()

    async def anonymize(self, person_id: UUID, anonymous_id: UUID) -> None:
        """The person's bookings and check-ins stay, as aggregates, under `anonymous_id`; a booking keeps no
        check-in code (call once none of them is confirmed)."""
        await self.session.execute(
            update(bookings).where(_b.person_id == person_id).values(person_id=anonymous_id, checkin_code=None)
        )
        await self.session.execute(update(checkins).where(_c.person_id == person_id).values(person_id=anonymous_id))
        await self.session.execute(
            update(checkins).where(_c.checked_in_by == person_id).values(checked_in_by=anonymous_id)
        )
        for column in (_a.person_id, _a.previous_person_id, _a.by_person_id):
            await self.session.execute(update(assignments).where(column == person_id).values({column: anonymous_id}))
        await pseudonymize(self.session, audit_log, person_id, anonymous_id)

    async def forget(self, person_id: UUID) -> None:
        """Delete their idempotency records (the stored responses name them) and the coordinators' records
        whose stored organization booking names them as a member, their rate window, and every outbox row whose
        payload names them (pending or delivered)."""
        await self.session.execute(delete(idempotency_keys).where(idempotency_keys.c.person_id == person_id))
        body, named = idempotency_keys.c.response_body, str(person_id)
        await self.session.execute(
            delete(idempotency_keys).where(
                or_(body.contains({"lines": [{"person_id": named}]}), body.contains({"pending_members": [named]}))
            )
        )
        await self.session.execute(delete(rate_windows).where(rate_windows.c.person_id == person_id))
        await self.session.execute(delete(restrictions).where(restrictions.c.person_id == person_id))
        await self.session.execute(delete(outbox).where(outbox.c.payload["person_id"].astext == str(person_id)))
