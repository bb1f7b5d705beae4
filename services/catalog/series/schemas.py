from datetime import date, datetime
from enum import StrEnum
from typing import Self
from uuid import UUID

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from services.catalog.schemas import display_example, text_example
from shared.schemas import Input, LocalizedDescription, LocalizedTitle, Output

MAX_SERIES_DAYS = 3660  # ten years: a long-running programme, not an accident


class SeriesKind(StrEnum):
    festival = "festival"
    programme = "programme"
    course = "course"


class SeriesCreate(Input):
    name: LocalizedTitle
    kind: SeriesKind
    starts_on: date
    ends_on: date
    organizer_org_id: UUID
    description: LocalizedDescription | None = None

    @model_validator(mode="after")
    def _dates_ordered(self) -> Self:
        if self.ends_on < self.starts_on:
            raise PydanticCustomError("dates_ordered", "ends_on must not be before starts_on")
        if (self.ends_on - self.starts_on).days > MAX_SERIES_DAYS:
            raise PydanticCustomError("dates_span", "a series may span at most ten years")
        return self


class SeriesOut(Output):
    id: UUID
    name: dict[str, str] = text_example("西湖读书节", "West Lake Reading Festival")
    name_display: str = display_example("西湖读书节")
    kind: SeriesKind
    starts_on: date
    ends_on: date
    organizer_org_id: UUID
    description: dict[str, str] | None = text_example(
        "三周的湖畔阅读、作家见面会与图书市集。", "Three weeks of lakeside reading, author talks and book markets."
    )
    description_display: str | None = display_example("三周的湖畔阅读、作家见面会与图书市集。")
    created_at: datetime
