from datetime import datetime

from pydantic import Field

from services.booking.participation.repository import GroupBy
from shared.schemas import Output


class ParticipationFigures(Output):
    sessions: int = Field(description="Sessions held or to be held (not cancelled) that started in the range")
    seats_offered: int = Field(
        description="Their seats: in-person capacity plus a hybrid session's online seats", examples=[1200]
    )
    bookings: int = Field(
        description="Bookings that held seats: confirmed (checked in or not) and no-shows, of sessions that "
        "started in the range; waitlisted and cancelled ones never held one. An organization's block counts "
        "once; its member lines are seats of it, never counted again",
        examples=[640],
    )
    seats_booked: int = Field(description="The seats of those bookings (a block: all its seats)", examples=[700])
    checkins: int = Field(description="Check-ins (learning records) of those sessions", examples=[560])
    learning_minutes: int = Field(
        description="The scheduled minutes those check-ins credited to learning records", examples=[50400]
    )
    no_shows: int = Field(
        description="Seats booked (own bookings and member lines) not checked in by the session's end",
        examples=[58],
    )
    fill_rate: float | None = Field(
        description="Of the sessions that have started (not cancelled): seats booked / seats offered "
        "(null when they offered none)",
        examples=[0.58],
    )
    no_show_rate: float | None = Field(
        description="no_shows / (checkins + no_shows) (null when both are 0)", examples=[0.094]
    )


class ParticipationGroup(ParticipationFigures):
    key: str = Field(
        description="The group: a district's id, `urban` or `rural`, a site kind, an activity kind or a month "
        "(`YYYY-MM` in the city's time zone); for place groups, sessions booking cannot place are grouped "
        "honestly: `online` (an online session, no site), `no_site` (in person without a site), "
        "`unknown_site` (a site booking has not heard of yet) and `no_district` (a site outside every "
        "loaded district)",
        examples=["urban"],
    )
    name: dict[str, str] | None = Field(
        description="A district's name (by=district), else null", examples=[{"zh-CN": "西湖区", "en": "Xihu"}]
    )


class ParticipationOut(Output):
    by: GroupBy
    from_: datetime = Field(serialization_alias="from", description="Sessions that started at or after this")
    to: datetime = Field(description="... and before this")
    time_zone: str = Field(description="The city's time zone (months)", examples=["Asia/Shanghai"])
    groups: list[ParticipationGroup] = Field(description="Groups with at least one session, ordered by key")
    totals: ParticipationFigures = Field(description="Every session of the range (the sum of the groups)")
    organizations_activity: str = Field(
        description="Where to read how many organizations of each kind were active",
        examples=["/v1/learning-records/organizations-activity"],
    )
