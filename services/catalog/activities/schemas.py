from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import AfterValidator, Field, field_validator
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
MAX_JOIN_URL_LENGTH = 500


def _join_link(value: str) -> str:
    """An https link to a host, without credentials in it (it is shown to every confirmed holder)."""
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("must be an https URL, e.g. https://meet.learncity.example/song-poetry")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user name or password")
    return value


JoinUrl = Annotated[
    str,
    Field(
        min_length=len("https://x"),
        max_length=MAX_JOIN_URL_LENGTH,
        pattern=r"^https://\S+$",
        description="Where online learners join (https). Never shown in the catalog: booking gives it to people "
        "holding a confirmed booking",
        examples=["https://meet.learncity.example/song-poetry-night"],
    ),
    AfterValidator(_join_link),
]


class LearningMode(StrEnum):
    """in_person: at the activity's site; online: by the join link, no site; hybrid: both, with online
    seats apart from the in-person ones."""

    in_person = "in_person"
    online = "online"
    hybrid = "hybrid"


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
    mode: LearningMode = Field(
        LearningMode.in_person,
        description="in_person (default) and hybrid: at `site_id`; online: no `site_id`",
    )
    join_url: JoinUrl | None = Field(None, description="online and hybrid only; may be given later")


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
    mode: LearningMode | SkipJsonSchema[None] = Field(
        None, description="409 while the activity has upcoming scheduled sessions (their seats would change meaning)"
    )
    join_url: JoinUrl | None = Field(
        None, description="A change reaches booking (and holders) as `session.updated` of every upcoming session"
    )

    @field_validator("title", "kind", "topics", "audience", "price_cents", "mode", mode="before")
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
    mode: LearningMode
    has_join_url: bool = Field(
        description="Whether online learners have a join link yet (the link itself only reaches confirmed holders)"
    )
    created_at: datetime
    updated_at: datetime
