"""A festival's release (issue 17): 2,000 distinct people book one session of 200 seats within the same second,
over real HTTP against booking as real processes (`live_system`), decided in batches."""

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.booking.models import Booking, IdempotencyKey, Inventory
from shared.ids import new_id
from tests.booking.conftest import CatalogStandIn, Mint, http_delivery
from tests.live import LiveSystem, free_port
from tests.support import Person

pytestmark = pytest.mark.system

PEOPLE = 2000
SEATS = 200


@contextlib.contextmanager
def booking_replica(live_system: LiveSystem) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """One more booking process on the live system's database; yields its URL once it answers (its JWKS
    fetched: a process's first signed request fetches it)."""
    url = f"http://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "learncity", "serve", "booking", "--host", "127.0.0.1"]
    process = subprocess.Popen([*command, "--port", url.rsplit(":", 1)[1]], env=live_system.environment)
    try:
        deadline = time.monotonic() + 60
        while not _ready(url):
            assert process.poll() is None and time.monotonic() < deadline, "the booking replica did not start"
            time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(20)


def _ready(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url + "/readyz", timeout=1).status_code == 200
    return False


class Burst:
    """Booking requests sent at once, each to one of `urls` in turn; answers (or transport errors) in order."""

    def __init__(self, urls: Sequence[str], *, watch_for: int = 0) -> None:
        limits = httpx.Limits(max_connections=500, max_keepalive_connections=500)
        self.clients = [httpx.AsyncClient(base_url=url, limits=limits, timeout=60) for url in urls]
        self.answered = 0
        self.watch_for = watch_for
        self.watched = asyncio.Event()  # set once `watch_for` requests are answered

    async def warm_up(self, person: Person) -> None:
        for client in self.clients:
            assert (await client.get("/v1/bookings", headers=person.headers)).status_code == 200

    async def book(self, index: int, person: Person, session_id: UUID, key: str) -> httpx.Response:
        client = self.clients[index % len(self.clients)]
        headers = {**person.headers, "Idempotency-Key": key}
        try:
            return await client.post("/v1/bookings", json={"session_id": str(session_id)}, headers=headers)
        finally:
            self.answered += 1
            if self.answered == self.watch_for:
                self.watched.set()

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


async def _burst(
    urls: Sequence[str], people: Sequence[Person], session_id: UUID, warm: Person, replays: int = 0
) -> tuple[list[httpx.Response], list[tuple[httpx.Response, httpx.Response]]]:
    """Everyone books once; with `replays`, that many of them send their request again, with its key, while
    the burst is still arriving. Returns the answers, and the (first, replayed) answer pairs."""
    burst = Burst(urls)
    try:
        await burst.warm_up(warm)
        keys = [str(new_id()) for _ in people]
        first = [
            asyncio.create_task(burst.book(i, p, session_id, k))
            for i, (p, k) in enumerate(zip(people, keys, strict=True))
        ]
        await asyncio.sleep(0.05)  # mid-burst
        again = [asyncio.create_task(burst.book(i, people[i], session_id, keys[i])) for i in range(replays)]
        answers = await asyncio.gather(*first)
        replayed = await asyncio.gather(*again)
    finally:
        await burst.close()
    return answers, list(zip(answers, replayed, strict=False))


def _assert_fair_release(answers: Sequence[httpx.Response]) -> None:
    """Every request booked: exactly the seats confirmed, everyone else waitlisted, in line 1..N once each."""
    assert Counter(r.status_code for r in answers) == {201: PEOPLE}, Counter(r.status_code for r in answers)
    made = [r.json() for r in answers]
    assert Counter(b["status"] for b in made) == {"confirmed": SEATS, "waitlisted": PEOPLE - SEATS}
    positions = sorted(b["waitlist_position"] for b in made if b["status"] == "waitlisted")
    assert positions == list(range(1, PEOPLE - SEATS + 1))


async def _stored(apps: dict[str, FastAPI], session_id: UUID) -> tuple[Any, dict[UUID, str], dict[UUID, UUID]]:
    """The session's inventory row, its bookings' statuses by id, and the booking each stored key answered."""
    async with apps["booking"].state.database.sessionmaker() as db:
        inventory = (await db.execute(select(Inventory).where(Inventory.session_id == session_id))).scalar_one()
        rows = (await db.execute(select(Booking.id, Booking.status).where(Booking.session_id == session_id))).all()
        bodies = (await db.execute(select(IdempotencyKey.person_id, IdempotencyKey.response_body))).all()
    answered = {UUID(body["id"]): person_id for person_id, body in bodies if body["session_id"] == str(session_id)}
    return inventory, {row.id: row.status for row in rows}, answered


@pytest.fixture
def people(mint: Mint) -> list[Person]:
    return [mint() for _ in range(PEOPLE)]


async def _hot_session(live_system: LiveSystem) -> UUID:
    session = await CatalogStandIn(http_delivery(live_system.urls["booking"])).schedule(capacity=SEATS)
    return session.session_id


async def test_2000_people_for_200_seats(
    live_system: LiveSystem, apps: dict[str, FastAPI], mint: Mint, people: list[Person]
) -> None:
    session_id = await _hot_session(live_system)
    answers, _ = await _burst([live_system.urls["booking"]], people, session_id, mint())
    _assert_fair_release(answers)
    inventory, statuses, _ = await _stored(apps, session_id)
    assert (inventory.confirmed_seats, inventory.waitlist_length) == (SEATS, PEOPLE - SEATS)
    assert Counter(statuses.values()) == {"confirmed": SEATS, "waitlisted": PEOPLE - SEATS}


async def test_2000_people_for_200_seats_across_two_replicas(
    live_system: LiveSystem, apps: dict[str, FastAPI], mint: Mint, people: list[Person]
) -> None:
    """Each replica batches its own requests; the session's row lock serializes their batches."""
    session_id = await _hot_session(live_system)
    with booking_replica(live_system) as (second, _):
        answers, _ = await _burst([live_system.urls["booking"], second], people, session_id, mint())
    _assert_fair_release(answers)
    _, statuses, _ = await _stored(apps, session_id)
    assert Counter(statuses.values()) == {"confirmed": SEATS, "waitlisted": PEOPLE - SEATS}


async def test_replays_mid_burst_answer_the_original(
    live_system: LiveSystem, apps: dict[str, FastAPI], mint: Mint, people: list[Person]
) -> None:
    session_id = await _hot_session(live_system)
    replays = PEOPLE // 10
    answers, pairs = await _burst([live_system.urls["booking"]], people, session_id, mint(), replays=replays)
    _assert_fair_release(answers)
    assert len(pairs) == replays
    for first, replayed in pairs:
        assert replayed.status_code == 201, replayed.text
        assert replayed.json() == first.json()  # whichever arrived first was decided, the other replays it
    _, statuses, _ = await _stored(apps, session_id)
    assert len(statuses) == PEOPLE


async def test_sigkill_mid_burst_loses_no_answered_booking(
    live_system: LiveSystem, apps: dict[str, FastAPI], mint: Mint, people: list[Person]
) -> None:
    """The transaction is the unit: whatever a client saw as 201 is stored, nothing overbooks, and every stored
    booking is its key's stored answer (a retry with the key replays it)."""
    session_id = await _hot_session(live_system)
    with booking_replica(live_system) as (url, process):
        burst = Burst([url], watch_for=PEOPLE // 4)
        try:
            await burst.warm_up(mint())
            tasks = [asyncio.create_task(burst.book(i, p, session_id, str(new_id()))) for i, p in enumerate(people)]
            await burst.watched.wait()
            process.send_signal(signal.SIGKILL)
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await burst.close()
    seen = [o.json() for o in outcomes if isinstance(o, httpx.Response) and o.status_code == 201]
    assert PEOPLE // 4 <= len(seen) < PEOPLE
    assert all(
        o.status_code == 201 if isinstance(o, httpx.Response) else isinstance(o, httpx.HTTPError) for o in outcomes
    )
    inventory, statuses, answered = await _stored(apps, session_id)
    assert Counter(statuses.values())["confirmed"] == inventory.confirmed_seats <= SEATS
    assert all(statuses.get(UUID(booking["id"])) == booking["status"] for booking in seen)  # no 201 lost
    assert set(statuses) == set(answered)  # every stored booking is its key's stored answer
