from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from services.catalog.schemas import Slug, display_example, text_example
from shared.schemas import Input, LocalizedDescription, LocalizedTitle, Output

_TAG = r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}"
Languages = Annotated[
    str,
    Field(
        pattern=rf"^{_TAG}(,{_TAG}){{0,4}}$",
        max_length=100,
        description="Language(s) the activity is held in: BCP 47 tags, comma-separated",
        examples=["zh-CN", "zh-CN,en"],
    ),
]
Topics = Annotated[list[Slug], Field(max_length=20, examples=[["literature", "local_history"]])]
Audiences = Annotated[list[Slug], Field(max_length=10, examples=[["seniors", "families"]])]
PriceCents = Annotated[int, Field(ge=0, le=10_000_000, description="Price in fen (CNY cents); 0 is free")]


class ActivityKind(StrEnum):
    course = "course"
    workshop = "workshop"
    lecture = "lecture"
    forum = "forum"
    reading = "reading"
    exhibition = "exhibition"
    screening = "screening"
    performance = "performance"
    study_group = "study_group"
    festival_event = "festival_event"


class ActivityCreate(Input):
    title: LocalizedTitle
    description: LocalizedDescription | None = None
    kind: ActivityKind
    topics: Topics = Field(default_factory=list)
    audience: Audiences = Field(default_factory=list)
    language: Languages | None = None
    host_org_id: UUID
    site_id: UUID | None = None
    series_id: UUID | None = None
    price_cents: PriceCents = 0


class ActivityUpdate(Input):
    """Only the fields given change; `null` clears the optional ones. The host organization is fixed."""

    # `SkipJsonSchema[None]`: absent means "unchanged", but null is refused, and documented as refused.
    title: LocalizedTitle | SkipJsonSchema[None] = None
    description: LocalizedDescription | None = None
    kind: ActivityKind | SkipJsonSchema[None] = None
    topics: Topics | SkipJsonSchema[None] = None
    audience: Audiences | SkipJsonSchema[None] = None
    language: Languages | None = None
    site_id: UUID | None = None
    series_id: UUID | None = None
    price_cents: PriceCents | SkipJsonSchema[None] = None

    @field_validator("title", "kind", "topics", "audience", "price_cents", mode="before")
    @classmethod
    def _required_fields_stay(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be removed")
        return value


class ActivitySummary(Output):
    """What a result list shows of an activity (search items); `ActivityOut` has the rest."""

    id: UUID
    title: dict[str, str] = text_example("宋词夜读", "Song Poetry Night Reading")
    title_display: str = display_example("宋词夜读")
    kind: ActivityKind
    topics: list[str] = Field(examples=[["literature", "local_history"]])
    audience: list[str] = Field(examples=[["adults", "seniors"]])
    language: str | None = Field(examples=["zh-CN"])
    host_org_id: UUID
    series_id: UUID | None
    price_cents: int


class ActivityOut(ActivitySummary):
    description: dict[str, str] | None = text_example(
        "在湖滨城市书房一起朗读苏轼、柳永写西湖的词。", "Reading aloud Su Shi's and Liu Yong's ci about West Lake."
    )
    description_display: str | None = display_example("在湖滨城市书房一起朗读苏轼、柳永写西湖的词。")
    site_id: UUID | None
    created_at: datetime
    updated_at: datetime
