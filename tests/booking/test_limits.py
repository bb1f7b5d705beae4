"""Abuse limits per person: BOOKING_RATE_PER_MINUTE and BOOKING_MAX_ACTIVE_PER_PERSON (defaults 30, 20)."""

import asyncio
from collections import Counter
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from services.booking.janitor import purge_once
from services.booking.models import RateWindow
from shared.db import utcnow
from shared.ids import new_id
from tests.booking.conftest import CatalogStandIn, Mint, book
from tests.support import assert_problem


async def test_rate_limit_per_person_with_retry_after(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    assert apps["booking"].state.settings.rate_per_minute == 30
    person, neighbour = mint(), mint()
    unknown = new_id()  # every attempt counts, whatever its outcome
    for _ in range(30):
        assert (await book(client, person, unknown)).status_code == 404
    limited = await book(client, person, unknown)
    assert_problem(limited, 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    # Someone else (e.g. behind the same community-centre NAT) is not affected.
    session = await catalog.schedule()
    assert (await book(client, neighbour, session.session_id)).status_code == 201
    # A new minute, a new window.
    async with apps["booking"].state.database.sessionmaker.begin() as db:
        await db.execute(update(RateWindow).values(window_started_at=utcnow() - timedelta(seconds=61)))
    assert (await book(client, person, session.session_id)).status_code == 201
    _, windows = await purge_once(apps["booking"].state.database)
    assert windows == 1  # the neighbour's finished window; the person's new one stays


async def test_active_bookings_limit(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    assert apps["booking"].state.settings.max_active_per_person == 20
    person = mint()
    sessions = [await catalog.schedule(capacity=1) for _ in range(21)]
    made = [(await book(client, person, s.session_id)).json() for s in sessions[:20]]
    limited = await book(client, person, sessions[20].session_id)
    assert_problem(limited, 429)
    assert int(limited.headers["retry-after"]) >= 1
    # A session that has ended no longer counts; nor does a cancelled booking.
    await catalog.update(sessions[0], starts_at=utcnow() - timedelta(hours=2), ends_at=utcnow() - timedelta(hours=1))
    assert (await book(client, person, sessions[20].session_id)).status_code == 201
    assert_problem(await book(client, person, (await catalog.schedule()).session_id), 429)
    await client.post(f"/v1/bookings/{made[1]['id']}/cancel", headers=person.headers)
    assert (await book(client, person, (await catalog.schedule()).session_id)).status_code == 201


async def test_limits_hold_when_one_person_fires_everything_at_once(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    """Parallel requests of one person serialize on their rate row; a booking statement that waited there
    re-reads (carefully) instead of trusting a snapshot from before the wait."""
    person = mint()
    held = [await catalog.schedule() for _ in range(18)]
    for session in held:
        assert (await book(client, person, session.session_id)).status_code == 201
    wanted = [await catalog.schedule() for _ in range(6)]
    answers = await asyncio.gather(*(book(client, person, s.session_id) for s in wanted))
    assert Counter(a.status_code for a in answers) == {201: 2, 429: 4}
    # A burst for sessions nobody knows counts too, although each first asks the catalog.
    burster = mint()
    burst = await asyncio.gather(*(book(client, burster, new_id()) for _ in range(40)))
    statuses = Counter(a.status_code for a in burst)
    assert set(statuses) == {404, 429}
    assert statuses[404] <= 30
