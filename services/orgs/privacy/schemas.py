from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field

from services.orgs.auth.language import Language
from services.orgs.auth.schemas import Email, Name, Role
from services.orgs.joining.schemas import InvitationStatus
from shared.events.schemas import JoinRequestStatus
from shared.schemas import Input, LocalizedText, Output

_BOOKING_EXAMPLE = {
    "bookings": [
        {
            "id": "01936f4e-8a2b-7c3d-9e4f-5a6b7c8d9e0f",
            "session_id": "01936f4e-9b3c-7d4e-8f5a-6b7c8d9e0f1a",
            "seats": 1,
            "status": "confirmed",
            "created_at": "2027-03-01T09:30:00+08:00",
        }
    ],
    "checkins": [{"booking_id": "01936f4e-8a2b-7c3d-9e4f-5a6b7c8d9e0f", "checked_in_at": "2027-03-02T18:52:00+08:00"}],
    "learning_record": {"total_minutes": 90, "sessions_attended": 1},
}
_NOTIFY_EXAMPLE = {
    "preferences": {"email": True, "language": "zh-CN", "reminders_minutes_before": [1440, 120]},
    "notifications": [
        {
            "kind": "booking_confirmed",
            "title": "预约成功：宋词夜读",
            "created_at": "2027-03-01T09:30:02+08:00",
            "read_at": None,
        }
    ],
    "reminders": [],
    "calendar_feed": None,
    "contact": None,
}


class EraseIn(Input):
    password: Annotated[
        str, Field(min_length=1, max_length=128, description="Your password, again", examples=["correct horse battery"])
    ]


class ExportedPerson(Output):
    id: UUID
    email: Email
    display_name: Name
    language: Annotated[Language | None, Field(description="The language of your notices, from registration")]
    roles: Annotated[list[str], Field(description="Platform roles, e.g. `operator`", examples=[[]])]
    created_at: datetime


class ExportedMembership(Output):
    organization_id: UUID
    organization_name: Annotated[LocalizedText, Field(examples=[{"zh-CN": "北山街道社区学校", "en": "Beishan School"}])]
    role: Role
    joined_at: datetime


class ExportedJoinRequest(Output):
    id: UUID
    organization_id: UUID
    organization_name: Annotated[LocalizedText, Field(examples=[{"zh-CN": "北山街道社区学校", "en": "Beishan School"}])]
    status: JoinRequestStatus
    message: Annotated[str | None, Field(examples=["想参加读书会 I'd like to join the reading circle"])]
    created_at: datetime
    decided_at: datetime | None


class ExportedInvitation(Output):
    """An invitation sent to your address, or one you accepted."""

    id: UUID
    organization_id: UUID
    organization_name: Annotated[LocalizedText, Field(examples=[{"zh-CN": "北山街道社区学校", "en": "Beishan School"}])]
    email: Email
    role: Role
    status: InvitationStatus
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None


class PersonalData(Output):
    """Everything Learning City holds about you, from every service, as of `exported_at`."""

    exported_at: datetime
    person: ExportedPerson
    memberships: list[ExportedMembership]
    join_requests: Annotated[list[ExportedJoinRequest], Field(description="Your requests to join organizations")]
    invitations: Annotated[
        list[ExportedInvitation], Field(description="Invitations sent to your address, and those you accepted")
    ]
    booking: Annotated[
        dict[str, Any],
        Field(
            description="What the booking service holds: your bookings, check-ins and learning record",
            examples=[_BOOKING_EXAMPLE],
        ),
    ]
    notify: Annotated[
        dict[str, Any],
        Field(
            description="What the notify service holds: your notices, their preferences, reminders and calendar feed",
            examples=[_NOTIFY_EXAMPLE],
        ),
    ]
