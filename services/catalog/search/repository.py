"""The search as one SQL statement: sites near the point (GiST on ll_to_earth), their upcoming sessions
(partial index on site_id, starts_at), the activity and the availability projection.

The statement is built with SQLAlchemy once per *shape* (which filters are present, the sort, whether a
cursor is given) and compiled for asyncpg; a request only supplies the values. Every value is a named
parameter, so one shape is one prepared statement on each connection.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import ARRAY, Double, Integer, Text, Uuid, bindparam, literal_column, null, select, tuple_

from services.catalog.availability.service import seats_available_sql
from services.catalog.geo import GeoPoint, distance_m, walk_radius_m, within_walk
from services.catalog.models import Activity, ActivitySession, SessionAvailability, Site
from services.catalog.search.schemas import SearchSort
from shared.driver import DriverStatement


@dataclass(frozen=True)
class SearchFilters:
    near: GeoPoint | None
    walk_minutes: int
    starts_from: datetime
    starts_before: datetime
    sort: SearchSort
    q: str | None = None
    kind: str | None = None
    audience: str | None = None
    topic: str | None = None
    series_id: UUID | None = None
    available_only: bool = False


@dataclass(frozen=True)
class _Shape:
    near: bool
    sort: SearchSort
    after: bool
    q: bool
    kind: bool
    audience: bool
    topic: bool
    series: bool
    available: bool


def like_pattern(text: str) -> str:
    """`%text%` with LIKE's own wildcards escaped (backslash is PostgreSQL's default escape)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_COLUMNS = (
    ActivitySession.id.label("session_id"),
    ActivitySession.activity_id,
    ActivitySession.site_id,
    ActivitySession.starts_at,
    ActivitySession.ends_at,
    ActivitySession.capacity,
    ActivitySession.status,
    ActivitySession.booking_opens_at,
    ActivitySession.booking_closes_at,
    ActivitySession.cancelled_at,
    ActivitySession.cancel_reason,
    SessionAvailability.waitlist_length,
    Activity.title,
    Activity.kind.label("activity_kind"),
    Activity.topics,
    Activity.audience,
    Activity.language,
    Activity.host_org_id,
    Activity.series_id,
    Activity.price_cents,
    Site.name.label("site_name"),
    Site.kind.label("site_kind"),
    Site.lat,
    Site.lon,
    Site.address,
    Site.district,
    Site.accessibility,
)


@cache
def _compiled(shape: _Shape) -> DriverStatement:
    """One shape's SQL (a few hundred shapes at most, each compiled once)."""
    seats = seats_available_sql()
    distance = distance_m(GeoPoint(0.0, 0.0), Site.lat, Site.lon) if shape.near else null()
    statement = (
        select(*_COLUMNS, seats.label("seats_available"), distance.label("distance_m"))
        .select_from(ActivitySession)
        .join(Activity, Activity.id == ActivitySession.activity_id)
        .outerjoin(SessionAvailability, SessionAvailability.session_id == ActivitySession.id)
        # A literal, not a parameter: the planner must see it to use the partial indexes on scheduled sessions.
        .where(ActivitySession.status == literal_column("'scheduled'"))
        .where(ActivitySession.starts_at >= bindparam("starts_from", type_=ActivitySession.starts_at.type))
        .where(ActivitySession.starts_at < bindparam("starts_before", type_=ActivitySession.starts_at.type))
    )
    if shape.near:
        statement = statement.join(Site, Site.id == ActivitySession.site_id).where(
            within_walk(GeoPoint(0.0, 0.0), 1, Site.lat, Site.lon)
        )
    else:
        statement = statement.outerjoin(Site, Site.id == ActivitySession.site_id)
    if shape.q:
        statement = statement.where(Activity.search_text.like(bindparam("q_pattern", type_=Text)))
    if shape.kind:
        statement = statement.where(Activity.kind == bindparam("kind", type_=Text))
    if shape.audience:
        statement = statement.where(Activity.audience.contains(bindparam("audience", type_=ARRAY(Text))))
    if shape.topic:
        statement = statement.where(Activity.topics.contains(bindparam("topic", type_=ARRAY(Text))))
    if shape.series:
        statement = statement.where(Activity.series_id == bindparam("series_id", type_=Uuid))
    if shape.available:
        statement = statement.where(seats > 0)
    first = distance if shape.sort is SearchSort.distance else ActivitySession.starts_at
    after_type = Double() if shape.sort is SearchSort.distance else ActivitySession.starts_at.type
    if shape.after:
        after = tuple_(bindparam("after_key", type_=after_type), bindparam("after_id", type_=Uuid))
        statement = statement.where(tuple_(first, ActivitySession.id) > after)
    statement = statement.order_by(first, ActivitySession.id).limit(bindparam("row_limit", type_=Integer))
    return DriverStatement.of(statement)


def search_query(filters: SearchFilters, *, after: tuple[Any, UUID] | None, limit: int) -> tuple[str, list[Any]]:
    """The SQL and its arguments for one page: up to `limit` rows after the keyset position `after`
    ((distance_m or starts_at), session id), ordered by it."""
    shape = _Shape(
        near=filters.near is not None,
        sort=filters.sort,
        after=after is not None,
        q=filters.q is not None,
        kind=filters.kind is not None,
        audience=filters.audience is not None,
        topic=filters.topic is not None,
        series=filters.series_id is not None,
        available=filters.available_only,
    )
    compiled = _compiled(shape)
    values: dict[str, Any] = {
        "starts_from": filters.starts_from,
        "starts_before": filters.starts_before,
        "q_pattern": None if filters.q is None else like_pattern(filters.q.lower()),
        "kind": filters.kind,
        "audience": [filters.audience],
        "topic": [filters.topic],
        "series_id": filters.series_id,
        "after_key": after[0] if after else None,
        "after_id": after[1] if after else None,
        "row_limit": limit,
    }
    if filters.near is not None:
        values |= {
            "origin_lat": filters.near.lat,
            "origin_lon": filters.near.lon,
            "walk_radius_m": walk_radius_m(filters.walk_minutes),
        }
    return compiled.sql, compiled.arguments(values)
