"""Alternatives to a full session, as SQL: one statement ranks them, one statement tells a page of search
results which of its full sessions have any.

Both start from the full session (by primary key) and its activity, find the related activities through
their indexes (the primary key for the same activity, `ix_activities_series_id` for the same series, the
GIN index on `topics` for the same kind sharing a topic), then those activities' sessions in the time window
through `ix_sessions_activity_id_starts_at`: no statement reads sessions of unrelated activities.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Double,
    Exists,
    Integer,
    Select,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter

from services.catalog.availability.service import seats_available_sql
from services.catalog.geo import GeoPoint, earth_point
from services.catalog.models import Activity, ActivitySession, SessionAvailability, Site
from shared.driver import DriverStatement

DEFAULT_WEEKS = 4
MAX_WEEKS = 12
DEFAULT_LIMIT = 10
MAX_LIMIT = 50


class Match(StrEnum):
    """How an alternative relates to the full session, best first (the ranking's first key)."""

    same_activity = "same_activity"
    same_series = "same_series"
    similar = "similar"  # the same kind of activity, sharing at least one topic


MATCHES = list(Match)  # by tier

_target_session = aliased(ActivitySession, name="target_session")
_target_activity = aliased(Activity, name="target_activity")
_origin_site = aliased(Site, name="origin_site")


def _moment(name: str) -> BindParameter[datetime]:
    return bindparam(name, type_=ActivitySession.starts_at.type)


def _relations(target: Any) -> tuple[ColumnElement[bool], ...]:
    """How `Activity` may relate to the target activity, best first: itself, the same series (a NULL series
    matches nothing), the same kind sharing a topic (an empty `topics` shares none)."""
    return (
        Activity.id == target.id,
        Activity.series_id == target.series_id,
        and_(Activity.kind == target.kind, Activity.topics.overlap(target.topics)),
    )


def _tier(target: Any) -> ColumnElement[int]:
    """The position in `Match` of the best relation `Activity` has to the target activity."""
    same_activity, same_series, _ = _relations(target)
    return case((same_activity, 0), (same_series, 1), else_=2)


def _bookable(seats: ColumnElement[Any]) -> ColumnElement[bool]:
    """`ActivitySession` (outer-joined to its availability) is scheduled, starts in (`now`, `until`), still
    takes bookings, and has free seats in the standard pool (no figures yet: its whole capacity)."""
    now = _moment("now")
    return and_(
        # A literal, not a parameter, like search: the planner sees which rows the partial indexes hold.
        ActivitySession.status == literal_column("'scheduled'"),
        ActivitySession.starts_at > now,
        ActivitySession.starts_at < _moment("until"),
        or_(ActivitySession.booking_closes_at.is_(None), ActivitySession.booking_closes_at > now),
        seats > 0,
    )


def _bookable_sessions(statement: Select[Any], target_session_id: Any) -> Select[Any]:
    """`statement` (over `ActivitySession`) kept to bookable sessions other than the target session."""
    return statement.outerjoin(SessionAvailability, SessionAvailability.session_id == ActivitySession.id).where(
        _bookable(seats_available_sql()), ActivitySession.id != target_session_id
    )


@cache
def _ranked(with_near: bool) -> Select[Any]:
    """Up to `row_limit` alternatives to `session_id`: by tier, then nearest first from `near` (or else the
    full session's site; none when it has no site), sessions without a site after the others of their tier,
    then by start time and id."""
    if with_near:
        origin = earth_point(bindparam("near_lat", type_=Double), bindparam("near_lon", type_=Double))
    else:
        origin = earth_point(_origin_site.lat, _origin_site.lon)
    # NULL when either end has no place (an online session, or an online full session without `near`).
    distance = func.earth_distance(origin, earth_point(Site.lat, Site.lon), type_=Double)
    statement = (
        select(
            ActivitySession,
            Activity,
            Site,
            SessionAvailability,
            seats_available_sql().label("seats_available"),
            distance.label("distance_m"),
            _tier(_target_activity).label("tier"),
        )
        .select_from(_target_session)
        .join(_target_activity, _target_activity.id == _target_session.activity_id)
        .outerjoin(_origin_site, _origin_site.id == _target_session.site_id)
        .join(Activity, or_(*_relations(_target_activity)))
        .join(ActivitySession, ActivitySession.activity_id == Activity.id)
    )
    return (
        _bookable_sessions(statement, _target_session.id)
        .outerjoin(Site, Site.id == ActivitySession.site_id)
        .where(_target_session.id == bindparam("session_id", type_=Uuid))
        .order_by(_tier(_target_activity), distance.asc().nulls_last(), ActivitySession.starts_at, ActivitySession.id)
        .limit(bindparam("row_limit", type_=Integer))
    )


def window(now: datetime, weeks: int) -> dict[str, datetime]:
    return {"now": now, "until": now + timedelta(weeks=weeks)}


def ranked_alternatives(
    session_id: UUID, *, near: GeoPoint | None, now: datetime, weeks: int, limit: int
) -> tuple[Select[Any], dict[str, Any]]:
    """The statement (rows: session, activity, site or None, figures or None, seats_available, distance_m,
    tier (an index into `MATCHES`)) and its parameters."""
    values: dict[str, Any] = {"session_id": session_id, "row_limit": limit} | window(now, weeks)
    if near is not None:
        values |= {"near_lat": near.lat, "near_lon": near.lon}
    return _ranked(near is not None), values


@cache
def _with_alternatives() -> DriverStatement:
    """Which of `session_ids` have at least one alternative in the window: one EXISTS per relation, best
    first, so a session with another bookable session of its own activity costs one index probe. Each
    relation's activity ids are gathered whole (`ARRAY(...)`, through their index) before their sessions are
    probed: an EXISTS over the relation itself tempts the planner to scan `activities` hoping for an early
    match, which reads the whole table when there is none."""

    def any_bookable(relation: ColumnElement[bool]) -> Exists:
        related_ids = (
            select(Activity.id)
            .select_from(_target_activity)
            .join(Activity, relation)
            .where(_target_activity.id == _target_session.activity_id)
            .correlate(_target_session)
        )
        sessions: Select[Any] = select(literal_column("1")).select_from(ActivitySession)
        return exists(
            _bookable_sessions(sessions, _target_session.id).where(
                ActivitySession.activity_id == any_(func.array(related_ids.scalar_subquery()))
            )
        )

    statement = select(_target_session.id).where(
        _target_session.id == any_(bindparam("session_ids", type_=ARRAY(Uuid))),
        or_(*map(any_bookable, _relations(_target_activity))),
    )
    return DriverStatement.of(statement)


def with_alternatives_query(session_ids: list[UUID], *, now: datetime) -> tuple[str, list[Any]]:
    """The SQL and arguments for `_with_alternatives`, with the alternatives route's default window."""
    compiled = _with_alternatives()
    return compiled.sql, compiled.arguments({"session_ids": session_ids} | window(now, DEFAULT_WEEKS))
