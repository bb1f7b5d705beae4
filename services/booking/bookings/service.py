from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.bookings import access as bola
from services.booking.bookings.qr import checkin_qr_svg
from services.booking.bookings.repository import BookingRepository, booking_view, bookings
from services.booking.bookings.schemas import BookingCreate, BookingOut, BookingStatus, LineOut
from services.booking.bookings.waitlist import cancel_and_promote, cancel_line_and_promote
from services.booking.dependencies import Collaborators
from services.booking.inventory.repository import InventoryRepository, SeatPool
from services.booking.lines.repository import NAMED_STATUSES, LineRepository, is_block
from services.booking.models import MAX_SEATS_PER_BOOKING, AnyRow, audit_log
from services.booking.publishing import availability_changed, bookings_changed
from services.booking.settings import BookingSettings
from shared import audit
from shared.auth import Principal
from shared.authz import OrgRole, OrgsMemberships, require_org_role
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.events.schemas import BookingCause
from shared.pagination import Page, PageParams
from shared.repository import paginate

BOOKING_NOT_FOUND = "Booking not found"
NO_CHECKIN_CODE = {
    "waitlisted": "This booking is waitlisted: its check-in code comes once it is confirmed",
    "cancelled": "This booking is cancelled: it has no check-in code",
    "no_show": "This booking was not checked in by the end of its session: it has no check-in code",
}
NO_JOIN_LINK = {
    "waitlisted": "This booking is waitlisted: its join link comes once it is confirmed",
    "cancelled": "This booking is cancelled: it has no join link",
    "no_show": "This booking was not checked in by the end of its session: it has no join link",
}
# Who cancelled, as `booking.cancelled` tells the holder (the stored `cancel_reason` keeps `by_<access>`):
# an operator acts as an organization's administrator would.
# A member line's holder is the member: whoever else cancels it acts for the organization (its coordinator
# or admins), as does whoever cancels a block for its members.
CANCELLED_BY: dict[bola.Access, BookingCause] = {
    bola.Access.holder: "by_owner",
    bola.Access.organization_admin: "by_org_admin",
    bola.Access.block_coordinator: "by_org_admin",
    bola.Access.operator: "by_org_admin",
}
# Why a member line was cancelled along with its block (the block's own reason is who cancelled it).
BLOCK_CANCELLED_REASON = "block_cancelled"
# A block whose last seat was a member line that its member (or someone for them) cancelled.
LAST_SEAT_CANCELLED_REASON = "last_seat_cancelled"


@dataclass(frozen=True, slots=True)
class BlockSeats:
    """What an organization block shows of its seats: its member lines and how many seats nobody holds."""

    lines: list[LineOut]
    unassigned: int | None


def booking_out(
    row: Any, *, show_code: bool, waitlist_position: int | None = None, seats: BlockSeats | None = None
) -> BookingOut:
    """`row`: a `booking_view` row; `seats`: the block's, for an organization block."""
    position = getattr(row, "waitlist_position", waitlist_position)
    pending = getattr(row, "pending_members", None)
    return BookingOut(
        id=row.id,
        session_id=row.session_id,
        person_id=row.person_id,
        organization_id=row.organization_id,
        seats=row.seats,
        status=BookingStatus(row.status),
        waitlist_position=position if row.status == "waitlisted" else None,
        checkin_code=row.checkin_code if show_code else None,
        checked_in_at=getattr(row, "checked_in_at", None),
        cancelled_at=getattr(row, "cancelled_at", None),
        created_at=row.created_at,
        seat=_shown_seat(row.seat_pool),
        block_id=row.block_id,
        unassigned_seats=seats.unassigned if seats is not None else None,
        pending_members=list(pending) if pending and row.status == "waitlisted" and is_block(row) else None,
        lines=seats.lines if seats is not None else None,
    )


def _shown_seat(pool: str) -> SeatPool | None:
    """The seat a booking holds, shown only when it is not a standard one."""
    return None if pool == SeatPool.standard else SeatPool(pool)


def unassigned_seats(block: Any, lines: Sequence[Any]) -> int | None:
    """Seats of an active block not named to anyone: a confirmed block's seats without a named line, a
    waitlisted block's seats beyond its named members; None once the block holds no seats."""
    if block.status == "confirmed":
        return int(block.seats) - sum(1 for line in lines if line.status in NAMED_STATUSES)
    if block.status == "waitlisted":
        return int(block.seats) - len(block.pending_members)
    return None


async def block_seats(session: AsyncSession, rows: Sequence[Any]) -> dict[UUID, BlockSeats]:
    """The seats of every organization block among `rows` (`booking_view` rows), read in one statement."""
    blocks = [row for row in rows if is_block(row)]
    lines: defaultdict[UUID, list[Any]] = defaultdict(list)
    for line in await LineRepository(session).lines_of([block.id for block in blocks]):
        lines[line.block_id].append(line)
    return {
        block.id: BlockSeats(
            lines=[
                LineOut(
                    id=line.id,
                    person_id=line.person_id,
                    status=BookingStatus(line.status),
                    checked_in_at=line.checked_in_at,
                )
                for line in lines[block.id]
            ],
            unassigned=unassigned_seats(block, lines[block.id]),
        )
        for block in blocks
    }


def ensure_seats_allowed(body: BookingCreate, settings: BookingSettings) -> None:
    """The seat caps and the shape of `members`, checked before anything is booked or counted: a person books
    1..10 seats, an organization block 1..`organization_max_seats`, naming each member once, at most `seats`."""
    if body.organization_id is None:
        if body.seats > MAX_SEATS_PER_BOOKING:
            raise Unprocessable(
                f"A personal booking has at most {MAX_SEATS_PER_BOOKING} seats; book for an organization (as its "
                "coordinator) for more",
                pointer="/body/seats",
            )
        if body.members is not None:
            raise Unprocessable("Members are named only on an organization's booking", pointer="/body/members")
        return
    if body.seat != SeatPool.standard:
        raise Unprocessable("An organization's block takes standard seats only", pointer="/body/seat")
    if body.seats > settings.organization_max_seats:
        raise Unprocessable(
            f"An organization booking has at most {settings.organization_max_seats} seats", pointer="/body/seats"
        )
    members = body.members or []
    if len(members) > body.seats:
        raise Unprocessable(
            f"{len(members)} members named for {body.seats} seats: name at most one member per seat",
            pointer="/body/members",
        )
    if len(set(members)) != len(members):
        raise Unprocessable("A member is named more than once", pointer="/body/members")


async def ensure_members(c: Collaborators, organization_id: UUID, person_ids: Sequence[UUID], pointer: str) -> None:
    await ensure_members_of(c.memberships, organization_id, person_ids, pointer)


async def ensure_members_of(
    memberships: OrgsMemberships, organization_id: UUID, person_ids: Sequence[UUID], pointer: str
) -> None:
    """Each person is a current member (any role) of the organization, as orgs says now; else 422 naming
    those who are not (`person_ids`, and an error at `pointer`, formatted with each one's `index`)."""
    try:
        members = await memberships.member_ids(organization_id)
    except NotFound as exc:
        raise NotFound("Organization not found") from exc
    strangers = [(index, person_id) for index, person_id in enumerate(person_ids) if person_id not in members]
    if strangers:
        errors = [
            {"pointer": pointer.format(index=index), "detail": f"{person_id} is not a member of the organization"}
            for index, person_id in strangers
        ]
        raise Unprocessable(
            f"Not a member of organization {organization_id}: {', '.join(str(p) for _, p in strangers)}",
            extra={"person_ids": [str(p) for _, p in strangers], "errors": errors},
        )


def already_booked(person_ids: Sequence[UUID]) -> Conflict:
    return Conflict(
        f"Already holding an active booking for this session: {', '.join(str(p) for p in person_ids)}",
        extra={"reason": "member_already_booked", "person_ids": [str(p) for p in person_ids]},
    )


async def ensure_may_book_for_organization(
    memberships: OrgsMemberships, principal: Principal, body: BookingCreate
) -> None:
    """An organization block: its booker is coordinator (or higher) of the organization (403) and the members
    it names are its members (422). Asked of orgs before the request queues for its batch."""
    assert body.organization_id is not None
    await require_org_role(memberships, principal, body.organization_id, OrgRole.coordinator)
    if body.members:
        await ensure_members_of(memberships, body.organization_id, body.members, "/body/members/{index}")


async def readable(c: Collaborators, booking_id: UUID) -> tuple[AnyRow, bola.Access]:
    """The booking as `booking_view` shows it and the principal's access; 404 unless they may read it."""
    row = await BookingRepository(c.session).view(booking_id)
    if row is None:
        raise NotFound(BOOKING_NOT_FOUND)
    access = await bola.access_to(row, c.principal, c.memberships)
    if not access.can_read:
        raise NotFound(BOOKING_NOT_FOUND)  # never tell whether someone else's booking exists
    return row, access


async def view_out(c: Collaborators, row: Any, access: bola.Access) -> BookingOut:
    """A `booking_view` row as `access` may see it, with a block's seats."""
    seats = (await block_seats(c.session, [row])).get(row.id)
    return booking_out(row, show_code=access.sees_code, seats=seats)


async def get(c: Collaborators, booking_id: UUID) -> BookingOut:
    row, access = await readable(c, booking_id)
    return await view_out(c, row, access)


async def checkin_qr(c: Collaborators, booking_id: UUID) -> bytes:
    """The check-in code of your confirmed booking as a QR code (SVG). Only the holder: anyone else gets
    404, whatever else they may see of the booking (the image is the code itself)."""
    row = await BookingRepository(c.session).holder_and_code(booking_id)
    if row is None or row.person_id != c.principal.person_id:
        raise NotFound(BOOKING_NOT_FOUND)
    if row.checkin_code is None:
        raise Conflict(NO_CHECKIN_CODE[row.status], extra={"reason": f"booking_{row.status}"})
    return checkin_qr_svg(row.checkin_code)


async def join_link(c: Collaborators, booking_id: UUID) -> str:
    """The join link of your confirmed online seat: any seat of an online session, a hybrid session's online
    seats (its in-person holders are not given it: the online seats are counted apart, and the link would
    let them take one). Only the holder: anyone else gets 404, whatever else they may see of the booking."""
    row = await BookingRepository(c.session).holder_and_join_link(booking_id)
    if row is None or row.person_id != c.principal.person_id:
        raise NotFound(BOOKING_NOT_FOUND)
    if row.status != "confirmed":
        raise Conflict(NO_JOIN_LINK[row.status], extra={"reason": f"booking_{row.status}"})
    if not (row.mode == "online" or (row.mode == "hybrid" and row.seat_pool == SeatPool.online)):
        raise Conflict("This booking is for an in-person seat: it has no join link", extra={"reason": "in_person_seat"})
    if row.join_url is None:
        raise Conflict(
            "The host has not given this session's join link yet; look again closer to its start",
            extra={"reason": "join_link_pending"},
        )
    join_url: str = row.join_url
    return join_url


async def cancel(c: Collaborators, booking_id: UUID) -> BookingOut:
    """Free the seats (or the waitlist place) and promote the waitlist, under the session's row lock.
    A member line frees its one seat (its block holds one seat fewer); a block cancels its lines with it.
    Cancelling a cancelled booking changes nothing and answers it again (safe to retry)."""
    row, access = await readable(c, booking_id)
    if not access.can_cancel:
        raise Forbidden("Host staff can see this booking but only its holder or its organization's admins cancel it")
    if row.status != "cancelled" and await _cancel_locked(c, row, access):
        await _audit_cancellation(c, row, access)
    fresh = await BookingRepository(c.session).view(booking_id)
    return await view_out(c, fresh, access)


async def _audit_cancellation(c: Collaborators, row: AnyRow, access: bola.Access) -> None:
    """Audited (`booking.cancelled`): an organization's booking (a block or a member line) cancelled by
    anyone, and anyone's booking cancelled by someone else than its holder (an admin, an operator). A person
    cancelling their own booking is no staff action: left out. The entry is the booking organization's, or
    else the host's."""
    if access is bola.Access.holder and row.organization_id is None:
        return
    await audit.record(
        c.session,
        audit_log,
        actor=audit.Actor.of(c.principal),
        action="booking.cancelled",
        entity_type="booking",
        entity_id=row.id,
        organization_id=row.organization_id or row.host_org_id,
        before={"status": row.status, "person_id": row.person_id, "session_id": row.session_id, "seats": row.seats},
        after={"status": "cancelled", "cancel_reason": f"by_{access.value}"},
    )


async def _cancel_locked(c: Collaborators, row: AnyRow, access: bola.Access) -> bool:
    """Whether this request cancelled it (False: cancelled meanwhile)."""
    now = utcnow()
    session_row = await InventoryRepository(c.session).get(row.session_id, for_update=True)
    assert session_row is not None
    repository = BookingRepository(c.session)
    block = await repository.lock(row.block_id) if row.block_id is not None else None  # a block before its lines
    current = await repository.lock(row.id)
    assert current is not None
    if current.status == "cancelled":
        return False
    lines = LineRepository(c.session)
    active_lines = await lines.lock_active_lines(current.id) if is_block(current) else ()
    if await lines.any_checked_in([current.id, *(line.id for line in active_lines)]):
        raise Conflict("This booking (or a member line of it) is checked in; it can no longer be cancelled")
    if session_row.starts_at <= now and session_row.status == "scheduled":
        raise Conflict("The session has already started; the booking can no longer be cancelled")
    reason = f"by_{access.value}"
    if block is not None:
        cancelled, closed_block, figures, promoted = await cancel_line_and_promote(
            c.session, current, block, now, reason=reason, block_reason=LAST_SEAT_CANCELLED_REASON
        )
        await availability_changed(c.session, c.outbox, figures)
        await bookings_changed(c.session, c.outbox, [cancelled], c.entered, CANCELLED_BY[access])
        if closed_block is not None:  # told to its coordinator: by them, or for them by the organization
            cause: BookingCause = "by_owner" if access is bola.Access.block_coordinator else "by_org_admin"
            await bookings_changed(c.session, c.outbox, [closed_block], c.entered, cause)
        await bookings_changed(c.session, c.outbox, promoted, c.entered, "promoted")
        return True
    cancelled_lines = await lines.cancel_many([line.id for line in active_lines], now, BLOCK_CANCELLED_REASON)
    cancelled, figures, promoted = await cancel_and_promote(c.session, current, now, reason=reason)
    await availability_changed(c.session, c.outbox, figures)
    await bookings_changed(c.session, c.outbox, [cancelled], c.entered, CANCELLED_BY[access])
    await bookings_changed(c.session, c.outbox, cancelled_lines, c.entered, "by_org_admin")
    await bookings_changed(c.session, c.outbox, promoted, c.entered, "promoted")
    return True


async def list_bookings(
    c: Collaborators, page: PageParams, *, status: BookingStatus | None, session_id: UUID | None
) -> Page[BookingOut]:
    """Your own bookings (member lines booked for you among them); with `session_id`, staff (coordinator+)
    of the hosting organization and operators get the session's whole roster (without other people's
    check-in codes). Organization blocks show their lines and unassigned seats."""
    me = c.principal.person_id
    statement = booking_view()
    if session_id is not None:
        statement = statement.where(bookings.c.session_id == session_id)
        if not await _is_host_staff(c, session_id):
            statement = statement.where(bookings.c.person_id == me)
    else:
        statement = statement.where(bookings.c.person_id == me)
    if status is not None:
        statement = statement.where(bookings.c.status == status.value)
    rows, next_cursor = await paginate(
        c.session, statement, keyset=[bookings.c.id], key_of=lambda r: [r.id], page=page, scalars=False
    )
    seats = await block_seats(c.session, rows)
    items = [booking_out(r, show_code=r.person_id == me, seats=seats.get(r.id)) for r in rows]
    return Page(items=items, next_cursor=next_cursor)


async def _is_host_staff(c: Collaborators, session_id: UUID) -> bool:
    session_row = await InventoryRepository(c.session).get(session_id)
    return session_row is not None and await bola.is_host_staff(c.principal, c.memberships, session_row.host_org_id)
