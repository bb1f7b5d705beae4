"""POST /v1/bookings through the booking service vs. the physical floor of this stack (issue 5).

One run, side by side, on one throwaway embedded PostgreSQL:
  * service: `learncity serve booking` (1 worker): bearer-token check, rate limit, Idempotency-Key claim,
    active-bookings limit, the conditional UPDATE of the session's seats, the booking INSERT, the
    `availability.changed` outbox row and the stored idempotent response, in its transactions;
  * minimal: a bare FastAPI + asyncpg app (1 worker, defined in this file) doing one conditional UPDATE +
    one INSERT in a transaction on the same tables.
Both are driven with 50 concurrent connections for a fixed time by wrk (or by an httpx driver when wrk is
not installed), every request a distinct person, spread over many sessions, so bookings succeed. Then a
hot-session run (a festival's release, issue 17): 2,000 distinct people at once for one session of 200
seats, against each: drain time, decisions/s and p50/p99 per request.

The service's event relay is off (`BOOKING_RELAY_ENABLED=false`): outbox rows are still written in every
booking transaction; delivering them is the relay's job (`learncity relay` or a replica), not the
request's. Logging at WARNING for both. Abuse limits raised, as the contract allows load tests to.

Usage: `uv run python bench/booking_bench.py [--seconds 20] [--connections 50]`.
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR.parent) not in sys.path:  # `python bench/booking_bench.py` from the repository root
    sys.path.insert(0, str(BENCH_DIR.parent))

from bench._support import (  # noqa: E402
    CpuUse,
    backend_pids,
    free_port,
    scratch_database,
    service_pids,
    service_process,
    summary_ms,
)
from shared.db import driver_url  # noqa: E402
from shared.ids import new_id  # noqa: E402

HOT_SEATS = 200
HOT_REQUESTS = 2000
SESSIONS = 997  # prime: with persons cycling too, a (person, session) pair never repeats within a run
BIG_CAPACITY = 1_000_000

# ---------------------------------------------------------------------------------------------------------
# The minimal endpoint: what one booking costs on this stack with nothing else around it.

MINIMAL_UPDATE = """
UPDATE booking.inventory SET confirmed_seats = confirmed_seats + $2
WHERE session_id = $1 AND status = 'scheduled' AND confirmed_seats + $2 <= capacity
RETURNING capacity, confirmed_seats, ends_at
"""
MINIMAL_INSERT = """
INSERT INTO booking.bookings
    (id, session_id, person_id, seats, status, checkin_code, session_ends_at, confirmed_at, created_at)
VALUES ($1, $2, $3, $4, 'confirmed', $5, $6, now(), now())
"""


def minimal_app() -> Any:
    """`uvicorn booking_bench:minimal_app --factory`: reads BENCH_DATABASE_URL."""
    from fastapi import FastAPI, Header
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel

    class BookingIn(BaseModel):
        session_id: UUID
        seats: int = 1

    pool: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool["pool"] = await asyncpg.create_pool(os.environ["BENCH_DATABASE_URL"], min_size=10, max_size=30)
        yield
        await pool["pool"].close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/bookings", status_code=201)
    async def book(body: BookingIn, x_person_id: UUID = Header()) -> Any:
        booking_id, code = new_id(), secrets.token_urlsafe(24)
        async with pool["pool"].acquire() as connection, connection.transaction():
            seats = await connection.fetchrow(MINIMAL_UPDATE, body.session_id, body.seats)
            if seats is None:
                return JSONResponse({"detail": "full"}, status_code=409)
            await connection.execute(
                MINIMAL_INSERT, booking_id, body.session_id, x_person_id, body.seats, code, seats["ends_at"]
            )
        return {"id": str(booking_id), "session_id": str(body.session_id), "status": "confirmed", "checkin_code": code}

    return app


@contextlib.contextmanager
def minimal_process(database_url: str) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "booking_bench:minimal_app", "--factory", "--app-dir", str(BENCH_DIR)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    environment = {**os.environ, "BENCH_DATABASE_URL": database_url.replace("+asyncpg", "")}
    process = subprocess.Popen(command, env=environment)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/docs", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(15)


# ---------------------------------------------------------------------------------------------------------
# Seeding and tokens


async def seed_sessions(database_url: str, count: int, capacity: int) -> list[UUID]:
    """Sessions straight into booking's inventory (as if their `session.scheduled` had come)."""
    starts_at = datetime.now(UTC) + timedelta(days=7)
    rows = [
        (
            new_id(),
            new_id(),
            new_id(),
            json.dumps({"en": "Bench"}),
            "lecture",
            starts_at,
            starts_at + timedelta(hours=1),
        )
        for _ in range(count)
    ]
    connection = await asyncpg.connect(driver_url(database_url))
    try:
        await connection.executemany(
            "INSERT INTO booking.inventory (session_id, activity_id, host_org_id, title, kind, starts_at, ends_at,"
            " status, capacity) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, 'scheduled', $8)",
            [(*row, capacity) for row in rows],
        )
    finally:
        await connection.close()
    return [row[0] for row in rows]


async def booking_counts(database_url: str, session_ids: list[UUID]) -> Counter[str]:
    connection = await asyncpg.connect(driver_url(database_url))
    try:
        rows = await connection.fetch(
            "SELECT status, count(*) AS n FROM booking.bookings WHERE session_id = ANY($1::uuid[]) GROUP BY status",
            session_ids,
        )
    finally:
        await connection.close()
    return Counter({row["status"]: row["n"] for row in rows})


@dataclass(frozen=True)
class Caller:
    person_id: UUID
    token: str


def mint_callers(key_file: Path, count: int) -> list[Caller]:
    from services.orgs.keys import SigningKeys
    from services.orgs.settings import OrgsSettings

    keys = SigningKeys(OrgsSettings(jwt_key_file=key_file, access_token_ttl_s=3600))
    callers = []
    for _ in range(count):
        person_id = new_id()
        callers.append(Caller(person_id, keys.issue_access_token(person_id, [])[0]))
    return callers


# ---------------------------------------------------------------------------------------------------------
# Load drivers

WRK_SCRIPT = r"""
local callers, sessions = {}, {}
local counter, stride, offset = 0, 1, 0
local threads = {}

function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    local person, token = line:match("(%S+) (%S+)")
    table.insert(callers, {person, token})
  end
  for line in io.lines(args[2]) do table.insert(sessions, line) end
  offset = tonumber(wrk.thread:get("offset"))
  stride = tonumber(args[3])
  counter = offset
end

function request()
  local caller = callers[(counter % #callers) + 1]
  local session = sessions[(counter % #sessions) + 1]
  counter = counter + stride
  local body = '{"session_id":"' .. session .. '","seats":1}'
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. caller[2],
    ["X-Person-Id"] = caller[1],
    ["Idempotency-Key"] = "bench-" .. offset .. "-" .. counter,
  }
  return wrk.format("POST", "/v1/bookings", headers, body)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors_status=%d errors_other=%d duration_us=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    failed: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return (self.requests - self.failed) / self.seconds


def run_wrk(
    url: str, folder: Path, callers: list[Caller], sessions: list[UUID], seconds: int, connections: int
) -> LoadResult:
    threads = 2
    (folder / "callers.txt").write_text("".join(f"{c.person_id} {c.token}\n" for c in callers))
    (folder / "sessions.txt").write_text("".join(f"{s}\n" for s in sessions))
    (folder / "booking.lua").write_text(WRK_SCRIPT)
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s"]
    command += ["-s", str(folder / "booking.lua"), url, "--", str(folder / "callers.txt"), str(folder / "sessions.txt")]
    command += [str(threads)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    found = re.search(r"RESULT (.*)", output)
    if found is None:
        raise RuntimeError(f"wrk said: {output}")
    values = {k: int(v) for k, v in (pair.split("=") for pair in found.group(1).split())}
    return LoadResult(
        requests=values["requests"],
        failed=values["errors_status"] + values["errors_other"],
        seconds=values["duration_us"] / 1e6,
        p50_ms=values["p50_us"] / 1000,
        p99_ms=values["p99_us"] / 1000,
    )


def _request(caller: Caller, session_id: UUID, key: str) -> tuple[dict[str, str], dict[str, Any]]:
    headers = {
        "Authorization": f"Bearer {caller.token}",
        "X-Person-Id": str(caller.person_id),
        "Idempotency-Key": key,
    }
    return headers, {"session_id": str(session_id), "seats": 1}


async def run_httpx(
    url: str, callers: list[Caller], sessions: list[UUID], seconds: int, connections: int
) -> LoadResult:
    """The fallback driver (wrk is lighter: with httpx the driver competes with the server for CPU)."""
    latencies: list[float] = []
    failed = 0
    counter = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:

        async def worker() -> None:
            nonlocal counter, failed
            while time.perf_counter() < deadline:
                counter += 1
                headers, body = _request(
                    callers[counter % len(callers)], sessions[counter % len(sessions)], f"h{counter}"
                )
                started = time.perf_counter()
                response = await client.post("/v1/bookings", json=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                failed += response.status_code != 201

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    summary = summary_ms(latencies)
    return LoadResult(len(latencies), failed, elapsed, summary["p50"], summary["p99"])


async def first_booking(url: str, caller: Caller, session_id: UUID) -> None:
    headers, body = _request(caller, session_id, "first")
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        response = await client.post("/v1/bookings", json=body, headers=headers)
    if response.status_code != 201:
        raise RuntimeError(f"the first booking failed: {response.status_code} {response.text}")


@dataclass(frozen=True)
class HotResult:
    drained_s: float
    statuses: Counter[int]
    latencies_s: list[float]

    @property
    def decisions_per_second(self) -> float:
        return sum(self.statuses.values()) / self.drained_s


async def _connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def hot_session(url: str, callers: list[Caller], session_id: UUID) -> HotResult:
    """Everyone at once for one session: the time until the last answer, the statuses, each request's time.

    Each person has a connection of their own, opened before the clock starts, and the requests are written
    as raw HTTP/1.1 by asyncio streams: an httpx pool of 2,000 connections costs the driver itself more than
    a millisecond a request, and the driver, not the endpoint, would then set the pace."""
    messages = []
    for caller in callers:
        headers, body = _request(caller, session_id, f"hot-{caller.person_id}")
        payload = json.dumps(body).encode()
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        messages.append(
            f"POST /v1/bookings HTTP/1.1\r\nHost: bench\r\n{head}Content-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
            + payload
        )
    connections = []
    for start in range(0, len(messages), 200):  # within the listen backlog
        connections += await asyncio.gather(*(_connect(url) for _ in messages[start : start + 200]))
    latencies: list[float] = []

    async def exchange(connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], message: bytes) -> int:
        reader, writer = connection
        sent = time.perf_counter()
        writer.write(message)
        status_line = await asyncio.wait_for(reader.readline(), timeout=60)
        latencies.append(time.perf_counter() - sent)
        writer.close()
        return int(status_line.split()[1])

    started = time.perf_counter()
    statuses = await asyncio.gather(*(exchange(c, m) for c, m in zip(connections, messages, strict=True)))
    elapsed = time.perf_counter() - started
    return HotResult(elapsed, Counter(statuses), latencies)


def profile(url: str, output: Path, seconds: int) -> subprocess.Popen[bytes]:
    """py-spy (`uv pip install py-spy`) on the process serving `url`, for the length of a run."""
    port = url.rsplit(":", 1)[1]
    listening = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True)
    found = re.search(r"pid=(\d+)", listening.stdout)
    if found is None:
        raise RuntimeError(f"no process listens on port {port}")
    pid = found.group(1)
    command = ["py-spy", "record", "-p", pid, "-d", str(seconds), "-o", str(output), "--rate", "250"]
    command += ["--format", "raw"] if output.suffix == ".txt" else []
    return subprocess.Popen(command)


# ---------------------------------------------------------------------------------------------------------


@dataclass
class Endpoint:
    name: str
    label: str
    url: str
    sessions: list[UUID]
    hot_session: UUID
    rounds: list[tuple[LoadResult, CpuUse]]


def aggregate(rounds: list[tuple[LoadResult, CpuUse]]) -> tuple[float, float, float, int, int, list[float]]:
    """Bookings/s over all rounds, the median p50 and p99, requests, failures and CPU ms per request."""
    requests = sum(result.requests for result, _ in rounds)
    per_second = sum(result.requests - result.failed for result, _ in rounds) / sum(r.seconds for r, _ in rounds)
    cpu = [1000 * sum(used.split()[i] for _, used in rounds) / max(1, requests) for i in range(3)]
    return (
        per_second,
        statistics.median(result.p50_ms for result, _ in rounds),
        statistics.median(result.p99_ms for result, _ in rounds),
        requests,
        sum(result.failed for result, _ in rounds),
        cpu,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each throughput run")
    parser.add_argument(
        "--rounds", type=int, default=3, help="throughput runs of each endpoint, alternating, in one session"
    )
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--profile", type=Path, help="py-spy the service's first run into this file (.svg, or .txt for raw)"
    )
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None
    # Every run books with people of its own (a person books a session once): enough for the fastest runs.
    per_run = {"service": args.seconds * 1_500, "minimal": args.seconds * 3_000}

    with (
        tempfile.TemporaryDirectory(prefix="booking-bench-") as scratch,
        scratch_database() as database_url,
        contextlib.ExitStack() as processes,
    ):
        folder = Path(scratch)
        key_file = folder / "orgs-ed25519.pem"
        # Signed tokens for the service; the minimal endpoint takes the person id from a header only.
        service_callers = iter(mint_callers(key_file, per_run["service"] * args.rounds + 200))
        minimal_callers = iter(Caller(new_id(), "unused") for _ in range(per_run["minimal"] * args.rounds + 200))
        hot_callers = mint_callers(key_file, HOT_REQUESTS)
        orgs_environment = {
            "ORGS_DATABASE_URL": database_url,
            "ORGS_JWT_KEY_FILE": str(key_file),
            "ORGS_LOG_LEVEL": "WARNING",
        }
        orgs_url = processes.enter_context(service_process("orgs", orgs_environment))
        booking_environment = {
            "BOOKING_DATABASE_URL": database_url,
            "BOOKING_ORGS_URL": orgs_url,
            "BOOKING_LOG_LEVEL": "WARNING",
            "BOOKING_RELAY_ENABLED": "false",
            "BOOKING_JANITOR_INTERVAL_S": "0",
            # The same ceiling as the minimal app's asyncpg pool (10..30), kept open: the default
            # 10 + 20 overflow closes overflow connections on return and reopens them under load.
            "BOOKING_DB_POOL_SIZE": "30",
            "BOOKING_DB_MAX_OVERFLOW": "0",
            "BOOKING_RATE_PER_MINUTE": "100000000",
            "BOOKING_MAX_ACTIVE_PER_PERSON": "1000000",
        }
        # Both up at once, runs alternating: whatever else the machine does drifts over both alike.
        endpoints = {
            name: Endpoint(
                name,
                label,
                processes.enter_context(context),
                asyncio.run(seed_sessions(database_url, SESSIONS, BIG_CAPACITY)),
                asyncio.run(seed_sessions(database_url, 1, HOT_SEATS))[0],
                [],
            )
            for name, label, context in (
                ("service", "booking service", service_process("booking", booking_environment)),
                ("minimal", "minimal FastAPI + asyncpg", minimal_process(database_url)),
            )
        }
        callers = {"service": service_callers, "minimal": minimal_callers}
        for endpoint in endpoints.values():
            warm_callers = [next(callers[endpoint.name]) for _ in range(200)]
            asyncio.run(first_booking(endpoint.url, warm_callers[0], endpoint.sessions[0]))  # the JWKS, once
            warm = asyncio.run(run_httpx(endpoint.url, warm_callers[1:], endpoint.sessions[1:], 2, 10))
            assert warm.failed == 0, f"{endpoint.name}: warm-up failed"
        database_pids = asyncio.run(backend_pids(driver_url(database_url)))
        for round_number in range(args.rounds):
            order = ("service", "minimal") if round_number % 2 == 0 else ("minimal", "service")
            for name in order:
                endpoint = endpoints[name]
                run_callers = [next(callers[name]) for _ in range(per_run[name])]
                first_service_run = name == "service" and round_number == 0
                profiler = (
                    profile(endpoint.url, args.profile, args.seconds) if first_service_run and args.profile else None
                )
                app_pids = service_pids(endpoint.url)
                before = CpuUse.sample(app_pids, database_pids)
                if use_wrk:
                    result = run_wrk(
                        endpoint.url, folder, run_callers, endpoint.sessions, args.seconds, args.connections
                    )
                else:
                    result = asyncio.run(
                        run_httpx(endpoint.url, run_callers, endpoint.sessions, args.seconds, args.connections)
                    )
                endpoint.rounds.append((result, CpuUse.sample(app_pids, database_pids) - before))
                if profiler is not None:
                    profiler.wait()
        hot = {name: asyncio.run(hot_session(e.url, hot_callers, e.hot_session)) for name, e in endpoints.items()}
        hot_counts = {name: asyncio.run(booking_counts(database_url, [e.hot_session])) for name, e in endpoints.items()}

    driver = "wrk" if use_wrk else "httpx"
    print(
        f"\nPOST /v1/bookings, {args.connections} connections, {args.rounds} alternating rounds of {args.seconds} s "
        f"per endpoint, 1 worker each, driver {driver}\n"
    )
    # CPU per request shows where the time goes whatever else shares the machine: app, PostgreSQL, driver.
    print("| endpoint | round | bookings/s | p50 ms | p99 ms | requests | non-201 | CPU ms/req app + db + driver |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for endpoint in endpoints.values():
        for number, (result, used) in enumerate(endpoint.rounds, start=1):
            figures = f"{result.per_second:,.0f} | {result.p50_ms:.1f} | {result.p99_ms:.1f}"
            per_request = " + ".join(f"{1000 * value / max(1, result.requests):.2f}" for value in used.split())
            print(
                f"| {endpoint.label} | {number} | {figures} | {result.requests:,} | {result.failed} | {per_request} |"
            )
    print("\n| endpoint | bookings/s (all rounds) | median p50 ms | median p99 ms | requests | non-201 | CPU ms/req |")
    print("|---|---:|---:|---:|---:|---:|---|")
    totals = {name: aggregate(endpoint.rounds) for name, endpoint in endpoints.items()}
    for name, endpoint in endpoints.items():
        per_second, p50, p99, requests, failed, cpu = totals[name]
        per_request = " + ".join(f"{value:.2f}" for value in cpu)
        figures = f"{per_second:,.0f} | {p50:.1f} | {p99:.1f} | {requests:,} | {failed}"
        print(f"| {endpoint.label} | {figures} | {per_request} |")
    service, minimal = totals["service"], totals["minimal"]
    print(
        f"\nservice / minimal throughput: {service[0] / minimal[0]:.0%} (target >= 50%); "
        f"service median p99 {service[2]:.1f} ms (target < 100 ms)\n"
    )
    print(f"Hot session: {HOT_REQUESTS:,} distinct people at once for {HOT_SEATS} seats\n")
    print("| endpoint | drained in s | decisions/s | p50 ms | p99 ms | HTTP statuses | bookings in the database |")
    print("|---|---:|---:|---:|---:|---|---|")
    for name, endpoint in endpoints.items():
        released = hot[name]
        latency = summary_ms(released.latencies_s)
        rate = f"{released.drained_s:.2f} | {released.decisions_per_second:,.0f}"
        figures = f"{rate} | {latency['p50']:.0f} | {latency['p99']:.0f}"
        statuses = dict(sorted(released.statuses.items()))
        print(f"| {endpoint.label} | {figures} | {statuses} | {dict(hot_counts[name])} |")
    hot_rate = hot["service"].decisions_per_second
    print(
        f"\nservice hot decisions/s: {hot_rate / hot['minimal'].decisions_per_second:.1f}x the minimal endpoint's "
        f"(target >= 5x), {hot_rate / service[0]:.0%} of its own bookings/s on many sessions (target >= 70%); "
        f"drained in {hot['service'].drained_s:.2f} s (target < 3 s), "
        f"p99 {summary_ms(hot['service'].latencies_s)['p99']:.0f} ms (target < 2,000 ms)"
    )
    service_confirmed = hot_counts["service"].get("confirmed", 0)
    print(
        f"\nservice hot session: {service_confirmed} confirmed (must be exactly {HOT_SEATS}), "
        f"{hot_counts['service'].get('waitlisted', 0)} waitlisted"
    )
    if service_confirmed != HOT_SEATS:
        raise SystemExit("OVERBOOKED or UNDERBOOKED")


if __name__ == "__main__":
    main()
