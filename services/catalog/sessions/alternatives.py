"""Alternatives when a session is full: other sessions with free seats, the same activity first, then the
same series, then the same kind of activity sharing a topic; nearest first within each, from the full
session's site or from `near`. The ranking is one statement (`alternatives_repository`)."""

from datetime import datetime

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.activities.schemas import ActivitySummary
from services.catalog.activities.service import activity_out
from services.catalog.geo import GeoPoint, walk_minutes_for
from services.catalog.models import ActivitySession
from services.catalog.sessions.alternatives_repository import (
    MATCHES,
    Match,
    ranked_alternatives,
)
from services.catalog.sessions.schemas import SessionOut
from services.catalog.sessions.service import session_out
from services.catalog.sites.schemas import SiteSummary
from services.catalog.sites.service import site_out
from shared.schemas import Output


class AlternativeItem(Output):
    session: SessionOut
    activity: ActivitySummary
    site: SiteSummary | None = Field(description="Null for an online session")
    distance_m: float | None = Field(
        description="Straight-line metres from `near`, or else from the full session's site; null for an online "
        "session, or when the full session is online and no `near` is given"
    )
    walk_minutes: int | None = Field(description="ceil(distance_m / 75); null with distance_m")
    seats_available: int = Field(description="Free seats a booking without `seat` can take; always > 0 here")
    match: Match = Field(
        description="`same_activity`, then `same_series`, then `similar` (the same kind of activity sharing at "
        "least one topic): the ranking's first key"
    )


class Alternatives(Output):
    items: list[AlternativeItem]


async def alternatives(
    db: AsyncSession,
    full_session: ActivitySession,
    *,
    near: GeoPoint | None,
    weeks: int,
    limit: int,
    now: datetime,
    accept_language: str | None,
) -> Alternatives:
    statement, values = ranked_alternatives(full_session.id, near=near, now=now, weeks=weeks, limit=limit)
    items = []
    for activity_session, activity, site, figures, seats, distance, tier in (await db.execute(statement, values)).all():
        items.append(
            AlternativeItem(
                session=session_out(activity_session, figures, mode=activity.mode),
                activity=ActivitySummary.model_validate(activity_out(activity, accept_language)),
                site=None if site is None else SiteSummary.model_validate(site_out(site, accept_language)),
                distance_m=distance,
                walk_minutes=None if distance is None else walk_minutes_for(distance),
                seats_available=seats,
                match=MATCHES[tier],
            )
        )
    return Alternatives(items=items)
