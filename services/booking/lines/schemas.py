from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from services.booking.bookings.schemas import optional
from shared.schemas import Input, Output


class SeatAssign(Input):
    person_id: UUID = Field(description="A current member (any role) of the block's organization")


class AssignmentOut(Output):
    """One change of a block's seats: who was named to a seat, replaced, or taken off it; by whom; when."""

    id: UUID
    block_id: UUID
    line_id: UUID = Field(description="The line made (assigned, reassigned) or cancelled (unassigned)")
    action: Literal["assigned", "reassigned", "unassigned"]
    person_id: UUID = Field(description="Who holds the seat (unassigned: who held it)")
    previous_person_id: UUID | None = optional(
        "Only when reassigned: who held the seat before", example="0193a7c2-0000-7000-8000-000000000001"
    )
    by_person_id: UUID = Field(description="Who made the change (for a member who left the organization: themself)")
    at: datetime
