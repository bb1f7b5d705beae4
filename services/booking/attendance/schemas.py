from datetime import datetime

from pydantic import Field

from shared.schemas import Output


class Standing(Output):
    """Where a person stands with the no-show rule: `threshold` no-shows within `window_days` lower their
    active-bookings limit to a few until the oldest of them leaves the window (`restricted_until`)."""

    no_shows: int = Field(description="Sessions you booked, did not cancel and missed, within the window", examples=[1])
    window_days: int = Field(description="How far back no-shows count", examples=[90])
    threshold: int = Field(description="No-shows within the window that lower your limit", examples=[3])
    max_active_bookings: int = Field(
        description="Active bookings (confirmed or waitlisted, session not ended) you may hold now", examples=[20]
    )
    restricted_until: datetime | None = Field(
        description="While your limit is lowered: when it returns to normal; null otherwise",
        examples=[None],
    )
