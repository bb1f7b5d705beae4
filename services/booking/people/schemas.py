from datetime import datetime
from uuid import UUID

from pydantic import Field

from services.booking.learning_records.schemas import LearningRecordOut
from shared.schemas import Output


class ExportedBooking(Output):
    id: UUID
    session_id: UUID
    session_title: dict[str, str] = Field(description="The session's title as booking last heard it")
    session_starts_at: datetime
    session_ends_at: datetime
    organization_id: UUID | None = Field(description="The organization booked for, if any")
    seats: int
    status: str
    waitlist_position: int | None = Field(description="While waitlisted: the place in line (1 is next)")
    checkin_code: str | None = Field(description="While confirmed: the code shown at the door")
    created_at: datetime
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None = Field(
        description="by_holder, by_organization_admin, by_operator, session_cancelled or erased"
    )
    checked_in_at: datetime | None


class ExportedCheckin(Output):
    """An attendance: the session as it was when the person checked in, and the minutes it credited."""

    booking_id: UUID
    session_id: UUID
    host_org_id: UUID
    title: dict[str, str]
    kind: str
    starts_at: datetime
    minutes: int
    checked_in_at: datetime


class PerformedCheckin(Output):
    """A check-in the person made as host staff (whose booking it was is someone else's data)."""

    session_id: UUID
    checked_in_at: datetime


class PersonExport(Output):
    """Everything booking holds naming a person (their part of `GET /v1/me/export`)."""

    bookings: list[ExportedBooking] = Field(description="Every booking of theirs, oldest first")
    checkins: list[ExportedCheckin] = Field(description="Their attendances, oldest first")
    checkins_performed: list[PerformedCheckin] = Field(description="Check-ins they made as host staff")
    learning_record: LearningRecordOut = Field(description="As GET /v1/learning-records/me, over all time")
