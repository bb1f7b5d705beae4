from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field

from services.booking.inventory.repository import SeatPool
from services.booking.models import MAX_SEATS_PER_BOOKING, MAX_SEATS_PER_ORGANIZATION_BOOKING
from shared.schemas import Input, Output


class BookingStatus(StrEnum):
    confirmed = "confirmed"
    waitlisted = "waitlisted"
    cancelled = "cancelled"
    no_show = "no_show"


def _absent_when_none(value: object) -> bool:
    return value is None


def _absent_when_standard(value: object) -> bool:
    return value == SeatPool.standard


class BookingCreate(Input):
    session_id: UUID
    seats: Annotated[
        int,
        Field(
            ge=1,
            le=MAX_SEATS_PER_ORGANIZATION_BOOKING,
            description=f"Seats: 1..{MAX_SEATS_PER_BOOKING} for yourself; for an organization up to "
            "`BOOKING_ORGANIZATION_MAX_SEATS` (default 50)",
        ),
    ] = 1
    organization_id: UUID | None = Field(
        default=None,
        description="Book a block of seats for an organization's members: you must be its coordinator (or "
        "higher); the block stays yours and is visible to the organization's admins. One active block per "
        "organization and session",
    )
    # Left out of the request's fingerprint when absent, so keys of requests without it replay as before.
    members: list[UUID] | None = Field(
        default=None,
        max_length=MAX_SEATS_PER_ORGANIZATION_BOOKING,
        exclude_if=_absent_when_none,
        description="With `organization_id`: the members (any role) who take seats of the block, each once, "
        "at most `seats`. Each gets a booking line of their own (own check-in code, own learning record) "
        "once the block is confirmed; the other seats stay unassigned until named",
    )
    # Left out of the request's fingerprint when standard (as when absent), so keys of requests without it
    # replay as before.
    seat: SeatPool = Field(
        default=SeatPool.standard,
        exclude_if=_absent_when_standard,
        description="Which seats: `standard` (the default: in-person seats not kept apart, or an online "
        "session's seats), `accessible` (seats kept for people who need an accessible one, e.g. a wheelchair "
        "space: only where the session keeps some, 409 `no_accessible_seats` otherwise; not online) or "
        "`online` (a hybrid session's online seats; 422 for any other session). Each kind has its own "
        "waitlist. Organization blocks take standard seats only",
    )


def optional(description: str, example: Any) -> Any:
    """A field present in responses only when it applies (the contract's `waitlist_position?`...)."""
    return Field(default=None, description=description, examples=[example], exclude_if=_absent_when_none)


CHECKIN_CODE_EXAMPLE = "kd9VaG8fifnSCKvtOR3z4jyS6Ip965Qp"


class LineOut(Output):
    """One named seat of an organization block: the member's own booking line."""

    id: UUID = Field(description="The line's booking id")
    person_id: UUID = Field(description="The member who holds the seat")
    status: BookingStatus
    checked_in_at: datetime | None = optional("Only once checked in", example="2027-03-02T18:52:10+08:00")


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
        "Only on a confirmed booking, and only for its holder (or the booking organization's admins, or the "
        "coordinator of a line's block): show it (e.g. as a QR code) at the door",
        example=CHECKIN_CODE_EXAMPLE,
    )
    checked_in_at: datetime | None = optional("Only once checked in", example="2027-03-02T18:52:10+08:00")
    cancelled_at: datetime | None = optional("Only once cancelled", example="2027-03-01T09:30:00+08:00")
    created_at: datetime
    seat: SeatPool | None = optional(
        "Only for a seat other than a standard one: `accessible`, or `online` (a hybrid session's online seats)",
        example="accessible",
    )
    block_id: UUID | None = optional(
        "Only on a member line: the organization block it is a seat of", example="0193a7c2-5f1e-7d3a-9b2c-4e5f6a7b8c9d"
    )
    unassigned_seats: int | None = optional(
        "Only on an active organization block: its seats not named to a member (the block's own code admits them)",
        example=2,
    )
    pending_members: list[UUID] | None = optional(
        "Only on a waitlisted organization block: the members named to it, whose lines are made when it is confirmed",
        example=["0193a7c2-5f1e-7d3a-9b2c-4e5f6a7b8c9d"],
    )
    lines: list[LineOut] | None = optional(
        "Only on an organization block: its member lines (every status), oldest first",
        example=[
            {
                "id": "0193a7c2-5f1e-7d3a-9b2c-4e5f6a7b8c9d",
                "person_id": "0193a7c2-0000-7000-8000-000000000001",
                "status": "confirmed",
            }
        ],
    )


class JoinLinkOut(Output):
    join_url: str = Field(
        description="Where to join the session online (shown to the holder of a confirmed online seat only)",
        examples=["https://meet.example.org/learncity/story-time"],
    )
