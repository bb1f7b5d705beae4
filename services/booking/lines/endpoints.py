"""Naming an organization block's seats to its members: routes under /v1/bookings/{id}."""

from uuid import UUID

from fastapi import APIRouter, status

from services.booking.bookings.schemas import BookingOut
from services.booking.dependencies import CollaboratorsDep
from services.booking.lines import service
from services.booking.lines.schemas import AssignmentOut, SeatAssign
from shared.errors import problem_responses
from shared.pagination import Page, PageDep

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])

WHO = (
    "The coordinator who booked the block (while coordinator or higher of its organization), the "
    "organization's admins and operators (403 for anyone else who can read the booking, 404 for the rest)."
)
UNTIL_START = "Until the session starts (409 `session_started` after)."


@router.post(
    "/{block_id}/lines",
    status_code=status.HTTP_201_CREATED,
    summary="Name a member to an unassigned seat of an organization booking",
    description="The member gets a booking line of their own: confirmed, with its own `checkin_code` (shown "
    "in their `GET /v1/bookings`), credited to their learning record at check-in. The person must be a "
    "current member (any role) of the organization (422 otherwise); 409 `no_unassigned_seat` when every seat "
    "is named, `member_already_booked` when they hold a seat of the session already, `block_waitlisted` "
    f"while the block waits for seats. Audited as `assigned`. {WHO} {UNTIL_START}",
    operation_id="assignBookingSeat",
    responses=problem_responses(401, 403, 404, 409, 413, 422, 503),
)
async def assign_seat(block_id: UUID, body: SeatAssign, c: CollaboratorsDep) -> BookingOut:
    return await service.assign(c, block_id, body.person_id)


@router.post(
    "/{line_id}/reassign",
    summary="Give a member's seat to another member",
    description="The line is cancelled (cause `unassigned`: its code no longer checks in) and the new member "
    "gets a new line with a new code; the answer is the new line. The seat stays the block's: nobody on the "
    "waitlist moves. 409 once the line is checked in or no longer confirmed. Audited as `reassigned` (with "
    f"`previous_person_id`). {WHO} {UNTIL_START}",
    operation_id="reassignBookingSeat",
    responses=problem_responses(401, 403, 404, 409, 413, 422, 503),
)
async def reassign_seat(line_id: UUID, body: SeatAssign, c: CollaboratorsDep) -> BookingOut:
    return await service.reassign(c, line_id, body.person_id)


@router.post(
    "/{line_id}/unassign",
    summary="Take a member off their seat (the seat stays the organization's)",
    description="The line is cancelled (cause `unassigned`) and its seat is the block's again, unassigned "
    "(the block's own code admits it); to free the seat for the waitlist, cancel the line instead. "
    f"Unassigning a cancelled line answers it again. Audited as `unassigned`. {WHO} {UNTIL_START}",
    operation_id="unassignBookingSeat",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def unassign_seat(line_id: UUID, c: CollaboratorsDep) -> BookingOut:
    return await service.unassign(c, line_id)


@router.get(
    "/{block_id}/assignments",
    summary="Who was named to an organization booking's seats, and by whom",
    description=f"The block's seat audit, oldest first, paged (`limit`, `cursor`). {WHO}",
    operation_id="listBookingSeatAssignments",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def list_assignments(block_id: UUID, c: CollaboratorsDep, page: PageDep) -> Page[AssignmentOut]:
    return await service.list_assignments(c, block_id, page)
