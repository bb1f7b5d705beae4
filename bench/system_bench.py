"""The system as people use it (issue 12): `POST /v1/bookings` and search through the one base URL of a
running `learncity up`, side by side in one run with the booking service's own port and the minimal floor.

`learncity up` runs as shipped: embedded PostgreSQL, the demo city seeded, every service with its outbox
relay and events on, the gateway in front. The bench only raises the two abuse limits the contract lets load
tests raise. Through the public API it then registers 100 people (each signs in for a token) and opens 300
sessions per booking endpoint, and drives, with wrk and 50 connections, alternating rounds of:

  * gateway: `POST /v1/bookings` to the base URL (Caddy -> booking; booking's events -> catalog);
  * booking port: the same requests to the booking service's own port (no gateway);
  * minimal: a bare FastAPI + asyncpg app (bench/booking_bench.py: one conditional UPDATE + one INSERT in a
    transaction) on the same PostgreSQL, the floor of this stack;
  * gateway, no notices: the base URL of a second `learncity up`, identical but for booking sending no
    `booking.*` events to notify (`BOOKING_EVENT_SUBSCRIPTIONS`): what notices cost a booking (issue 13).

Every request is a fresh person/session pair with a fresh Idempotency-Key. CPU per booking is read from
/proc for each process: the gateway, each service, PostgreSQL (every server process) and wrk. During the
gateway rounds a probe books and cancels a seat of its own session and times how long until the catalog
shows the new availability (`GET /v1/sessions/{id}` through the base URL: the projection search reads): the
event lag users see. Then a read mix: `GET /v1/search/sessions` near a point in the demo city through the
base URL against the catalog's own port. Last, the notice lag: for every booking confirmed through the first
system, from the booking's commit to its `booking_confirmed` notice in notify's inbox (read by SQL).

Usage: `uv run python bench/system_bench.py [--seconds 10] [--rounds 3] [--connections 50]`.
"""

import argparse
import asyncio
import contextlib
import math
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR.parent) not in sys.path:  # `python bench/system_bench.py` from the repository root
    sys.path.insert(0, str(BENCH_DIR.parent))

from bench._support import (  # noqa: E402
    cpu_seconds,
    driver_cpu_seconds,
    percentile,
    service_pids,
    system_up,
)
from bench.booking_bench import Caller, LoadResult, minimal_process, seed_sessions  # noqa: E402
from shared.ids import new_id  # noqa: E402
from shared.topology import SERVICES  # noqa: E402
from tests.integration.city import Citizen, Point, activity, created, ok, organization, register, site  # noqa: E402

PEOPLE = 100
SESSIONS = 500  # the most one recurrence makes; 100 x 500 fresh pairs last a path 3 rounds of 10 s
BURST = 600  # concurrent requests, once, through the base URL
MINIMAL_PEOPLE = 1000  # the floor is fast: more pairs so it never books a pair twice
HUBIN = Point(30.2590, 120.1640)  # by West Lake, in the demo city

BOOKING_SCRIPT = r"""
local callers, sessions = {}, {}
local stride, multiplier, prefix = 1, 0, ""
local threads = {}
counter = 0  -- global: done() reads every thread's, so the next run starts past the highest pair used

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
  stride = tonumber(args[3])
  counter = tonumber(args[4]) + tonumber(wrk.thread:get("offset"))
  multiplier = tonumber(args[5])
  prefix = args[6]
end

-- Pair k: person k mod P, session (k + m * floor(k / P)) mod S, with gcd(P + m, S) = 1, so the first P * S
-- pairs are all different and neighbouring requests hit different people and different sessions.
function request()
  local people = #callers
  local caller = callers[(counter % people) + 1]
  local session = sessions[((counter + multiplier * math.floor(counter / people)) % #sessions) + 1]
  local key = prefix .. counter
  counter = counter + stride
  local body = '{"session_id":"' .. session .. '","seats":1}'
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. caller[2],
    ["X-Person-Id"] = caller[1],
    ["Idempotency-Key"] = key,
  }
  return wrk.format("POST", "/v1/bookings", headers, body)
end
"""

SEARCH_SCRIPT = r"""
math.randomseed(2027)
threads = {}
function request()
  local lat = 30.20 + math.random() * 0.10
  local lon = 120.10 + math.random() * 0.12
  return wrk.format("GET", string.format("/v1/search/sessions?near=%.5f,%.5f&walk_minutes=15&limit=20", lat, lon))
end
"""

# Warm-up only (a Lua call per response costs wrk CPU): the first body of each unexpected status.
DIAGNOSE_SCRIPT = r"""
local seen = {}
function response(status, headers, body)
  if status >= 300 and not seen[status] then
    seen[status] = true
    io.write("UNEXPECTED " .. status .. " " .. body .. "\n")
  end
end
"""

RESULT_SCRIPT = r"""
function done(summary, latency, requests)
  local next_pair = 0
  for _, thread in ipairs(threads or {}) do
    next_pair = math.max(next_pair, tonumber(thread:get("counter")) or 0)
  end
  io.write(string.format("NEXT_PAIR %d\n", next_pair))
  io.write(string.format("RESULT requests=%d errors_status=%d errors_other=%d duration_us=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
"""


# ---- the running system -----------------------------------------------------------------------------------


# ---- what the bench books: people and sessions, made through the public API --------------------------------


@dataclass
class City:
    people: list[Citizen]
    sessions: dict[str, list[str]]  # endpoint -> its own sessions
    probe: tuple[Citizen, str]  # a person and a session of its own for the event-lag probe


def open_city(base_url: str, endpoints: list[str]) -> City:
    with httpx.Client(base_url=base_url, timeout=30) as api:
        host = register(api, "bench-host")
        org = organization(api, host)
        place = site(api, host, org, HUBIN.north(150), "Bench Library")
        sessions: dict[str, list[str]] = {}
        starts = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
        for endpoint in [*endpoints, "probe", "burst"]:
            offering = activity(api, host, org, place, f"Bench workshop for {endpoint} {uuid.uuid4().hex[:8]}")
            count = {"probe": 1, "burst": math.ceil(BURST / PEOPLE)}.get(endpoint, SESSIONS)
            body = {
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(minutes=50)).isoformat(),
                "capacity": 100_000,
                "recurrence": {"rrule": "FREQ=DAILY", "count": count},
            }
            made = created(api.post(f"/v1/activities/{offering['id']}/sessions", json=body, headers=host.headers))
            sessions[endpoint] = [item["id"] for item in made["items"]]
        people = [register(api, f"bench-{index}") for index in range(PEOPLE)]
        # Booking learns the sessions from the catalog's events: wait until it knows every one.
        deadline = time.monotonic() + 60
        for session_id in [s for ids in sessions.values() for s in ids]:
            while api.get(f"/v1/availability/{session_id}").status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("the booking service did not learn the bench's sessions in time")
                time.sleep(0.1)
    probe = register(httpx.Client(base_url=base_url, timeout=30), "bench-probe")
    return City(people, {e: ids for e, ids in sessions.items() if e != "probe"}, (probe, sessions["probe"][0]))


def pair_multiplier(people: int, sessions: int) -> int:
    return next(m for m in range(1, sessions + 1) if math.gcd(people + m, sessions) == 1)


# ---- load ---------------------------------------------------------------------------------------------------


def run_wrk(url: str, script: Path, seconds: int, connections: int, arguments: list[str]) -> tuple[LoadResult, int]:
    """wrk's figures and the first pair no thread used; anything the script reports as UNEXPECTED is printed."""
    threads = 2
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s"]
    command += ["-s", str(script), url, "--", *arguments]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for line in re.findall(r"^UNEXPECTED .*$", output, flags=re.MULTILINE):
        print(f"{url}: {line[:500]}")
    found = re.search(r"RESULT (.*)", output)
    if found is None:
        raise RuntimeError(f"wrk said: {output}")
    values = {k: int(v) for k, v in (pair.split("=") for pair in found.group(1).split())}
    next_pair = re.search(r"NEXT_PAIR (\d+)", output)
    result = LoadResult(
        requests=values["requests"],
        failed=values["errors_status"] + values["errors_other"],
        seconds=values["duration_us"] / 1e6,
        p50_ms=values["p50_us"] / 1000,
        p99_ms=values["p99_us"] / 1000,
    )
    return result, int(next_pair.group(1)) if next_pair else 0


@dataclass
class Run:
    result: LoadResult
    cpu_s: dict[str, float]  # process group -> CPU seconds during the run
    next_pair: int = 0


@dataclass
class Endpoint:
    name: str
    label: str
    url: str
    callers_file: Path
    sessions_file: Path
    multiplier: int
    pairs: int
    groups: Callable[[], dict[str, list[int]]]
    next_pair: int = 0
    runs: list[Run] = field(default_factory=list)


def measure(run: Any, process_groups: Any) -> Run:
    """`run()` with the CPU each process group spent meanwhile; the groups are looked up afresh (pools open
    connections, so PostgreSQL's server processes come and go)."""
    groups: dict[str, list[int]] = process_groups()
    before = {name: cpu_seconds(pids) for name, pids in groups.items()} | {"wrk": driver_cpu_seconds()}
    result, next_pair = run()
    after = {name: cpu_seconds(pids) for name, pids in groups.items()} | {"wrk": driver_cpu_seconds()}
    return Run(result, {name: after[name] - before[name] for name in before}, next_pair)


class LagProbe:
    """Books and cancels a seat of its own session over and over while `active` is set (the gateway runs);
    each time, how long from the booking service's answer until the catalog (through the base URL) shows the
    new `seats_available`, looked at every 20 ms (a few requests a second: it does not load the system)."""

    def __init__(self, base_url: str, person: Citizen, session_id: str) -> None:
        self._base_url = base_url
        self._person = person
        self._session_id = session_id
        self.lags_s: list[float] = []
        self.missed = 0
        self._stop = threading.Event()
        self.active = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "LagProbe":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        with httpx.Client(base_url=self._base_url, timeout=10, headers=self._person.headers) as api:
            capacity = ok(api.get(f"/v1/sessions/{self._session_id}"))["capacity"]
            while not self._stop.is_set():
                if not self.active.wait(0.1):
                    continue
                booked = api.post(
                    "/v1/bookings",
                    json={"session_id": self._session_id},
                    headers={"Idempotency-Key": f"probe-{uuid.uuid4()}"},
                )
                if booked.status_code != 201:
                    raise RuntimeError(f"the lag probe could not book: {booked.status_code} {booked.text}")
                self._time_until(api, capacity - 1)
                cancelled = api.post(f"/v1/bookings/{booked.json()['id']}/cancel")
                if cancelled.status_code != 200:
                    raise RuntimeError(f"the lag probe could not cancel: {cancelled.status_code} {cancelled.text}")
                self._time_until(api, capacity)
                self._stop.wait(0.2)

    def _time_until(self, api: httpx.Client, seats: int) -> None:
        """Called as soon as the booking service answered."""
        answered = time.perf_counter()
        deadline = answered + 10
        while time.perf_counter() < deadline:
            if ok(api.get(f"/v1/sessions/{self._session_id}"))["seats_available"] == seats:
                self.lags_s.append(time.perf_counter() - answered)
                return
            time.sleep(0.02)
        self.missed += 1


async def burst(url: str, people: list[Citizen], sessions: list[str], size: int) -> Counter[str]:
    """`size` booking requests at once on as many connections (a festival's release): every answer's status,
    and any transport error by name (none is acceptable: each request must get an HTTP answer)."""
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def one(index: int) -> str:
            person = people[index % len(people)]
            headers = {**person.headers, "Idempotency-Key": f"burst-{uuid.uuid4()}"}
            body = {"session_id": sessions[index // len(people)]}
            try:
                return str((await client.post("/v1/bookings", json=body, headers=headers)).status_code)
            except httpx.TransportError as exc:
                return type(exc).__name__

        return Counter(await asyncio.gather(*(one(index) for index in range(size))))


QUIET_SUBSCRIPTIONS = '{"catalog": ["availability.changed"]}'
NOTICE_WAIT_S = 60
# Bookings the booking service told notify of (the minimal floor writes booking rows of its own, untold).
TOLD = "EXISTS (SELECT FROM booking.outbox AS o WHERE o.aggregate_id = b.id AND o.type = 'booking.confirmed')"


async def notice_lag(dsn: str) -> tuple[list[float], int]:
    """Seconds from each confirmed booking's commit (its `created_at`: the booking statement's time) to its
    `booking_confirmed` notice (`created_at`: notify's transaction), once notify has caught up or
    NOTICE_WAIT_S passed; and how many confirmed bookings have no notice by then."""
    connection = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + NOTICE_WAIT_S
        while True:
            missing: int = await connection.fetchval(
                f"SELECT count(*) FROM booking.bookings AS b WHERE b.status = 'confirmed' AND {TOLD} AND NOT EXISTS "
                "(SELECT FROM notify.notifications AS n WHERE n.booking_id = b.id AND n.kind = 'booking_confirmed')"
            )
            if missing == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        rows = await connection.fetch(
            "SELECT extract(epoch FROM n.created_at - b.created_at) AS lag FROM booking.bookings AS b "
            "JOIN notify.notifications AS n ON n.booking_id = b.id AND n.kind = 'booking_confirmed'"
        )
        return sorted(float(row["lag"]) for row in rows), missing
    finally:
        await connection.close()


# ---- the report ---------------------------------------------------------------------------------------------

GROUPS = ("gateway", *SERVICES, "postgres", "wrk")


def totals(runs: list[Run]) -> tuple[float, float, float, int, int, dict[str, float]]:
    """Per second over all runs, median p50 and p99, requests, failures and CPU ms per request by group."""
    requests = sum(run.result.requests for run in runs)
    per_second = sum(r.result.requests - r.result.failed for r in runs) / sum(r.result.seconds for r in runs)
    cpu = {name: 1000 * sum(run.cpu_s.get(name, 0.0) for run in runs) / max(1, requests) for name in GROUPS}
    return (
        per_second,
        statistics.median(run.result.p50_ms for run in runs),
        statistics.median(run.result.p99_ms for run in runs),
        requests,
        sum(run.result.failed for run in runs),
        cpu,
    )


def print_table(title: str, unit: str, rows: list[tuple[str, list[Run]]], groups: tuple[str, ...]) -> None:
    print(f"\n{title}\n")
    header = " | ".join(f"CPU {name}" for name in groups)
    print(f"| path | {unit}/s | p50 ms | p99 ms | requests | failed | {header} |")
    print("|---|---:|---:|---:|---:|---:|" + "---:|" * len(groups))
    for label, runs in rows:
        per_second, p50, p99, requests, failed, cpu = totals(runs)
        cells = " | ".join(f"{cpu[name]:.2f}" for name in groups)
        print(f"| {label} | {per_second:,.0f} | {p50:.1f} | {p99:.1f} | {requests:,} | {failed} | {cells} |")
    print("(CPU: ms per request of each process group, from /proc)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each path")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--search-connections", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="system-bench-")))
        system = stack.enter_context(system_up(folder / "system"))
        quiet = stack.enter_context(system_up(folder / "quiet", {"BOOKING_EVENT_SUBSCRIPTIONS": QUIET_SUBSCRIPTIONS}))
        city = open_city(system.base_url, ["gateway", "booking port"])
        quiet_city = open_city(quiet.base_url, ["gateway, no notices"])
        dsn = system.database_dsn()
        with minimal_process(dsn.replace("postgresql://", "postgresql+asyncpg://", 1)) as minimal_url:
            minimal_sessions = [str(s) for s in asyncio.run(seed_sessions(dsn, SESSIONS, 1_000_000))]
            callers_file = folder / "callers.txt"
            callers_file.write_text("".join(f"{p.id} {p.headers['Authorization'][7:]}\n" for p in city.people))
            quiet_callers_file = folder / "quiet-callers.txt"
            quiet_callers_file.write_text(
                "".join(f"{p.id} {p.headers['Authorization'][7:]}\n" for p in quiet_city.people)
            )
            minimal_callers = [Caller(new_id(), "unused") for _ in range(MINIMAL_PEOPLE)]
            minimal_callers_file = folder / "minimal-callers.txt"
            minimal_callers_file.write_text("".join(f"{c.person_id} {c.token}\n" for c in minimal_callers))

            def groups() -> dict[str, list[int]]:
                return system.process_groups() | {"minimal": service_pids(minimal_url)}

            endpoints = []
            for name, label, url, people_file, people, sessions, endpoint_groups in (
                (
                    "gateway",
                    "base URL (gateway)",
                    system.base_url,
                    callers_file,
                    PEOPLE,
                    city.sessions["gateway"],
                    groups,
                ),
                (
                    "gateway, no notices",
                    "base URL, no booking.* events to notify",
                    quiet.base_url,
                    quiet_callers_file,
                    PEOPLE,
                    quiet_city.sessions["gateway, no notices"],
                    quiet.process_groups,
                ),
                (
                    "booking port",
                    "booking service's own port",
                    system.own_urls["booking"],
                    callers_file,
                    PEOPLE,
                    city.sessions["booking port"],
                    groups,
                ),
                (
                    "minimal",
                    "minimal FastAPI + asyncpg",
                    minimal_url,
                    minimal_callers_file,
                    MINIMAL_PEOPLE,
                    minimal_sessions,
                    groups,
                ),
            ):
                sessions_file = folder / f"sessions-{name.replace(' ', '-')}.txt"
                sessions_file.write_text("".join(f"{s}\n" for s in sessions))
                multiplier = pair_multiplier(people, len(sessions))
                endpoints.append(
                    Endpoint(
                        name,
                        label,
                        url,
                        people_file,
                        sessions_file,
                        multiplier,
                        people * len(sessions),
                        endpoint_groups,
                    )
                )
            booking_script = folder / "booking.lua"
            booking_script.write_text(BOOKING_SCRIPT + RESULT_SCRIPT)
            warm_up_script = folder / "warm-up.lua"
            warm_up_script.write_text(BOOKING_SCRIPT + DIAGNOSE_SCRIPT + RESULT_SCRIPT)
            search_script = folder / "search.lua"
            search_script.write_text(SEARCH_SCRIPT + RESULT_SCRIPT)

            def book(endpoint: Endpoint, seconds: int, connections: int, script: Path = booking_script) -> Run:
                arguments = [str(endpoint.callers_file), str(endpoint.sessions_file), "2"]
                arguments += [str(endpoint.next_pair), str(endpoint.multiplier), f"{endpoint.sessions_file.stem}-"]
                run = measure(lambda: run_wrk(endpoint.url, script, seconds, connections, arguments), endpoint.groups)
                endpoint.next_pair = run.next_pair
                if endpoint.next_pair > endpoint.pairs:
                    raise SystemExit(f"{endpoint.name}: out of fresh person/session pairs; use fewer seconds")
                return run

            for endpoint in endpoints:  # warm-up: connections, the JWKS, token caches, plans
                warm = book(endpoint, 2, 10, warm_up_script)
                if warm.result.failed:
                    raise SystemExit(f"{endpoint.name}: {warm.result.failed} warm-up requests failed")
            with LagProbe(system.base_url, *city.probe) as probe:
                lag_probe = probe
                for round_number in range(args.rounds):
                    order = endpoints if round_number % 2 == 0 else endpoints[::-1]
                    for endpoint in order:
                        if endpoint.name == "gateway":
                            probe.active.set()
                        endpoint.runs.append(book(endpoint, args.seconds, args.connections))
                        probe.active.clear()
            burst_statuses = asyncio.run(burst(system.base_url, city.people, city.sessions["burst"], BURST))
            search_rows: dict[str, list[Run]] = {"base URL (gateway)": [], "catalog's own port": []}
            search_urls = {"base URL (gateway)": system.base_url, "catalog's own port": system.own_urls["catalog"]}
            for round_number in range(args.rounds):
                labels = list(search_rows) if round_number % 2 == 0 else list(search_rows)[::-1]
                for label in labels:
                    search_rows[label].append(
                        measure(
                            lambda url=search_urls[label]: run_wrk(
                                url, search_script, args.seconds, args.search_connections, []
                            ),
                            groups,
                        )
                    )
            notice_lags, unnoticed = asyncio.run(notice_lag(dsn))

    groups_shown = ("gateway", *SERVICES, "postgres", "wrk")
    print(
        f"\nThrough a running `learncity up` (all services, relays and events on), {args.rounds} alternating "
        f"rounds of {args.seconds} s per path, wrk {args.connections} connections; {PEOPLE} people x {SESSIONS} "
        "sessions per path, every request a fresh person/session pair and key."
    )
    for endpoint in endpoints:
        if endpoint.name == "minimal":
            for run in endpoint.runs:  # the floor's own process is its "booking service"
                run.cpu_s["booking"] = run.cpu_s.pop("minimal", 0.0)
                for name in ("gateway", "orgs", "catalog"):
                    run.cpu_s[name] = 0.0
    print_table(
        "POST /v1/bookings",
        "bookings",
        [(endpoint.label, endpoint.runs) for endpoint in endpoints],
        groups_shown,
    )
    by_name = {endpoint.name: totals(endpoint.runs) for endpoint in endpoints}
    gateway, direct, floor = by_name["gateway"], by_name["booking port"], by_name["minimal"]
    without_notices = by_name["gateway, no notices"]
    lags = sorted(lag_probe.lags_s)
    print(
        f"\nbase URL / floor: {gateway[0] / floor[0]:.0%} of the floor's bookings/s (target >= 40%), "
        f"p99 {gateway[2]:.1f} ms (target < 150 ms)"
        f"\nthe gateway's cost against the booking port: {1 - gateway[0] / direct[0]:.0%} fewer bookings/s "
        f"(target <= 10%)"
        f"\ncatalog CPU per booking through the base URL: {gateway[5]['catalog']:.3f} ms (target < 0.2 ms)"
        f"\nevent lag (booking answered -> the catalog shows it), {len(lags)} probes: "
        f"p50 {1000 * percentile(lags, 50):.0f} ms, p99 {1000 * percentile(lags, 99):.0f} ms, "
        f"max {1000 * max(lags, default=float('nan')):.0f} ms, not seen within 10 s: {lag_probe.missed} "
        "(target p99 < 1 s)"
        f"\nwhat notices cost a booking: {1 - gateway[0] / without_notices[0]:+.1%} fewer bookings/s than the "
        "same system without booking.* events to notify (target within 5%)"
        f"\nnotice lag (booking committed -> `booking_confirmed` in notify's inbox), over the {len(notice_lags):,} "
        f"bookings noticed: p50 {1000 * percentile(notice_lags, 50):.0f} ms, "
        f"p99 {1000 * percentile(notice_lags, 99):.0f} ms, "
        f"max {1000 * max(notice_lags, default=float('nan')):.0f} ms; no notice after {NOTICE_WAIT_S} s: {unnoticed} "
        "(target p99 < 2 s)"
    )
    print(
        f"\nburst: {BURST} booking requests at once through the base URL: {dict(sorted(burst_statuses.items()))} "
        "(every one must get an HTTP answer: 201)"
    )
    print_table(
        f"GET /v1/search/sessions near a point in the demo city, {args.search_connections} connections",
        "requests",
        list(search_rows.items()),
        groups_shown,
    )
    through, own = (totals(runs) for runs in search_rows.values())
    print(f"\nsearch through the base URL: {through[0] / own[0]:.0%} of the catalog's own port (target >= 90%)")


if __name__ == "__main__":
    main()
