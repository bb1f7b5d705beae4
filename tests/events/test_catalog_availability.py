"""The catalog's availability.changed handler in batches, through its real app and inbox."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from shared.clients import INTERNAL_SECRET_HEADER
from shared.events.schemas import EventEnvelope
from shared.ids import new_id
from shared.settings import DEV_INTERNAL_SECRET
from tests.events.support import figures


async def _sessions(catalog: FastAPI, count: int) -> list[UUID]:
    activity_id, ids = new_id(), [new_id() for _ in range(count)]
    starts = datetime.now(UTC) + timedelta(days=1)
    async with catalog.state.database.sessionmaker.begin() as session:
        await session.execute(
            text(
                "INSERT INTO catalog.activities (id, title, kind, host_org_id)"
                " VALUES (:id, '{\"en\": \"Bench\"}', 'lecture', :org)"
            ),
            {"id": activity_id, "org": new_id()},
        )
        for session_id in ids:
            await session.execute(
                text(
                    "INSERT INTO catalog.sessions (id, activity_id, starts_at, ends_at, capacity)"
                    " VALUES (:id, :activity, :starts, :ends, 100)"
                ),
                {"id": session_id, "activity": activity_id, "starts": starts, "ends": starts + timedelta(hours=1)},
            )
    return ids


def _event(session_id: UUID, sequence: int, confirmed: int, **payload: Any) -> dict[str, Any]:
    return EventEnvelope(
        id=new_id(),
        type="availability.changed",
        producer="booking",
        aggregate_id=session_id,
        sequence=sequence,
        occurred_at=datetime.now(UTC),
        payload=figures(session_id, confirmed).model_dump(mode="json") | payload,
    ).model_dump(mode="json")


async def _deliver(catalog: FastAPI, events: list[dict[str, Any]]) -> list[str]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=catalog), base_url="http://catalog") as client:
        response = await client.post(
            "/internal/v1/events", json={"events": events}, headers={INTERNAL_SECRET_HEADER: DEV_INTERNAL_SECRET}
        )
    assert response.status_code == 200, response.text
    return [result["outcome"] for result in response.json()["results"]]


async def _figures(catalog: FastAPI) -> dict[UUID, int]:
    async with catalog.state.database.sessionmaker() as session:
        rows = await session.execute(text("SELECT session_id, confirmed_seats FROM catalog.session_availability"))
        return {row.session_id: row.confirmed_seats for row in rows}


async def test_a_batch_stores_the_newest_figures_of_each_session(apps: dict[str, FastAPI]) -> None:
    catalog = apps["catalog"]
    first, second = await _sessions(catalog, 2)
    unknown = new_id()
    batch = [_event(first, 2, 5), _event(second, 1, 1), _event(first, 1, 3), _event(unknown, 1, 9)]
    assert await _deliver(catalog, batch) == ["applied"] * 4
    assert await _figures(catalog) == {first: 5, second: 1}
    assert await _deliver(catalog, [_event(first, 2, 4), _event(second, 3, 2)]) == ["stale", "applied"]
    assert await _figures(catalog) == {first: 5, second: 2}


async def test_a_malformed_event_fails_alone(apps: dict[str, FastAPI]) -> None:
    catalog = apps["catalog"]
    first, second = await _sessions(catalog, 2)
    batch = [_event(first, 1, 1), _event(first, 2, 2, capacity="many"), _event(first, 3, 3), _event(second, 1, 7)]
    assert await _deliver(catalog, batch) == ["applied", "failed", "deferred", "applied"]
    assert await _figures(catalog) == {first: 1, second: 7}
