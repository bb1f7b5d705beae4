"""Participation analytics for city operators: bookings, check-ins, learning minutes, fill and no-show rates
of the sessions that started in a range, per district, urban/rural, site kind, activity kind or month."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.booking.dependencies import Collaborators
from services.booking.participation.repository import GroupBy, GroupFigures, ParticipationRepository
from services.booking.participation.schemas import ParticipationFigures, ParticipationGroup, ParticipationOut
from shared.db import utcnow
from shared.errors import Forbidden, Unprocessable

MAX_SPAN = timedelta(days=400)
ORGANIZATIONS_ACTIVITY = "/v1/learning-records/organizations-activity"


def default_from(to: datetime, zone: str) -> datetime:
    """The start of the twelfth month (in the city's wall time) counting back from `to`'s month: the last 12
    calendar months, the current one included."""
    local = to.astimezone(ZoneInfo(zone))
    months = local.year * 12 + local.month - 1 - 11
    return local.replace(year=months // 12, month=months % 12 + 1, day=1, hour=0, minute=0, second=0, microsecond=0)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _figures(rows: list[GroupFigures]) -> ParticipationFigures:
    past_offered = sum(r.past_offered for r in rows)
    past_booked = sum(r.past_booked for r in rows)
    checkins, no_shows = sum(r.checkins for r in rows), sum(r.no_shows for r in rows)
    return ParticipationFigures(
        sessions=sum(r.sessions for r in rows),
        seats_offered=sum(r.seats_offered for r in rows),
        bookings=sum(r.bookings for r in rows),
        seats_booked=sum(r.seats_booked for r in rows),
        checkins=checkins,
        learning_minutes=sum(r.learning_minutes for r in rows),
        no_shows=no_shows,
        fill_rate=_rate(past_booked, past_offered),
        no_show_rate=_rate(no_shows, checkins + no_shows),
    )


async def participation(c: Collaborators, by: GroupBy, from_: datetime | None, to: datetime | None) -> ParticipationOut:
    if not c.principal.is_operator:
        raise Forbidden("Only operators see participation across the city")
    now = utcnow()
    zone = c.settings.timezone
    to = to or now
    from_ = from_ or default_from(to, zone)
    if from_ >= to:
        raise Unprocessable("`from` must be before `to`", pointer="/query/from")
    if to - from_ > MAX_SPAN:
        raise Unprocessable(f"The range may span at most {MAX_SPAN.days} days", pointer="/query/to")
    rows = await ParticipationRepository(c.session).groups(by, from_, to, now, zone)
    groups = [ParticipationGroup(key=row.key, name=row.name, **_figures([row]).model_dump()) for row in rows]
    return ParticipationOut(
        by=by,
        from_=from_,
        to=to,
        time_zone=zone,
        groups=groups,
        totals=_figures(rows),
        organizations_activity=ORGANIZATIONS_ACTIVITY,
    )
