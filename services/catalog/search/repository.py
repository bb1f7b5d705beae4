"""The search as one SQL statement: sites near the point (GiST on ll_to_earth), their upcoming sessions
(partial index on site_id, starts_at), the activity and the availability projection; with `q`, activities
matched through the GIN trigram index on their search text and ranked (services/catalog/search/text.py).

With `near`, sessions without a site (online) follow the walkable ones, unless the filters need a site
(`mode=in_person`, `accessibility`): a second branch over the partial index of site-less sessions, each
branch ordered and limited on its own, so a page costs at most two short scans.

With `q` and `sort=relevance` but no `near`, nothing narrows the matches down before they are scored, and a
common word matches most activities (scoring one costs about 27 us: three word similarities; `poetry` on
the bench city's 20,000 activities took 0.7 to 0.9 s). So at most `CANDIDATE_ACTIVITIES` activities are
ranked (`_candidates`): when no more match (passing the activity filters, with a scheduled session in the
window), all of them, exactly as without a bound; otherwise the matches among the `CANDIDATE_ACTIVITIES`
activities *nearest the query* (word distance `<<->` to their search text, read nearest first through the
GiST trigram index, so about that many rows are read). Their upcoming sessions are then ranked by the
full relevance. Since a search text contains the title and the names, relevance <= its text similarity:
an activity left out never ranks above a candidate whose text is nearer than the bound's. Cursor pages
recompute the same candidates (same query and filters), so paging neither repeats nor skips; the list
ends after the candidates' sessions. Activities at the same distance as the last candidate come in the
index's order (with `poetry` on the bench city every activity is at distance 0), so which of those ties
make the cut is arbitrary and may change when the catalog changes.

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
    CTE,
    ColumnElement,
    Double,
    Integer,
    Select,
    Text,
    Uuid,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import aliased

from services.catalog.availability.service import accessible_available_sql, online_available_sql, seats_available_sql
from services.catalog.geo import GeoPoint, distance_m, walk_radius_m, within_walk
from services.catalog.models import Activity, ActivitySession, SessionAvailability, Site
from services.catalog.search.schemas import SearchMode, SearchSort
from services.catalog.search.text import (
    activity_relevance,
    activity_similarities,
    matches,
    matches_by,
    query_values,
    relevance_of,
    word_distance,
)
from shared.driver import DriverStatement

# With `near`, how far a proximity lowers relevance: at the walk's edge a session keeps half of it.
DISTANCE_DISCOUNT = 0.5

# Without `near`, `sort=relevance` ranks the upcoming sessions of at most this many activities (module
# docstring). On the bench city a common word then costs 25-35 ms (500: 65-95 ms; unbounded: 0.7-0.9 s).
CANDIDATE_ACTIVITIES = 200


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

    @property
    def bounded(self) -> bool:
        """Ranked by relevance over the candidate activities (no `near` to narrow the matches down first)."""
        return self.q and self.sort is SearchSort.relevance and not self.near


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


def _sort_key(
    shape: _Shape, tier: Tier, distance: ColumnElement[Any], relevance: ColumnElement[float] | None = None
) -> ColumnElement[float] | None:
    """What orders a tier before (starts_at, id); None when start time alone does."""
    walkable = shape.near and tier is Tier.sited
    if shape.sort is SearchSort.relevance:
        relevance = activity_relevance() if relevance is None else relevance
        if walkable:
            radius = bindparam("walk_radius_m", type_=Double)
            relevance = relevance * (1.0 - DISTANCE_DISCOUNT * distance / radius)
        return -relevance
    if shape.sort is SearchSort.distance and walkable:
        return distance
    return None


def _window() -> list[ColumnElement[bool]]:
    # A literal, not a parameter: the planner must see it to use the partial indexes on scheduled sessions.
    return [
        ActivitySession.status == literal_column("'scheduled'"),
        ActivitySession.starts_at >= bindparam("starts_from", type_=ActivitySession.starts_at.type),
        ActivitySession.starts_at < bindparam("starts_before", type_=ActivitySession.starts_at.type),
    ]


def _candidates(shape: _Shape) -> CTE:
    """The candidate activities (id, relevance) of a `bounded` shape (module docstring).

    Two branches, one of which runs (the other's one-time filter is false): when at most `candidate_limit`
    activities match (counted through the GIN index, stopping at one more), all of them, as without the
    bound; otherwise the matches among the `candidate_limit` activities nearest the query, read nearest first
    through the GiST index. That scan has no text condition on purpose: a `<%` there would let the planner,
    which cannot estimate a condition on a query it does not know, choose the GIN index and score every
    match before sorting them, which is what the bound is for."""
    limit = bindparam("candidate_limit", type_=Integer)
    session = aliased(ActivitySession)
    # A probe of the sessions' (activity_id, starts_at) index per activity read: a correlated scalar subquery,
    # which the planner can neither turn into a join (then it reads the window's sessions first and sorts
    # every activity) nor hash (a year's window holds most sessions).
    upcoming = (
        select(literal_column("1"))
        .select_from(session)
        .where(
            session.activity_id == Activity.id,
            session.status == literal_column("'scheduled'"),
            session.starts_at >= bindparam("starts_from", type_=ActivitySession.starts_at.type),
            session.starts_at < bindparam("starts_before", type_=ActivitySession.starts_at.type),
        )
        .limit(1)
        .scalar_subquery()
        .is_not(None)
    )
    eligible = [*_activity_filters(shape, text=False), upcoming]
    # The matches, up to one more than the bound: all of them when they are few (GIN index).
    matching = select(Activity.id).where(matches(Activity.search_text), *eligible).limit(limit + 1).cte("matching")
    few = select(func.count()).select_from(matching).scalar_subquery() <= limit
    distance = word_distance(Activity.search_text)
    nearest = select(Activity.id, Activity.search_text).where(*eligible).order_by(distance).limit(limit).subquery()
    found = union_all(
        select(matching.c.id).where(few),
        select(nearest.c.id).where(~few, matches(nearest.c.search_text)),
    ).subquery("found")
    return (
        select(Activity.id, activity_relevance().label("relevance"))
        .join(found, found.c.id == Activity.id)
        # Materialized: scored once each, and the planner starts from these few rows (it cannot tell how few).
        .cte("candidates")
        .prefix_with("MATERIALIZED")
    )


def _tier(shape: _Shape, tier: Tier) -> Select[*tuple[Any, ...]]:
    """One tier's rows, ordered and limited (and after the cursor's position when it lies in this tier)."""
    walkable = shape.near and tier is Tier.sited
    # Uncast in the select list, so ORDER BY finds (and computes once) the very same expression.
    distance: ColumnElement[Any] = (
        distance_m(GeoPoint(0.0, 0.0), Site.lat, Site.lon) if walkable else cast(null(), Double)
    )
    candidates = _candidates(shape) if shape.bounded else None
    # Ranked without the candidate bound (with `near`): the similarities once per row, for match and score.
    similarities = (
        activity_similarities() if shape.q and shape.sort is SearchSort.relevance and not shape.bounded else None
    )
    relevance: ColumnElement[float] | None = None
    if candidates is not None:
        relevance = candidates.c.relevance
    elif similarities is not None:
        relevance = relevance_of(similarities.c.title, similarities.c.names, similarities.c.text)
    sort_key = _sort_key(shape, tier, distance, relevance)
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
        .where(*_window())
    )
    if candidates is not None:
        # The candidates passed `q` and the activity filters already.
        statement = statement.join(candidates, candidates.c.id == Activity.id)
    elif similarities is not None:
        statement = statement.join(similarities, literal_column("true")).where(
            *_activity_filters(shape, text=False), matches_by(Activity.search_text, similarities.c.text)
        )
    else:
        statement = statement.where(*_activity_filters(shape))
    if walkable:
        statement = statement.join(Site, Site.id == ActivitySession.site_id).where(
            within_walk(GeoPoint(0.0, 0.0), 1, Site.lat, Site.lon)
        )
    else:
        statement = statement.outerjoin(Site, Site.id == ActivitySession.site_id)
    if tier is Tier.online:
        statement = statement.where(ActivitySession.site_id.is_(None))
    statement = statement.where(*_session_filters(shape))
    order: list[Any] = [ActivitySession.starts_at, ActivitySession.id]
    if sort_key is not None:
        order.insert(0, sort_key)
    if shape.after is tier:
        after = [bindparam("after_starts_at", type_=ActivitySession.starts_at.type), bindparam("after_id", type_=Uuid)]
        if sort_key is not None:
            after.insert(0, bindparam("after_key", type_=Double))
        statement = statement.where(tuple_(*order) > tuple_(*after))
    return statement.order_by(*order).limit(bindparam("row_limit", type_=Integer))


def _activity_filters(shape: _Shape, *, text: bool = True) -> list[ColumnElement[bool]]:
    """The filters on the activity alone (what a candidate activity must pass); `q` too unless not `text`."""
    filters: list[ColumnElement[bool]] = []
    if shape.q and text:
        filters.append(matches(Activity.search_text))
    if shape.kind:
        filters.append(Activity.kind == bindparam("kind", type_=Text))
    if shape.audience:
        filters.append(Activity.audience.contains(bindparam("audience", type_=ARRAY(Text))))
    if shape.topic:
        filters.append(Activity.topics.contains(bindparam("topic", type_=ARRAY(Text))))
    if shape.series:
        filters.append(Activity.series_id == bindparam("series_id", type_=Uuid))
    # Hybrid activities are both: online = online or hybrid, in person = in person or hybrid.
    if shape.mode is SearchMode.online:
        filters.append(Activity.mode != literal_column("'in_person'"))
    elif shape.mode is SearchMode.in_person:
        filters.append(Activity.mode != literal_column("'online'"))
    if shape.free:
        filters.append(Activity.price_cents == literal_column("0"))
    return filters


def _session_filters(shape: _Shape) -> list[ColumnElement[bool]]:
    """The filters on the session or its site."""
    filters: list[ColumnElement[bool]] = []
    if shape.available:
        filters.append(seats_available_sql() > 0)
    if shape.accessibility:
        filters.append(Site.accessibility.contains(bindparam("accessibility", type_=ARRAY(Text))))
    return filters


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
        "candidate_limit": CANDIDATE_ACTIVITIES,
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
