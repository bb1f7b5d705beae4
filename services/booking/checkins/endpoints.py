from fastapi import APIRouter

from services.booking.checkins import service
from services.booking.checkins.schemas import CheckinCreate, CheckinOut
from services.booking.dependencies import CollaboratorsDep
from shared.errors import problem_responses

router = APIRouter(prefix="/v1/checkins", tags=["checkins"])


@router.post(
    "",
    summary="Check a booking in by its code (host staff)",
    description="Staff (coordinator or higher) of the session's host organization, or an operator, check "
    "a confirmed booking in from 60 minutes before the start until the end. A member line's code credits "
    "that member's learning record; an organization block's own code admits its unnamed seats (credited to "
    "its coordinator), and is 409 once every seat is named (check each member's own code in). "
    "409 when already checked in "
    "(the problem carries the first `checked_in_at`) or outside that window (with `checkin_opens_at` and "
    "`checkin_closes_at`). 404 for an unknown code, and also for a code of a session you are not staff "
    "of (a code is a secret: its existence is not revealed).",
    operation_id="createCheckin",
    responses=problem_responses(401, 404, 409, 413, 422),
)
async def create_checkin(body: CheckinCreate, c: CollaboratorsDep) -> CheckinOut:
    return await service.check_in(c, body.code)
