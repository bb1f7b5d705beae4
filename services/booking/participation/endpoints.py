from typing import Annotated

from fastapi import APIRouter, Query

from services.booking.dependencies import CollaboratorsDep
from services.booking.learning_records.endpoints import Moment
from services.booking.participation import service
from services.booking.participation.repository import GroupBy
from services.booking.participation.schemas import ParticipationOut
from shared.errors import problem_responses

router = APIRouter(prefix="/v1/learning-records", tags=["learning-records"])


@router.get(
    "/participation",
    summary="Participation across the city (operators)",
    description="Bookings, check-ins, learning minutes, seats offered, fill rate and no-show rate of the "
    "sessions that started in `[from, to)` (default: the last 12 calendar months in the city's time zone, "
    "this one included, up to now; at most 400 days), per group (`by`): `district` (the district a site lies "
    "in, as the catalog tells booking by `site.changed`), `urban` (urban or rural district), `site_kind`, "
    "`activity_kind` or `month` (`YYYY-MM` in the city's time zone, `BOOKING_TIMEZONE`), with the totals. "
    "Sessions booking cannot place get groups of their own (`online`, `no_site`, `unknown_site`, "
    "`no_district`). Each field says exactly what it counts. A finished session's figures are summed once "
    "(its tally) and re-summed when anything about it changes, so a year of a city answers quickly. "
    "Organizations active per kind: `GET /v1/learning-records/organizations-activity`. Operators only.",
    operation_id="getParticipation",
    responses=problem_responses(401, 403, 422),
)
async def participation(
    c: CollaboratorsDep,
    by: Annotated[GroupBy, Query(description="How to group the sessions")] = GroupBy.district,
    from_: Annotated[
        Moment | None, Query(alias="from", description="Sessions starting at or after this (RFC 3339 with offset)")
    ] = None,
    to: Annotated[Moment | None, Query(description="Sessions starting before this (default: now)")] = None,
) -> ParticipationOut:
    return await service.participation(c, by, from_, to)
