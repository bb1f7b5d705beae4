from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StrictBool, field_validator
from pydantic_core import PydanticCustomError

from services.notify.models import MAX_REMINDER_MINUTES, MAX_REMINDERS, MIN_REMINDER_MINUTES
from shared.schemas import Input, Output

NoticeLanguage = Annotated[
    Literal["zh-CN", "en"], Field(description="The language of your notices and emails", examples=["zh-CN"])
]


def _json_number(value: Any) -> Any:
    """A JSON number (60, or 60.0), not a string or a boolean that pydantic would read as one."""
    if isinstance(value, str | bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


ReminderMinutes = Annotated[int, Field(ge=MIN_REMINDER_MINUTES, le=MAX_REMINDER_MINUTES), BeforeValidator(_json_number)]
_REMINDERS_DESCRIPTION = (
    f"Reminders before each confirmed session, in minutes ({MIN_REMINDER_MINUTES}..{MAX_REMINDER_MINUTES}); "
    f"at most {MAX_REMINDERS} (a repeated value counts once), [] for none. Default: 24 hours and 2 hours before"
)


class PreferencesIn(Input):
    email: StrictBool = Field(description="Also send notices by email (the in-app inbox always gets them)")
    language: NoticeLanguage
    reminders_minutes_before: Annotated[
        list[ReminderMinutes], Field(max_length=MAX_REMINDERS, description=_REMINDERS_DESCRIPTION)
    ] = Field(examples=[[1440, 120]])

    @field_validator("reminders_minutes_before")
    @classmethod
    def _each_once(cls, minutes: list[int]) -> list[int]:
        return list(dict.fromkeys(minutes))  # in the order given


class PreferencesOut(Output):
    email: bool = Field(description="Notices also go by email")
    language: NoticeLanguage
    reminders_minutes_before: list[int] = Field(description="Minutes before each session", examples=[[1440, 120]])
