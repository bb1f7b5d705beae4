"""Abuse limits (OWASP API4/API6) under real parallel HTTP, keyed on the person, never the address.

Already covered elsewhere, not repeated here: the sequential rate limit, its window and Retry-After
(tests/booking/test_limits.py::test_rate_limit_per_person_with_retry_after), the active-bookings cap and
what frees it (::test_active_bookings_limit), login lock-out after repeated failures
(tests/orgs/test_auth.py::test_repeated_failures_lock_the_account_with_retry_after), body size caps and
`limit` bounds on some lists (tests/hardening/test_bad_input.py). Here: the same limits hold when one
person fires everything at once, and the page cap holds on every list."""

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from bench.load_and_fault import build_city, new_session
from shared.ids import new_id
from tests.hardening.conftest import PrivateSystem
from tests.support import PASSWORD, assert_problem, new_email

MAX_ACTIVE = 3
RATE = 10


@pytest.fixture
def strict_booking(private_system: PrivateSystem) -> Iterator[PrivateSystem]:
    """The private booking process restarted with low limits (and restored afterwards)."""
    system = private_system.system
    saved = {name: system.environment[name] for name in ("BOOKING_MAX_ACTIVE_PER_PERSON", "BOOKING_RATE_PER_MINUTE")}
    system.environment |= {"BOOKING_MAX_ACTIVE_PER_PERSON": str(MAX_ACTIVE), "BOOKING_RATE_PER_MINUTE": str(RATE)}
    _restart_booking(private_system)
    yield private_system
    system.environment |= saved
    _restart_booking(private_system)


def _restart_booking(private_system: PrivateSystem) -> None:
    private_system.system.stop_service("booking")
    private_system.system.start_service("booking")
    private_system.system.wait_ready()


@pytest.mark.system
async def test_one_person_cannot_hoard_seats_even_all_at_once(strict_booking: PrivateSystem) -> None:
    """Someone trying to reserve every seat of a festival: many sessions booked in parallel by one person
    end with exactly MAX_ACTIVE bookings; the rest are 429 with Retry-After; a neighbour is unaffected."""
    async with strict_booking.system.client() as http:
        city = await build_city(http, strict_booking.key_file, sessions=8, capacity=5, people=2)
        hoarder, neighbour = city.people

        async def grab(session_id: str) -> httpx.Response:
            body = {"session_id": session_id}
            return await http.post("/v1/bookings", json=body, headers={**hoarder, "Idempotency-Key": session_id})

        answers = await asyncio.gather(*(grab(s.id) for s in city.sessions))
        statuses = Counter(a.status_code for a in answers)
        assert 503 not in statuses, [a.text for a in answers if a.status_code == 503][:2]
        assert statuses == {201: MAX_ACTIVE, 429: len(city.sessions) - MAX_ACTIVE}, statuses
        for limited in (a for a in answers if a.status_code == 429):
            assert_problem(limited, 429)
            assert int(limited.headers["retry-after"]) >= 1
        held = await http.get("/v1/bookings", params={"status": "confirmed"}, headers=hoarder)
        assert len(held.json()["items"]) == MAX_ACTIVE
        body = {"session_id": city.sessions[-1].id}
        other = await http.post("/v1/bookings", json=body, headers={**neighbour, "Idempotency-Key": "n"})
        assert other.status_code == 201, other.text


@pytest.mark.system
async def test_the_booking_rate_limit_holds_for_a_parallel_burst(strict_booking: PrivateSystem) -> None:
    async with strict_booking.system.client() as http:
        city = await build_city(http, strict_booking.key_file, sessions=1, capacity=5, people=2)
        burster, neighbour = city.people
        fresh = await new_session(http, city.staff, city.activity_id, capacity=5)

        async def attempt() -> httpx.Response:
            # Unknown sessions: nothing is booked, yet every attempt counts against the rate.
            body = {"session_id": str(new_id())}
            return await http.post("/v1/bookings", json=body, headers={**burster, "Idempotency-Key": str(new_id())})

        answers = await asyncio.gather(*(attempt() for _ in range(3 * RATE)))
        statuses = Counter(a.status_code for a in answers)
        assert statuses[429] >= 2 * RATE and statuses[404] <= RATE, statuses
        assert set(statuses) <= {404, 429}, statuses
        assert all(int(a.headers["retry-after"]) >= 1 for a in answers if a.status_code == 429)
        body = {"session_id": fresh.id}
        assert (
            await http.post("/v1/bookings", json=body, headers={**burster, "Idempotency-Key": "x"})
        ).status_code == 429
        ok = await http.post("/v1/bookings", json=body, headers={**neighbour, "Idempotency-Key": "y"})
        assert ok.status_code == 201, ok.text


@pytest.mark.system
async def test_parallel_password_guessing_locks_the_account_not_the_address(private_system: PrivateSystem) -> None:
    async with private_system.system.client() as http:
        victim, bystander = new_email("victim"), new_email("bystander")
        for email in (victim, bystander):
            body = {"email": email, "password": PASSWORD, "display_name": "V"}
            assert (await http.post("/v1/auth/register", json=body)).status_code == 201
        guesses = await asyncio.gather(
            *(http.post("/v1/auth/token", data={"username": victim, "password": f"guess {i}"}) for i in range(20))
        )
        assert {g.status_code for g in guesses} <= {401, 429}
        assert any(g.status_code == 429 for g in guesses), "twenty wrong passwords in a burst were all tried"
        locked = await http.post("/v1/auth/token", data={"username": victim, "password": PASSWORD})
        assert_problem(locked, 429)
        assert int(locked.headers["retry-after"]) >= 1
        # The same client address (one NAT) still serves everyone else.
        fine = await http.post("/v1/auth/token", data={"username": bystander, "password": PASSWORD})
        assert fine.status_code == 200, fine.text


LISTS = (
    "/v1/organizations",
    "/v1/sites",
    "/v1/search/sessions",
    "/v1/bookings",
    "/v1/learning-records/me",
)


async def test_every_list_caps_its_page_at_100(client: httpx.AsyncClient, apps: dict[str, FastAPI]) -> None:
    token, _ = apps["orgs"].state.signing_keys.issue_access_token(new_id(), [])
    headers = {"Authorization": f"Bearer {token}"}
    for path in LISTS:
        assert (await client.get(path, params={"limit": 100}, headers=headers)).status_code == 200, path
        for too_many in ("101", "1000000", "0"):
            assert_problem(await client.get(path, params={"limit": too_many}, headers=headers), 422)
