from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from services.catalog.activities.schemas import LearningMode
from services.catalog.models import MAX_CAPACITY
from services.catalog.schemas import CatalogTime
from shared.schemas import Input, Output

MAX_OCCURRENCES = 500
MAX_RULE_LENGTH = 500

Capacity = Annotated[
    int, Field(ge=1, le=MAX_CAPACITY, description="Seats (1..100000): in person, or online for an online activity")
]
AccessibleSeats = Annotated[
    int,
    Field(
        ge=0,
        le=MAX_CAPACITY,
        description="Of `capacity`, the in-person seats kept for people who ask for an accessible seat "
        "(wheelchair spaces); at most `capacity`, none for online activities",
        examples=[2],
    ),
]
OnlineCapacity = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_CAPACITY,
        description="Hybrid activities only (and required there): online seats besides the in-person `capacity`",
        examples=[200],
    ),
]


class SessionStatus(StrEnum):
    scheduled = "scheduled"
    cancelled = "cancelled"


class RecurrenceIn(Input):
    """Repeat the session by an RFC 5545 RRULE, expanded in `timezone` wall time (default the city's,
    Asia/Shanghai): a weekly 19:00 session stays at 19:00 local. Each occurrence keeps the first one's
    duration and booking window offsets. `starts_at` is an occurrence when it matches the rule."""

    rrule: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_RULE_LENGTH,
            description="FREQ (DAILY, WEEKLY, MONTHLY, YEARLY), INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY, "
            "BYMONTH, WKST; COUNT or UNTIL (here or below) is required; at most 500 sessions",
            examples=["FREQ=WEEKLY;BYDAY=TU,TH;COUNT=10"],
        ),
    ]
    count: Annotated[int | None, Field(ge=1, le=MAX_OCCURRENCES)] = None
    until: CatalogTime | None = None
    timezone: Annotated[str | None, Field(max_length=64, examples=["Asia/Shanghai"])] = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError("unknown IANA time zone") from exc
        return value


class SessionCreate(Input):
    starts_at: CatalogTime
    ends_at: CatalogTime
    capacity: Capacity
    accessible_seats: AccessibleSeats = 0
    online_capacity: OnlineCapacity | None = None
    booking_opens_at: CatalogTime | None = None
    booking_closes_at: CatalogTime | None = None
    recurrence: RecurrenceIn | None = None


class SessionUpdate(Input):
    """Only the fields given change; `null` clears a booking window bound."""

    # `SkipJsonSchema[None]`: absent means "unchanged", but null is refused, and documented as refused.
    capacity: Capacity | SkipJsonSchema[None] = None
    accessible_seats: AccessibleSeats | SkipJsonSchema[None] = None
    online_capacity: OnlineCapacity | SkipJsonSchema[None] = None
    starts_at: CatalogTime | SkipJsonSchema[None] = None
    ends_at: CatalogTime | SkipJsonSchema[None] = None
    booking_opens_at: CatalogTime | None = None
    booking_closes_at: CatalogTime | None = None

    @field_validator("capacity", "accessible_seats", "online_capacity", "starts_at", "ends_at", mode="before")
    @classmethod
    def _required_fields_stay(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be removed")
        return value


CANCEL_REASON_EXAMPLE = "台风预警，活动取消 (typhoon warning)"


class SessionCancel(Input):
    reason: Annotated[str | None, Field(min_length=1, max_length=500, examples=[CANCEL_REASON_EXAMPLE])] = None


class SessionOut(Output):
    id: UUID
    activity_id: UUID
    site_id: UUID | None
    starts_at: datetime
    ends_at: datetime
    capacity: int
    mode: LearningMode = Field(description="The activity's: in_person, online (no site) or hybrid")
    accessible_seats: int = Field(description="Of `capacity`, the seats only people asking for an accessible one take")
    online_capacity: int = Field(description="A hybrid session's online seats besides `capacity` (else 0)")
    status: SessionStatus
    seats_available: int = Field(
        description="Free seats a booking that asks for no particular seat can take (`capacity` less the "
        "accessible seats, less those booked), from the booking service's reports"
    )
    accessible_available: int = Field(description="Free accessible seats")
    online_available: int = Field(description="Free online seats of a hybrid session (else 0)")
    waitlist_length: int
    booking_opens_at: datetime | None
    booking_closes_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None = Field(examples=[CANCEL_REASON_EXAMPLE])


class SessionsCreated(Output):
    items: list[SessionOut]
