from enum import StrEnum

from pydantic import Field

from services.catalog.activities.schemas import ActivitySummary
from services.catalog.sessions.schemas import SessionOut
from services.catalog.sites.schemas import SiteSummary
from shared.schemas import Output

MAX_WINDOW_DAYS = 366


class SearchSort(StrEnum):
    distance = "distance"
    starts_at = "starts_at"


class SearchItem(Output):
    session: SessionOut
    activity: ActivitySummary
    site: SiteSummary | None = Field(description="Null for a session without a site (only without `near`)")
    distance_m: float | None = Field(description="Straight-line metres from `near`; null without `near`")
    walk_minutes: int | None = Field(description="ceil(distance_m / 75); null without `near`")
    seats_available: int
