from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import Field

from services.booking.bookings.schemas import CHECKIN_CODE_EXAMPLE
from shared.schemas import Input, Output


class CheckinCreate(Input):
    code: Annotated[
        str,
        Field(
            min_length=16,
            max_length=64,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="The booking's `checkin_code`",
            examples=[CHECKIN_CODE_EXAMPLE],
        ),
    ]


class CheckinOut(Output):
    booking_id: UUID
    checked_in_at: datetime
