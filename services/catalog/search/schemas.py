from enum import StrEnum
from typing import Annotated

from fastapi import Query
from pydantic import Field

from services.catalog.activities.schemas import ActivitySummary
from services.catalog.sessions.schemas import SessionOut
from services.catalog.sites.schemas import SiteSummary
from shared.schemas import Output

MAX_WINDOW_DAYS = 366
MAX_QUERY_LENGTH = 100

TextQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_QUERY_LENGTH,
        pattern=r"\S",
        description="Words in any language (Chinese needs no spaces); typos and partial words still match",
        examples=["西湖读书", "poetry"],
    ),
]


class SearchSort(StrEnum):
    distance = "distance"
    starts_at = "starts_at"
    relevance = "relevance"


class SearchMode(StrEnum):
    """How a learner takes part: `online` finds online and hybrid activities, `in_person` in-person and hybrid
    ones, `any` all of them."""

    any = "any"
    in_person = "in_person"
    online = "online"


class SearchItem(Output):
    session: SessionOut
    activity: ActivitySummary
    site: SiteSummary | None = Field(description="Null for a session without a site (only without `near`)")
    distance_m: float | None = Field(description="Straight-line metres from `near`; null without `near`")
    walk_minutes: int | None = Field(description="ceil(distance_m / 75); null without `near`")
    seats_available: int
    alternatives_url: str | None = Field(
        description="For a full session (seats_available 0) that has alternatives: the path of "
        "`GET /v1/sessions/{id}/alternatives`, which with its defaults (the next 4 weeks) lists at least one "
        "session, as of this search. Null for a session with free seats, or a full one without alternatives. "
        "Checked in one query per page, only when the page has full sessions.",
        examples=["/v1/sessions/01936d2e-7a4b-7c3d-9e8f-0a1b2c3d4e5f/alternatives"],
    )
