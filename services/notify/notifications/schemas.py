from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import Field

from shared.schemas import Output


class NoticeKind(StrEnum):
    booking_confirmed = "booking_confirmed"
    booking_waitlisted = "booking_waitlisted"
    waitlist_promoted = "waitlist_promoted"
    booking_cancelled = "booking_cancelled"
    session_changed = "session_changed"
    session_cancelled = "session_cancelled"
    reminder = "reminder"


def _absent_when_none(value: object) -> bool:
    return value is None


def _optional(description: str, example: Any) -> Any:
    """A field present only when it applies (the contract's `booking_id?`, `session_id?`)."""
    return Field(default=None, description=description, examples=[example], exclude_if=_absent_when_none)


class NotificationOut(Output):
    id: UUID
    kind: NoticeKind
    title: str = Field(description="One line, in your language", examples=["预约成功：西湖读书会"])
    body: str = Field(
        description="Plain text: the session's time (Asia/Shanghai), place and what to do",
        examples=["您好，小明：您已预约 1 个座位。\n时间：2027年3月2日 19:00–20:30\n地点：湖滨图书馆，湖滨路1号"],
    )
    created_at: datetime
    read_at: datetime | None = Field(description="When you marked it read; null while unread")
    booking_id: UUID | None = _optional("The booking it is about", "01936f4e-8a2b-7c3d-9e4f-5a6b7c8d9e0f")
    session_id: UUID | None = _optional("The session it is about", "01936f4e-8a2b-7c3d-9e4f-5a6b7c8d9e10")
