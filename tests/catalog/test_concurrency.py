"""Real parallel HTTP against `learncity serve catalog`: concurrent edits of one session take turns, so the
events booking receives replay to exactly the state the catalog ends in."""

import asyncio
import time

import pytest
from fastapi import FastAPI

from services.booking.models import event_tables as booking_event_tables
from services.catalog.models import event_tables as catalog_event_tables
from shared.events.outbox import pending_count
from tests.catalog.conftest import Catalog, OutboxRows
from tests.live import LiveSystem

pytestmark = pytest.mark.system
_EVENT_TABLES = {"catalog": catalog_event_tables, "booking": booking_event_tables}


async def test_parallel_edits_and_cancels_of_one_session(
    live_system: LiveSystem, apps: dict[str, FastAPI], catalog: Catalog, outbox_rows: OutboxRows
) -> None:
    session = await catalog.scheduled_session(capacity=10)
    url = f"/v1/sessions/{session['id']}"
    headers = catalog.team["owner"].headers
    async with live_system.client() as client:
        # One request first, so the burst below measures the session lock, not the service's first fetch of
        # the orgs key set.
        assert (await client.patch(url, json={}, headers=headers)).status_code == 200
        capacities = list(range(11, 31))
        responses = await asyncio.gather(
            *(client.patch(url, json={"capacity": capacity}, headers=headers) for capacity in capacities)
        )
        assert sorted(response.status_code for response in responses) == [200] * len(capacities), [
            r.text for r in responses if r.status_code != 200
        ][:2]
        final = (await client.get(url)).json()
        rows = await outbox_rows(session["id"])
        updates = [row for row in rows if row.type == "session.updated"]
        assert [row.sequence for row in rows] == list(range(1, len(rows) + 1))
        assert sorted(row.payload["capacity"] for row in updates) == capacities  # every edit announced once
        assert updates[-1].payload["capacity"] == final["capacity"]  # the newest event is the final state

        cancels = await asyncio.gather(*(client.post(f"{url}/cancel", headers=headers) for _ in range(10)))
        assert [response.status_code for response in cancels] == [200] * 10
        assert {response.json()["cancelled_at"] for response in cancels} == {cancels[0].json()["cancelled_at"]}
    cancelled = [row for row in await outbox_rows(session["id"]) if row.type == "session.cancelled"]
    assert len(cancelled) == 1
    await _until_delivered(apps)


async def _until_delivered(apps: dict[str, FastAPI], timeout_s: float = 15.0) -> None:
    """Let the live relays finish (catalog -> booking and back) before the tables are emptied for the next
    test: a TRUNCATE racing an inbox transaction can deadlock."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pending = 0
        for service in ("catalog", "booking"):
            async with apps[service].state.database.sessionmaker() as session:
                pending += await pending_count(session, _EVENT_TABLES[service])
        if pending == 0:
            return
        await asyncio.sleep(0.1)
