"""Search results straight from rows to JSON, because this is the catalog's hottest path: plain dicts,
serialized in one pass by pydantic-core without validation (see `search_sessions`). Items carry the whole
session and summaries of its activity and site (a result list needs no descriptions; the single-resource
endpoints have them); tests compare them with those endpoints."""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic_core import to_json

from services.catalog.geo import walk_minutes_for
from services.catalog.pagination import require_cursor_types
from services.catalog.search.repository import Position, SearchFilters, Tier, search_query
from services.catalog.search.schemas import MAX_WINDOW_DAYS
from services.catalog.sessions.alternatives_hint import add_alternatives_hints
from shared.driver import DriverPool
from shared.errors import Unprocessable
from shared.pagination import PageParams, encode_cursor
from shared.schemas import pick_language


def time_window(
    starts_from: datetime | None, starts_before: datetime | None, *, now: datetime
) -> tuple[datetime, datetime]:
    """`from` defaults to now and `to` to `from` + 366 days; `to` must be after `from`, at most 366 days on."""
    start = starts_from or now
    end = starts_before or start + timedelta(days=MAX_WINDOW_DAYS)
    if end <= start:
        raise Unprocessable("`to` must be after `from`", pointer="/query/to")
    if end - start > timedelta(days=MAX_WINDOW_DAYS):
        raise Unprocessable(f"The time window may span at most {MAX_WINDOW_DAYS} days", pointer="/query/to")
    return start, end


def _text(uuid: UUID | None) -> str | None:
    return None if uuid is None else str(uuid)


# Ids go out as text (`str`): pydantic-core writes a str at once, while asyncpg's UUID type (a subclass of
# uuid.UUID) takes its slow path, which made serializing a page three times slower.
def _session(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["session_id"]),
        "activity_id": str(row["activity_id"]),
        "site_id": _text(row["site_id"]),
        "starts_at": row["starts_at"],
        "ends_at": row["ends_at"],
        "capacity": row["capacity"],
        "mode": row["mode"],
        "accessible_seats": row["accessible_seats"],
        "online_capacity": row["online_capacity"],
        "status": row["status"],
        "seats_available": row["seats_available"],
        "accessible_available": row["accessible_available"],
        "online_available": row["online_available"],
        "waitlist_length": row["waitlist_length"] or 0,
        "booking_opens_at": row["booking_opens_at"],
        "booking_closes_at": row["booking_closes_at"],
        "cancelled_at": row["cancelled_at"],
        "cancel_reason": row["cancel_reason"],
    }


def _activity(row: Mapping[str, Any], accept_language: str | None) -> dict[str, Any]:
    return {
        "id": str(row["activity_id"]),
        "title": row["title"],
        "title_display": pick_language(row["title"], accept_language) or "",
        "kind": row["activity_kind"],
        "topics": row["topics"],
        "audience": row["audience"],
        "language": row["language"],
        "host_org_id": str(row["host_org_id"]),
        "series_id": _text(row["series_id"]),
        "price_cents": row["price_cents"],
    }


def _site(row: Mapping[str, Any], accept_language: str | None) -> dict[str, Any] | None:
    if row["site_id"] is None:
        return None
    return {
        "id": str(row["site_id"]),
        "name": row["site_name"],
        "name_display": pick_language(row["site_name"], accept_language) or "",
        "kind": row["site_kind"],
        "location": {"lat": row["lat"], "lon": row["lon"]},
        "address": row["address"],
        "district": row["district"],
        "accessibility": row["accessibility"],
    }


def _item(row: Mapping[str, Any], accept_language: str | None) -> dict[str, Any]:
    distance = row["distance_m"]
    return {
        "session": _session(row),
        "activity": _activity(row, accept_language),
        "site": _site(row, accept_language),
        "distance_m": distance,
        "walk_minutes": None if distance is None else walk_minutes_for(distance),
        "seats_available": row["seats_available"],
    }


def _after(filters: SearchFilters, page: PageParams) -> Position | None:
    """The cursor's keyset position (tier, sort key, starts_at, id), checked to fit this search."""
    values = require_cursor_types(page, int, float, datetime, UUID)
    if values is None:
        return None
    tier, key, starts_at, session_id = values
    if tier not in (Tier.sited, Tier.online) or (tier == Tier.online and not filters.online_tier):
        raise Unprocessable("The cursor is not valid for this list", pointer="/query/cursor")
    return Position(Tier(tier), float(key), starts_at, session_id)


async def search_sessions(
    reads: DriverPool, filters: SearchFilters, page: PageParams, *, accept_language: str | None
) -> bytes:
    """One page as the JSON body of `Page[SearchItem]`."""
    sql, arguments = search_query(filters, after=_after(filters, page), limit=page.limit + 1)
    rows = await reads.fetch(sql, arguments)
    next_cursor = None
    if len(rows) > page.limit:
        last = rows[page.limit - 1]
        next_cursor = encode_cursor([last["tier"], last["sort_key"], last["starts_at"], last["session_id"]])
    items = [_item(row, accept_language) for row in rows[: page.limit]]
    await add_alternatives_hints(reads, items)
    # Serialized as built, not validated first: the values come from the database's typed, constrained
    # columns, and validating twenty nested items cost more than the serialization itself.
    # `tests/catalog/test_search.py` pins these bytes to what `Page[SearchItem]` itself would write.
    return to_json({"items": items, "next_cursor": next_cursor})
