"""The search as one SQL statement: sites near the point (GiST on ll_to_earth), their upcoming sessions
(partial index on site_id, starts_at), the activity and the availability projection; with `q`, activities
matched through the GIN trigram index on their search text and ranked (services/catalog/search/text.py).

With `near`, sessions without a site (online) follow the walkable ones, unless the filters need a site
(`mode=in_person`, `accessibility`): a second branch over the partial index of site-less sessions, each
branch ordered and limited on its own, so a page costs at most two short scans.

The statement is built with SQLAlchemy once per *shape* (which filters are present, the sort, whether a
cursor is given and from which branch) and compiled for asyncpg; a request only supplies the values. Every
value is a named parameter, so one shape is one prepared statement on each connection.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Double,
    Integer,
    Select,
    Text,
    Uuid,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    tuple_,
    union_all,
)

from services.catalog.availability.service import accessible_available_sql, online_available_sql, seats_available_sql
from services.catalog.geo import GeoPoint, distance_m, walk_radius_m, within_walk
from services.catalog.models import Activity, ActivitySession, SessionAvailability, Site
from services.catalog.search.schemas import SearchMode, SearchSort
from services.catalog.search.text import activity_relevance, matches, query_values
from shared.driver import DriverStatement

# With `near`, how far a proximity lowers relevance: at the walk's edge a session keeps half of it.
DISTANCE_DISCOUNT = 0.5


class Tier(IntEnum):
    """Results come in tiers: first the sessions at a site (within the walk, with `near`), then (with `near`
    only) the online sessions, which have no site and no distance."""

    sited = 0
    online = 1


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
    accessibility: tuple[str, ...] = ()
    mode: SearchMode = SearchMode.any
    free_only: bool = False

    @property
    def online_tier(self) -> bool:
        """With `near`, online sessions follow the walkable ones, unless the filters need a site."""
        return self.near is not None and self.mode is not SearchMode.in_person and not self.accessibility


@dataclass(frozen=True)
class Position:
    """A keyset position: (tier, sort key, starts_at, session id), the order of every search.

    The sort key is the distance (`sort=distance`, 0 for online sessions), minus the score
    (`sort=relevance`), or 0 (`sort=starts_at`)."""

    tier: Tier
    key: float
    starts_at: datetime
    session_id: UUID


@dataclass(frozen=True)
class _Shape:
    near: bool
    sort: SearchSort
    after: Tier | None
    q: bool
    kind: bool
    audience: bool
    topic: bool
    series: bool
    available: bool
    accessibility: bool
    mode: SearchMode
    free: bool
    online_tier: bool


_COLUMNS = (
    ActivitySession.id.label("session_id"),
    ActivitySession.activity_id,
    ActivitySession.site_id,
    ActivitySession.starts_at,
    ActivitySession.ends_at,
    ActivitySession.capacity,
    ActivitySession.accessible_seats,
    ActivitySession.online_capacity,
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
    Activity.mode,
    Site.name.label("site_name"),
    Site.kind.label("site_kind"),
    Site.lat,
    Site.lon,
    Site.address,
    Site.district,
    Site.accessibility,
)


def _sort_key(shape: _Shape, tier: Tier, distance: ColumnElement[Any]) -> ColumnElement[float] | None:
    """What orders a tier before (starts_at, id); None when start time alone does."""
    walkable = shape.near and tier is Tier.sited
    if shape.sort is SearchSort.relevance:
        relevance = activity_relevance()
        if walkable:
            radius = bindparam("walk_radius_m", type_=Double)
            relevance = relevance * (1.0 - DISTANCE_DISCOUNT * distance / radius)
        return -relevance
    if shape.sort is SearchSort.distance and walkable:
        return distance
    return None


def _tier(shape: _Shape, tier: Tier) -> Select[*tuple[Any, ...]]:
    """One tier's rows, ordered and limited (and after the cursor's position when it lies in this tier)."""
    walkable = shape.near and tier is Tier.sited
    # Uncast in the select list, so ORDER BY finds (and computes once) the very same expression.
    distance: ColumnElement[Any] = (
        distance_m(GeoPoint(0.0, 0.0), Site.lat, Site.lon) if walkable else cast(null(), Double)
    )
    sort_key = _sort_key(shape, tier, distance)
    statement: Select[*tuple[Any, ...]] = (
        select(
            *_COLUMNS,
            seats_available_sql().label("seats_available"),
            accessible_available_sql().label("accessible_available"),
            online_available_sql().label("online_available"),
            distance.label("distance_m"),
            literal_column(str(int(tier))).label("tier"),
            (cast(literal_column("0"), Double) if sort_key is None else sort_key).label("sort_key"),
        )
        .select_from(ActivitySession)
        .join(Activity, Activity.id == ActivitySession.activity_id)
        .outerjoin(SessionAvailability, SessionAvailability.session_id == ActivitySession.id)
        # A literal, not a parameter: the planner must see it to use the partial indexes on scheduled sessions.
        .where(ActivitySession.status == literal_column("'scheduled'"))
        .where(ActivitySession.starts_at >= bindparam("starts_from", type_=ActivitySession.starts_at.type))
        .where(ActivitySession.starts_at < bindparam("starts_before", type_=ActivitySession.starts_at.type))
    )
    if walkable:
        statement = statement.join(Site, Site.id == ActivitySession.site_id).where(
            within_walk(GeoPoint(0.0, 0.0), 1, Site.lat, Site.lon)
        )
    else:
        statement = statement.outerjoin(Site, Site.id == ActivitySession.site_id)
    if tier is Tier.online:
        statement = statement.where(ActivitySession.site_id.is_(None))
    statement = _filtered(statement, shape)
    order: list[Any] = [ActivitySession.starts_at, ActivitySession.id]
    if sort_key is not None:
        order.insert(0, sort_key)
    if shape.after is tier:
        after = [bindparam("after_starts_at", type_=ActivitySession.starts_at.type), bindparam("after_id", type_=Uuid)]
        if sort_key is not None:
            after.insert(0, bindparam("after_key", type_=Double))
        statement = statement.where(tuple_(*order) > tuple_(*after))
    return statement.order_by(*order).limit(bindparam("row_limit", type_=Integer))


def _filtered(statement: Select[*tuple[Any, ...]], shape: _Shape) -> Select[*tuple[Any, ...]]:
    if shape.q:
        statement = statement.where(matches(Activity.search_text))
    if shape.kind:
        statement = statement.where(Activity.kind == bindparam("kind", type_=Text))
    if shape.audience:
        statement = statement.where(Activity.audience.contains(bindparam("audience", type_=ARRAY(Text))))
    if shape.topic:
        statement = statement.where(Activity.topics.contains(bindparam("topic", type_=ARRAY(Text))))
    if shape.series:
        statement = statement.where(Activity.series_id == bindparam("series_id", type_=Uuid))
    if shape.available:
        statement = statement.where(seats_available_sql() > 0)
    if shape.accessibility:
        statement = statement.where(Site.accessibility.contains(bindparam("accessibility", type_=ARRAY(Text))))
    # Hybrid activities are both: online = online or hybrid, in person = in person or hybrid.
    if shape.mode is SearchMode.online:
        statement = statement.where(Activity.mode != literal_column("'in_person'"))
    elif shape.mode is SearchMode.in_person:
        statement = statement.where(Activity.mode != literal_column("'online'"))
    if shape.free:
        statement = statement.where(Activity.price_cents == literal_column("0"))
    return statement


@cache
def _compiled(shape: _Shape) -> DriverStatement:
    """One shape's SQL (a few thousand shapes at most, each compiled once)."""
    tiers = [tier for tier in Tier if (tier is Tier.sited or shape.online_tier) and (shape.after or 0) <= tier]
    if len(tiers) == 1:
        return DriverStatement.of(_tier(shape, tiers[0]))
    both = union_all(*(_tier(shape, tier) for tier in tiers)).subquery("found")
    statement = (
        select(both)
        .order_by(both.c.tier, both.c.sort_key, both.c.starts_at, both.c.session_id)
        .limit(bindparam("row_limit", type_=Integer))
    )
    return DriverStatement.of(statement)


def search_query(filters: SearchFilters, *, after: Position | None, limit: int) -> tuple[str, list[Any]]:
    """The SQL and its arguments for one page: up to `limit` rows after the keyset position `after`."""
    shape = _Shape(
        near=filters.near is not None,
        sort=filters.sort,
        after=None if after is None else after.tier,
        q=filters.q is not None,
        kind=filters.kind is not None,
        audience=filters.audience is not None,
        topic=filters.topic is not None,
        series=filters.series_id is not None,
        available=filters.available_only,
        accessibility=bool(filters.accessibility),
        mode=filters.mode,
        free=filters.free_only,
        online_tier=filters.online_tier,
    )
    compiled = _compiled(shape)
    values: dict[str, Any] = {
        "starts_from": filters.starts_from,
        "starts_before": filters.starts_before,
        "kind": filters.kind,
        "audience": [filters.audience],
        "topic": [filters.topic],
        "series_id": filters.series_id,
        "accessibility": list(filters.accessibility),
        "after_key": after.key if after else None,
        "after_starts_at": after.starts_at if after else None,
        "after_id": after.session_id if after else None,
        "row_limit": limit,
    }
    if filters.q is not None:
        values |= query_values(filters.q)
    if filters.near is not None:
        values |= {
            "origin_lat": filters.near.lat,
            "origin_lon": filters.near.lon,
            "walk_radius_m": walk_radius_m(filters.walk_minutes),
        }
    return compiled.sql, compiled.arguments(values)
