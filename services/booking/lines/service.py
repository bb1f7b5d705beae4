"""Naming members to an organization block's seats, until the session starts: a seat named to a member is
their own booking line (own check-in code, own learning-record credit). Naming, replacing and taking a member
off a seat never frees it: the block keeps its seats, and only a cancellation gives one to the waitlist.
Every change is audited (`line_assignments`, the block's own seat audit that its managers read); changes
made by staff through the API are also in the service's trail (`audit_log`, `line.*`), where operators and
the organization's admins read them along with booking's other staff actions.

Who manages a block's seats: the coordinator who booked it (while still coordinator or higher of the
organization), the organization's admins, and operators. Orgs is asked before any lock is taken."""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.bookings import access as bola
from services.booking.bookings import service as bookings_service
from services.booking.bookings.repository import BookingRepository
from services.booking.bookings.schemas import BookingOut
from services.booking.dependencies import Collaborators
from services.booking.inventory.repository import InventoryRepository
from services.booking.lines.repository import Assignment, BlockRef, LineRepository, assignments, is_block
from services.booking.lines.schemas import AssignmentOut
from services.booking.models import AnyRow, audit_log
from services.booking.publishing import bookings_changed
from shared import audit
from shared.authz import OrgRole, require_org_role
from shared.db import utcnow
from shared.errors import Conflict, Forbidden
from shared.events.inbox import Handler
from shared.events.outbox import Outbox
from shared.events.schemas import EventEnvelope, MembershipChanged
from shared.pagination import Page, PageParams
from shared.repository import paginate

logger = structlog.get_logger(__name__)

UNASSIGNED_REASON = "unassigned"
LEFT_ORGANIZATION_REASON = "left_organization"
# The access the manager of a block has to a line of it (their view of the line they just made).
_LINE_ACCESS = {
    bola.Access.holder: bola.Access.block_coordinator,
    bola.Access.organization_admin: bola.Access.organization_admin,
    bola.Access.operator: bola.Access.operator,
}


async def _managed(c: Collaborators, booking_id: UUID, kind: Literal["block", "line"]) -> tuple[AnyRow, bola.Access]:
    """The block (or member line) whose seats the principal manages, and their access to it: 404 unless they
    may read it, 409 when it is not a block (a line), 403 unless they manage it."""
    row, access = await bookings_service.readable(c, booking_id)
    if kind == "block" and not is_block(row):
        raise Conflict(
            "Only an organization's booking has seats to name members to", extra={"reason": "not_an_organization_block"}
        )
    if kind == "line" and row.block_id is None:
        raise Conflict("This booking is not a member line of an organization's booking", extra={"reason": "not_a_line"})
    coordinator = bola.Access.holder if kind == "block" else bola.Access.block_coordinator
    if access is coordinator:
        await require_org_role(c.memberships, c.principal, row.organization_id, OrgRole.coordinator)
        return row, bola.Access.holder
    if access in (bola.Access.organization_admin, bola.Access.operator):
        return row, access
    # A line's own member (or host staff) who is also an admin of the organization manages it as one.
    role = (await c.memberships.roles_of(c.principal.person_id)).get(row.organization_id)
    if role is None or not role.at_least(OrgRole.admin):
        raise Forbidden(
            "Only the coordinator who booked these seats, the organization's admins and operators name members to them"
        )
    return row, bola.Access.organization_admin


async def _audit_line(
    c: Collaborators,
    action: str,
    line_id: UUID,
    organization_id: UUID,
    *,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    await audit.record(
        c.session,
        audit_log,
        actor=audit.Actor.of(c.principal),
        action=action,
        entity_type="line",
        entity_id=line_id,
        organization_id=organization_id,
        before=before,
        after=after,
    )


def _ensure_not_started(session_row: Any, now: datetime) -> None:
    if session_row.status == "cancelled":
        raise Conflict("The session is cancelled", extra={"reason": "session_cancelled"})
    if session_row.starts_at <= now:
        raise Conflict(
            "The session has already started: its seats can no longer be named", extra={"reason": "session_started"}
        )


async def _lock_seats(c: Collaborators, session_id: UUID, block_id: UUID, line_id: UUID | None = None) -> Any:
    """The session's row, then the block's (then the line's): every seat change takes them in this order."""
    session_row = await InventoryRepository(c.session).get(session_id, for_update=True)
    assert session_row is not None  # inventory rows are never deleted
    repository = BookingRepository(c.session)
    block = await repository.lock(block_id)
    line = await repository.lock(line_id) if line_id is not None else None
    return session_row, block, line


async def _line_out(c: Collaborators, line_id: UUID, access: bola.Access) -> BookingOut:
    row = await BookingRepository(c.session).view(line_id)
    return await bookings_service.view_out(c, row, _LINE_ACCESS[access])


def _ensure_confirmed_block(block: Any) -> None:
    if block.status == "waitlisted":
        raise Conflict(
            "This organization booking is waitlisted: name its members when booking, or once it is confirmed",
            extra={"reason": "block_waitlisted"},
        )
    if block.status != "confirmed":
        raise Conflict(f"This organization booking is {block.status}", extra={"reason": f"block_{block.status}"})


async def _ensure_seat_free_for(lines: LineRepository, session_id: UUID, person_id: UUID) -> None:
    holding = await lines.holders_among(session_id, [person_id])
    if holding:
        raise bookings_service.already_booked(holding)


async def assign(c: Collaborators, block_id: UUID, person_id: UUID) -> BookingOut:
    """Name a member to an unassigned seat of a confirmed block: their own line, with its own code."""
    block_row, access = await _managed(c, block_id, "block")
    await bookings_service.ensure_members(c, block_row.organization_id, [person_id], "/body/person_id")
    now = utcnow()
    session_row, block, _ = await _lock_seats(c, block_row.session_id, block_id)
    _ensure_not_started(session_row, now)
    _ensure_confirmed_block(block)
    lines = LineRepository(c.session)
    if await lines.named_seats(block.id) >= block.seats:
        raise Conflict(
            "Every seat of this organization booking is named: reassign a seat, or cancel the booking and book "
            "more seats",
            extra={"reason": "no_unassigned_seat"},
        )
    await _ensure_seat_free_for(lines, block.session_id, person_id)
    (line,) = await lines.add_lines(_block_ref(block, session_row), [person_id], now)
    await lines.record([Assignment(block.id, line.id, "assigned", person_id, c.principal.person_id)], now)
    after = {"block_id": block.id, "person_id": person_id, "status": "confirmed"}
    await _audit_line(c, "line.assigned", line.id, block.organization_id, before=None, after=after)
    await bookings_changed(c.session, c.outbox, [line], c.entered, "booked")
    return await _line_out(c, line.id, access)


async def reassign(c: Collaborators, line_id: UUID, person_id: UUID) -> BookingOut:
    """Give a member's seat to another member: the old line is cancelled (its code dies) and the new member
    gets a new line with a new code; the seat stays the block's (nobody on the waitlist moves)."""
    line_row, access = await _managed(c, line_id, "line")
    if line_row.person_id == person_id:
        raise Conflict("This member already holds this seat", extra={"reason": "already_assigned"})
    await bookings_service.ensure_members(c, line_row.organization_id, [person_id], "/body/person_id")
    now = utcnow()
    session_row, block, line = await _lock_seats(c, line_row.session_id, line_row.block_id, line_id)
    _ensure_not_started(session_row, now)
    await _ensure_active_line(c, line)
    lines = LineRepository(c.session)
    await _ensure_seat_free_for(lines, line.session_id, person_id)
    cancelled = await BookingRepository(c.session).cancel(line.id, now, reason=UNASSIGNED_REASON)
    (new_line,) = await lines.add_lines(_block_ref(block, session_row), [person_id], now)
    reassigned = Assignment(
        block.id, new_line.id, "reassigned", person_id, c.principal.person_id, previous_person_id=line.person_id
    )
    await lines.record([reassigned], now)
    before = {"block_id": block.id, "person_id": line.person_id, "line_id": line.id}
    after = {"block_id": block.id, "person_id": person_id, "line_id": new_line.id}
    await _audit_line(c, "line.reassigned", new_line.id, block.organization_id, before=before, after=after)
    await bookings_changed(c.session, c.outbox, [cancelled], c.entered, "unassigned")
    await bookings_changed(c.session, c.outbox, [new_line], c.entered, "booked")
    return await _line_out(c, new_line.id, access)


async def unassign(c: Collaborators, line_id: UUID) -> BookingOut:
    """Take a member off their seat: their line is cancelled and the seat is the block's again, unassigned.
    Unassigning a cancelled line answers it again (safe to retry)."""
    line_row, access = await _managed(c, line_id, "line")
    now = utcnow()
    session_row, _, line = await _lock_seats(c, line_row.session_id, line_row.block_id, line_id)
    if line.status != "cancelled":
        _ensure_not_started(session_row, now)
        await _ensure_active_line(c, line)
        released = await release_lines(c.session, [line], by=c.principal.person_id, now=now, reason=UNASSIGNED_REASON)
        await bookings_changed(c.session, c.outbox, released, c.entered, "unassigned")
        before = {"block_id": line.block_id, "person_id": line.person_id, "status": "confirmed"}
        after = {"block_id": line.block_id, "person_id": None, "status": "cancelled"}
        await _audit_line(c, "line.unassigned", line.id, line_row.organization_id, before=before, after=after)
    return await _line_out(c, line_id, access)


async def _ensure_active_line(c: Collaborators, line: Any) -> None:
    if line.status != "confirmed":
        raise Conflict(f"This member line is {line.status}", extra={"reason": f"line_{line.status}"})
    if await BookingRepository(c.session).checked_in(line.id):
        raise Conflict("This member line is checked in: its seat can no longer change hands")


def _block_ref(block: Any, session_row: Any) -> BlockRef:
    return BlockRef(block.id, block.session_id, block.organization_id, session_row.ends_at)


async def release_lines(
    session: AsyncSession, locked_lines: Sequence[Any], *, by: UUID, now: datetime, reason: str
) -> list[AnyRow]:
    """Cancel member lines (locked by the caller, with their blocks, under the session's row lock) whose seats
    go back to their blocks unassigned, and audit each; returns the cancelled lines."""
    repository = BookingRepository(session)
    released = [await repository.cancel(line.id, now, reason=reason) for line in locked_lines]
    await LineRepository(session).record(
        (Assignment(line.block_id, line.id, "unassigned", line.person_id, by) for line in released), now
    )
    return released


async def lock_releasable(session: AsyncSession, lines: Sequence[Any]) -> list[Any]:
    """Lock each line's block and then the line (the session's row is locked by the caller); the lines still
    active and not checked in, as locked."""
    repository = BookingRepository(session)
    kept = []
    for line in lines:
        await repository.lock(line.block_id)
        current = await repository.lock(line.id)
        if current is not None and current.status == "confirmed" and not await repository.checked_in(line.id):
            kept.append(current)
    return kept


async def list_assignments(c: Collaborators, block_id: UUID, page: PageParams) -> Page[AssignmentOut]:
    await _managed(c, block_id, "block")
    rows, next_cursor = await paginate(
        c.session,
        LineRepository(c.session).assignments_of(block_id),
        keyset=[assignments.c.at, assignments.c.id],
        key_of=lambda r: [r.at, r.id],
        page=page,
        scalars=False,
    )
    return Page(items=[AssignmentOut.model_validate(row) for row in rows], next_cursor=next_cursor)


async def member_left(session: AsyncSession, outbox: Outbox, entered: Counter, change: MembershipChanged) -> None:
    """Someone left (or was removed from) an organization: their lines of its blocks for sessions not yet
    started go back to the blocks as unassigned seats (told as cause `left_organization`), and they are
    no longer named to its waitlisted blocks. Seats of sessions already started stay as they were."""
    if change.change not in ("left", "removed"):
        return
    now = utcnow()
    lines = LineRepository(session)
    by = change.by_person_id or change.person_id
    for session_id in await lines.sessions_naming(change.person_id, change.organization_id, now):
        session_row = await InventoryRepository(session).get(session_id, for_update=True)
        assert session_row is not None  # inventory rows are never deleted
        if session_row.starts_at <= now:
            continue
        await lines.forget_pending(change.person_id, session_id, change.organization_id)
        held = await lines.active_lines_of(change.person_id, session_id, change.organization_id)
        locked = await lock_releasable(session, held)
        released = await release_lines(session, locked, by=by, now=now, reason=LEFT_ORGANIZATION_REASON)
        await bookings_changed(session, outbox, released, entered, "left_organization")


def membership_handler(outbox_of: Callable[[], Outbox], entered: Counter) -> Handler:
    """The inbox handler of `membership.changed` (from orgs). `outbox_of` is asked at delivery time: the
    outbox is built in the app's lifespan, after the handlers."""

    async def handle(session: AsyncSession, envelope: EventEnvelope) -> None:
        await member_left(session, outbox_of(), entered, MembershipChanged.model_validate(envelope.payload))

    return handle
