from uuid import UUID

from fastapi import APIRouter

from services.booking.availability.schemas import AvailabilityOut
from services.booking.inventory.repository import InventoryRepository
from shared.db import SessionDep
from shared.errors import NotFound, problem_responses

router = APIRouter(prefix="/v1/availability", tags=["availability"])


@router.get(
    "/{session_id}",
    summary="Seats of a session",
    description="`seats_available` = `capacity` - `accessible_capacity` - `confirmed_seats`: the standard "
    "seats free (in person, or an online session's); the seats kept for people who ask for an accessible one "
    "(`accessible_capacity`, `accessible_available`) and a hybrid session's online seats (`online_capacity`, "
    "`online_available`) are counted apart. `waitlist_length` counts waitlisted bookings of every kind. 404 "
    "for a session booking has not heard of (the catalog reads that as 0 confirmed seats).",
    operation_id="getAvailability",
    responses=problem_responses(404, 422),
)
async def get_availability(session_id: UUID, session: SessionDep) -> AvailabilityOut:
    figures = await InventoryRepository(session).figures(session_id)
    if figures is None:
        raise NotFound("Session not known to booking")
    return AvailabilityOut.model_validate(figures.payload().model_dump())
