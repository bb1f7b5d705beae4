"""Faults on real processes over a private PostgreSQL: the catalog stopped, the booking service killed
with SIGKILL mid-load, the database restarted mid-load. Latency is measured in `bench/load_and_fault.py`,
never asserted here."""

import asyncio
from uuid import UUID

import asyncpg
import httpx
import pytest

from bench.load_and_fault import SHORT, Fault, PrivateDatabase, build_city, fault_plan, new_session, run
from shared.ids import new_id
from tests.hardening.conftest import PrivateSystem
from tests.live import LiveSystem
from tests.support import assert_problem

pytestmark = pytest.mark.system


async def test_with_the_catalog_stopped_bookings_list_and_cancel_and_unknown_sessions_get_503(
    private_system: PrivateSystem,
) -> None:
    system = private_system.system
    async with system.client(timeout_s=10) as http:
        city = await build_city(http, private_system.key_file, sessions=1, capacity=5, people=3)
        session = city.sessions[0]
        made = []
        for person in city.people[:2]:
            response = await http.post(
                "/v1/bookings", json={"session_id": session.id}, headers={**person, "Idempotency-Key": "a"}
            )
            assert response.status_code == 201, response.text
            made.append(response.json())
        # A session booking has not heard of: scheduled, then forgotten by booking (as if its event were late).
        unheard = await new_session(http, city.staff, city.activity_id, capacity=5)
        await _until_booking_knows(http, unheard.id)
        await _forget(private_system.database, unheard.id)

        system.stop_service("catalog")
        try:
            mine = await http.get("/v1/bookings", headers=city.people[0])
            assert mine.status_code == 200 and [b["id"] for b in mine.json()["items"]] == [made[0]["id"]]
            cancelled = await http.post(f"/v1/bookings/{made[1]['id']}/cancel", headers=city.people[1])
            assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
            assert (await http.get(f"/v1/availability/{session.id}")).json()["confirmed_seats"] == 1
            for session_id in (str(new_id()), unheard.id):
                down = await http.post(
                    "/v1/bookings",
                    json={"session_id": session_id},
                    headers={**city.people[2], "Idempotency-Key": session_id},
                )
                assert_problem(down, 503)
                assert int(down.headers["retry-after"]) >= 1
        finally:
            system.start_service("catalog")
            system.wait_ready()
        # Recovered by itself: the same request now books (booking learns the session from the catalog).
        again = await http.post(
            "/v1/bookings", json={"session_id": unheard.id}, headers={**city.people[2], "Idempotency-Key": unheard.id}
        )
        assert again.status_code == 201, again.text


async def _until_booking_knows(http: httpx.AsyncClient, session_id: str) -> None:
    for _ in range(100):
        if (await http.get(f"/v1/availability/{session_id}")).status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("booking never heard of the session")


async def _forget(database: PrivateDatabase, session_id: str) -> None:
    connection = await asyncpg.connect(database.plain_url)
    try:
        await connection.execute("DELETE FROM booking.inventory WHERE session_id = $1", UUID(session_id))
    finally:
        await connection.close()


def _kill_and_db_restart(database: PrivateDatabase, system: LiveSystem) -> list[Fault]:
    return [fault for fault in fault_plan(database, system) if not fault[1].startswith("catalog")]


async def test_booking_killed_and_database_restarted_under_load_lose_nothing(private_system: PrivateSystem) -> None:
    """The short load-and-fault run: SIGKILL of booking mid-load, then PostgreSQL stopped and started; every
    invariant holds afterwards and the services reconnect without being restarted."""
    report = await run(
        private_system.database,
        private_system.system,
        private_system.key_file,
        seconds=14,
        plan=_kill_and_db_restart,
        size=SHORT,
    )
    failed = [(name, detail) for name, passed, detail in report.invariants if not passed]
    assert not failed, failed
    assert report.tally.succeeded["book"] > 0
    killed = next(f for f in report.faults if f.name == "booking SIGKILL")
    assert report.tally.failed, "the faults were not felt"
    database_back = next(f for f in report.faults if f.name == "database started")
    # No process was restarted for the database: the same PIDs before and after, and they served bookings.
    database_down = next(f for f in report.faults if f.name == "database stopped")
    assert database_down.pids == database_back.pids == report.pids
    assert any(seen.at > database_back.at for seen in report.tally.seen.values()), "no booking after the restart"
    assert "booking" not in killed.pids  # it was down, and came back as a new process
    assert all(process.poll() is None for process in private_system.system.processes.values())


async def test_the_catalog_fault_of_the_short_run_answers_fast_503s(private_system: PrivateSystem) -> None:
    plan = [f for f in fault_plan(private_system.database, private_system.system) if f[1].startswith("catalog")]
    report = await run(
        private_system.database,
        private_system.system,
        private_system.key_file,
        seconds=8,
        plan=lambda database, system: plan,
        size=SHORT,
    )
    assert all(passed for _, passed, _ in report.invariants), report.invariants
    assert report.tally.probe_503_s, "the probe saw no 503 while the catalog was down"
    assert set(report.tally.probe_other) <= {"404"}, report.tally.probe_other  # 404: the catalog was back
