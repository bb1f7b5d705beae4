from datetime import datetime
from uuid import UUID

from pydantic import Field

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


class MemberLearningOut(LearningTotals):
    person_id: UUID
    role: str = Field(description="Their role in the organization", examples=["member"])
