"""Idempotency-Key on POST /v1/bookings: replays, mismatches, in-flight duplicates, release and expiry."""

from datetime import timedelta
from uuid import UUID

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update

from services.booking.idempotency.service import lock_id
from services.booking.janitor import purge_once
from services.booking.models import Booking, IdempotencyKey
from shared.db import utcnow
from tests.booking.conftest import CatalogStandIn, Mint, availability, book
from tests.support import assert_problem


async def _bookings_of(apps: dict[str, FastAPI], person_id: str) -> int:
    async with apps["booking"].state.database.sessionmaker() as db:
        statement = select(func.count()).select_from(Booking).where(Booking.person_id == person_id)
        return int((await db.execute(statement)).scalar_one())


async def test_a_replay_returns_the_original_status_and_body(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=1)
    person = mint()
    first = await book(client, person, session.session_id, key="same-key")
    await book(client, mint(), session.session_id)  # the session fills up meanwhile
    replay = await book(client, person, session.session_id, key="same-key")
    assert replay.status_code == first.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    # Defaults count as given: `seats` omitted equals `seats: 1`.
    explicit = await book(client, person, session.session_id, key="same-key", seats=1)
    assert explicit.json() == first.json()
    assert await _bookings_of(apps, person.id) == 1
    assert (await availability(client, session.session_id))["confirmed_seats"] == 1


async def test_same_key_with_a_different_body_is_422(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session, other_session = await catalog.schedule(), await catalog.schedule()
    person = mint()
    assert (await book(client, person, session.session_id, key="k")).status_code == 201
    problem = assert_problem(await book(client, person, session.session_id, key="k", seats=2), 422)
    assert problem["errors"] == [{"pointer": "/header/Idempotency-Key", "detail": problem["detail"]}]
    assert_problem(await book(client, person, other_session.session_id, key="k"), 422)
    assert (await availability(client, other_session.session_id))["confirmed_seats"] == 0


async def test_keys_are_scoped_to_the_person(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule()
    first, second = mint(), mint()
    a = await book(client, first, session.session_id, key="shared")
    b = await book(client, second, session.session_id, key="shared")
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert (await availability(client, session.session_id))["confirmed_seats"] == 2


async def test_an_in_flight_duplicate_is_409(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule()
    person = mint()
    # A request with this key is running: its transaction holds the key's lock.
    async with apps["booking"].state.database.sessionmaker.begin() as running:
        await running.execute(select(func.pg_advisory_xact_lock(lock_id(UUID(person.id), "busy"))))
        assert_problem(await book(client, person, session.session_id, key="busy"), 409)
        assert (await book(client, person, session.session_id, key="other")).status_code == 201
    assert (await availability(client, session.session_id))["confirmed_seats"] == 1
    # Once it has ended (without storing a response), the key books.
    await client.post(
        f"/v1/bookings/{(await client.get('/v1/bookings', headers=person.headers)).json()['items'][0]['id']}/cancel",
        headers=person.headers,
    )
    assert (await book(client, person, session.session_id, key="busy")).status_code == 201


async def test_a_failed_request_releases_its_key(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    person = mint()
    session = await catalog.schedule(capacity=1)
    await book(client, person, session.session_id)
    # Already booked: 409, and the key is not remembered...
    assert_problem(await book(client, person, session.session_id, key="retry-me"), 409)
    assert_problem(await book(client, person, session.session_id, key="retry-me"), 409)
    # ...so once the first booking is cancelled, the same key books.
    mine = (await client.get("/v1/bookings", headers=person.headers)).json()["items"][0]
    await client.post(f"/v1/bookings/{mine['id']}/cancel", headers=person.headers)
    retried = await book(client, person, session.session_id, key="retry-me")
    assert retried.status_code == 201
    async with apps["booking"].state.database.sessionmaker() as db:
        keys = (await db.execute(select(IdempotencyKey.key, IdempotencyKey.response_status))).all()
    assert ("retry-me", 201) in [tuple(k) for k in keys]


async def test_expired_keys_are_reusable_and_purged(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    first_session, second_session, third_session = [await catalog.schedule() for _ in range(3)]
    person = mint()
    first = await book(client, person, first_session.session_id, key="old")
    async with apps["booking"].state.database.sessionmaker.begin() as db:
        await db.execute(update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    # After 24 h the key is forgotten: a new body with it is a new request, not a 422.
    second = await book(client, person, second_session.session_id, key="old")
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]
    assert (await book(client, person, third_session.session_id, key="other")).status_code == 201
    async with apps["booking"].state.database.sessionmaker.begin() as db:
        await db.execute(
            update(IdempotencyKey).where(IdempotencyKey.key == "other").values(expires_at=utcnow() - timedelta(1))
        )
    keys, _ = await purge_once(apps["booking"].state.database)
    assert keys == 1
    async with apps["booking"].state.database.sessionmaker() as db:
        left = (await db.execute(select(IdempotencyKey.key))).scalars().all()
    assert left == ["old"]


async def test_a_waitlisted_booking_replays_with_its_position(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=1)
    await book(client, mint(), session.session_id)
    await book(client, mint(), session.session_id)
    person = mint()
    first = await book(client, person, session.session_id, key="in-line")
    assert (first.json()["status"], first.json()["waitlist_position"]) == ("waitlisted", 2)
    replay = await book(client, person, session.session_id, key="in-line")
    assert (replay.status_code, replay.json()) == (201, first.json())
