"""The hint on search results: a full session says where its alternatives are, when it has any."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from services.catalog.sessions.alternatives_repository import with_alternatives_query
from shared.db import utcnow
from shared.driver import DriverPool


def alternatives_path(session_id: UUID | str) -> str:
    return f"/v1/sessions/{session_id}/alternatives"


async def add_alternatives_hints(reads: DriverPool, items: Sequence[dict[str, Any]]) -> None:
    """Set each search item's `alternatives_url`: the path of `GET /v1/sessions/{id}/alternatives` for a full
    session (no free seat in the standard pool) for which that route, with its default window, lists at
    least one session; null otherwise. One statement for the whole page, and none when no session is full."""
    full = [UUID(item["session"]["id"]) for item in items if item["seats_available"] == 0]
    hinted: set[UUID] = set()
    if full:
        sql, arguments = with_alternatives_query(full, now=utcnow())
        hinted = {row["id"] for row in await reads.fetch(sql, arguments)}
    for item in items:
        session_id = item["session"]["id"]
        item["alternatives_url"] = alternatives_path(session_id) if UUID(session_id) in hinted else None
