from datetime import datetime
from uuid import UUID

from pydantic import Field

from services.booking.learning_records.schemas import MyLearningRecordOut
from shared.schemas import Output


class ExportedBooking(Output):
    id: UUID
    session_id: UUID
    session_title: dict[str, str] = Field(description="The session's title as booking last heard it")
    session_starts_at: datetime
    session_ends_at: datetime
    organization_id: UUID | None = Field(description="The organization booked for, if any")
    block_id: UUID | None = Field(description="A seat the organization booked for them: its organization booking")
    seats: int
    status: str
    waitlist_position: int | None = Field(description="While waitlisted: the place in line (1 is next)")
    checkin_code: str | None = Field(description="While confirmed: the code shown at the door")
    created_at: datetime
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None = Field(
        description="by_holder, by_organization_admin, by_block_coordinator, by_operator, session_cancelled, "
        "erased; for an organization's seat: unassigned, left_organization, block_cancelled; for an "
        "organization booking: last_seat_cancelled"
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


class ExportedAssignment(Output):
    """A change of an organization booking's seats that names the person: they were named to a seat or taken
    off it (`named`), their seat was given to someone else (`replaced`), or they made the change (`made`)."""

    block_id: UUID
    line_id: UUID
    action: str = Field(description="assigned, reassigned or unassigned")
    at: datetime
    involvement: str = Field(description="named, replaced or made")


class PersonExport(Output):
    """Everything booking holds naming a person (their part of `GET /v1/me/export`)."""

    bookings: list[ExportedBooking] = Field(description="Every booking of theirs, oldest first")
    checkins: list[ExportedCheckin] = Field(description="Their attendances, oldest first")
    checkins_performed: list[PerformedCheckin] = Field(description="Check-ins they made as host staff")
    seat_assignments: list[ExportedAssignment] = Field(
        description="Changes of organization bookings' seats naming them, oldest first"
    )
    learning_record: MyLearningRecordOut = Field(description="As GET /v1/learning-records/me, over all time")
