from datetime import datetime
from uuid import UUID

from pydantic import Field

from services.booking.attendance.schemas import Standing
from shared.schemas import Output


class LearningTotals(Output):
    total_minutes: int = Field(description="Scheduled minutes of every session checked in to", examples=[210])
    sessions_attended: int = Field(examples=[3])
    by_kind: dict[str, int] = Field(description="Minutes per activity kind", examples=[{"reading": 90, "lecture": 120}])


class LearningItem(Output):
    booking_id: UUID
    session_id: UUID
    title: dict[str, str] = Field(examples=[{"zh-CN": "西湖读书会：宋词里的杭州", "en": "West Lake reading circle"}])
    title_display: str = Field(
        description="`title` in the language `Accept-Language` picks", examples=["西湖读书会：宋词里的杭州"]
    )
    kind: str = Field(examples=["reading"])
    starts_at: datetime
    minutes: int
    checked_in_at: datetime


class LearningRecordOut(LearningTotals):
    person_id: UUID
    items: list[LearningItem] = Field(description="Newest first, one page (`limit`, `cursor`)")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page of items; null on the last",
        examples=["WyIyMDI3LTAzLTAyVDExOjAwOjAwKzAwOjAwIl0"],
    )


class MyLearningRecordOut(LearningRecordOut):
    standing: Standing = Field(description="Your no-shows and the active-bookings limit they leave you")


class MonthActivity(Output):
    """One calendar month (in the city's time zone) of a member's sessions, by when they started."""

    month: str = Field(description="YYYY-MM", examples=["2027-03"])
    total_minutes: int = Field(description="minutes_at_organization + minutes_elsewhere", examples=[150])
    minutes_at_organization: int = Field(description="Minutes of sessions the organization hosted", examples=[90])
    minutes_elsewhere: int = Field(description="Minutes of sessions other organizations hosted", examples=[60])
    sessions_attended: int = Field(examples=[2])
    no_shows: int = Field(description="Sessions booked, not cancelled and missed", examples=[1])


class MemberLearningOut(LearningTotals):
    person_id: UUID
    display_name: str = Field(examples=["王小明 Wang Xiaoming"])
    role: str = Field(description="Their role in the organization", examples=["member"])
    minutes_at_organization: int = Field(description="Minutes of sessions the organization hosted", examples=[90])
    minutes_elsewhere: int = Field(description="Minutes of sessions other organizations hosted", examples=[120])
    no_shows: int = Field(description="Sessions booked, not cancelled and missed", examples=[1])
    months: list[MonthActivity] = Field(description="Months with any activity, oldest first")


class KindActivity(Output):
    kind: str = Field(examples=["community"])
    organizations: int = Field(description="Organizations of this kind", examples=[40])
    active: int = Field(
        description="Of them, those that hosted a session or whose booking (block or member line) was checked "
        "in within the window",
        examples=[26],
    )
    share_active: float = Field(description="active / organizations (0 when there are none)", examples=[0.65])


class OrganizationsActivityOut(Output):
    days: int = Field(examples=[90])
    since: datetime = Field(description="The window's start (its end: the time of the request)")
    items: list[KindActivity] = Field(description="Every organization kind")
