from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field

from services.booking.models import MAX_SEATS_PER_BOOKING
from shared.schemas import Input, Output


class BookingStatus(StrEnum):
    confirmed = "confirmed"
    waitlisted = "waitlisted"
    cancelled = "cancelled"


class BookingCreate(Input):
    session_id: UUID
    seats: Annotated[int, Field(ge=1, le=MAX_SEATS_PER_BOOKING, description="Seats (1..10)")] = 1
    organization_id: UUID | None = Field(
        default=None,
        description="Book for an organization's members: you must be its coordinator (or higher); "
        "the booking stays yours and is visible to the organization's admins",
    )


def _absent_when_none(value: object) -> bool:
    return value is None


def optional(description: str, example: Any) -> Any:
    """A field present in responses only when it applies (the contract's `waitlist_position?`...)."""
    return Field(default=None, description=description, examples=[example], exclude_if=_absent_when_none)


CHECKIN_CODE_EXAMPLE = "kd9VaG8fifnSCKvtOR3z4jyS6Ip965Qp"


class BookingOut(Output):
    id: UUID
    session_id: UUID
    person_id: UUID
    organization_id: UUID | None
    seats: int
    status: BookingStatus
    waitlist_position: int | None = optional(
        "Only while waitlisted: 1 is next in line (first come, first served)", example=3
    )
    checkin_code: str | None = optional(
        "Only on a confirmed booking, and only for its holder (or the booking organization's admins): "
        "show it (e.g. as a QR code) at the door",
        example=CHECKIN_CODE_EXAMPLE,
    )
    checked_in_at: datetime | None = optional("Only once checked in", example="2027-03-02T18:52:10+08:00")
    cancelled_at: datetime | None = optional("Only once cancelled", example="2027-03-01T09:30:00+08:00")
    created_at: datetime
