"""Events between services (issues 3 and 12): commit-to-applied latency, and the cost per event under load.

Light load (issue 3), three rows side by side:
  * relay woken by NOTIFY: catalog's outbox -> relay -> booking's inbox (a real `learncity serve booking`);
  * relay polling only: the same with NOTIFY off (poll every second), to show what NOTIFY buys;
  * bare NOTIFY round trip: pg_notify at commit -> LISTEN callback, the floor of any push design.

Booking load (issue 12): writers commit `availability.changed` rows into booking's outbox the way the
booking hot path does (one statement: sequence, outbox row, pg_notify) at `--load-rate` per second over
`--sessions` sessions for `--load-seconds`; a relay delivers them to a real `learncity serve catalog`.
Four rows: one event per request (batch of 1, no linger, no coalescing: how events travelled before
batches), batches without linger or coalescing (what a relay round gathers by itself), batches with the
default linger, and batches with linger and coalescing (the defaults). For each: events committed, events
sent (fewer when coalesced), requests, events/s (committed events over the time from the first commit to
the last one applied), commit-to-applied latency (an event counts as applied once the catalog has applied
it or a newer one of its session) and the catalog's CPU per committed event: its process, and its
PostgreSQL backends.

Latency = the subscriber's inbox `received_at` (its transaction start) minus the moment the producer's
commit returned. Usage: `uv run python -m bench.events_bench [--events 300] [--rate 50] [--load-rate 500]
[--load-seconds 8] [--sessions 300] [--skip-light | --skip-load]`.
"""

import argparse
import asyncio
import bisect
import json
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from bench._support import cpu_seconds, scratch_database, service_pids, service_process, summary_ms
from services.booking.models import event_tables as booking_tables
from services.booking.settings import BookingSettings
from services.catalog.models import event_tables as catalog_tables
from services.catalog.settings import CatalogSettings
from shared.db import Database, driver_url
from shared.events.outbox import Outbox, notify_channel
from shared.events.relay import Relay, RelayPolicy
from shared.events.schemas import SessionSnapshot
from shared.ids import new_id
from shared.settings import DEV_INTERNAL_SECRET


def _snapshot(session_id: UUID) -> SessionSnapshot:
    now = datetime.now(UTC)
    return SessionSnapshot(
        session_id=session_id,
        activity_id=new_id(),
        host_org_id=new_id(),
        site_id=None,
        title={"en": "Bench"},
        kind="lecture",
        starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=1),
        capacity=50,
        status="scheduled",
        booking_opens_at=None,
        booking_closes_at=None,
    )


async def _relay_latency(url: str, booking_url: str, *, notify: bool, events: int, rate: float) -> list[float]:
    database = Database(CatalogSettings(database_url=url), application_name="events-bench")
    outbox = Outbox(catalog_tables, producer="catalog", subscriptions={"booking": ["session.*"]})
    http = httpx.AsyncClient()
    relay = Relay(
        database=database,
        tables=catalog_tables,
        producer="catalog",
        subscriber_urls={"booking": booking_url},
        http=http,
        internal_secret=DEV_INTERNAL_SECRET,
        listen_dsn=driver_url(url) if notify else None,
        policy=RelayPolicy(poll_interval_s=1.0),
    )
    task = asyncio.create_task(relay.run_forever())
    await asyncio.sleep(0.5)  # LISTEN established
    committed: dict[UUID, float] = {}
    try:
        for _ in range(events):
            session_id = new_id()
            async with database.sessionmaker.begin() as session:
                event_id = await outbox.emit(session, "session.updated", session_id, _snapshot(session_id))
            committed[event_id] = time.time()
            await asyncio.sleep(1 / rate)
        received: dict[Any, Any] = {}
        deadline = time.monotonic() + 30
        while len(received) < events and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            async with database.sessionmaker() as session:
                rows = await session.execute(
                    select(booking_tables.inbox.c.event_id, booking_tables.inbox.c.received_at).where(
                        booking_tables.inbox.c.event_id.in_(list(committed))
                    )
                )
                received = dict(rows.all())
        return [received[e].timestamp() - t for e, t in committed.items() if e in received]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await http.aclose()
        await database.dispose()


async def _notify_floor(url: str, events: int, rate: float) -> list[float]:
    dsn = driver_url(url)
    listener, sender = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    arrivals: dict[str, float] = {}
    await listener.add_listener("bench_floor", lambda *args: arrivals.__setitem__(args[3], time.time()))
    sent: dict[str, float] = {}
    for index in range(events):
        async with sender.transaction():
            await sender.execute("SELECT pg_notify('bench_floor', $1)", str(index))
        sent[str(index)] = time.time()
        await asyncio.sleep(1 / rate)
    await asyncio.sleep(0.5)
    await listener.close()
    await sender.close()
    return [arrivals[k] - t for k, t in sent.items() if k in arrivals]


# ---- booking load: availability.changed from booking's outbox to the catalog ---------------------------

# What the booking hot path writes per booking (services/booking/publishing.py), for one session.
_BOOKED = """
WITH sequence AS (
    INSERT INTO booking.outbox_sequences AS q (aggregate_id, last_sequence) VALUES ($1, 1)
    ON CONFLICT (aggregate_id) DO UPDATE SET last_sequence = q.last_sequence + 1
    RETURNING last_sequence
), event AS (
    INSERT INTO booking.outbox (id, event_id, subscriber, type, aggregate_id, sequence, occurred_at, payload)
    SELECT uuidv7(), uuidv7(), 'catalog', 'availability.changed', $1, last_sequence, now(),
        jsonb_build_object('session_id', $1::uuid, 'capacity', 1000, 'confirmed_seats', last_sequence,
            'seats_available', 1000 - last_sequence, 'waitlist_length', 0)
    FROM sequence
    RETURNING sequence
)
SELECT sequence, pg_notify($2, '') FROM event
"""


async def _catalog_sessions(dsn: str, count: int) -> list[UUID]:
    """Sessions the catalog knows (its handler ignores figures of unknown ones). Booking's outbox starts
    empty: the light load made it emit `availability.changed` of sessions the catalog never had."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("UPDATE booking.outbox SET status = 'delivered' WHERE status = 'pending'")
        activity_id, ids = new_id(), [new_id() for _ in range(count)]
        starts = datetime.now(UTC) + timedelta(days=2)
        await connection.execute(
            "INSERT INTO catalog.activities (id, title, kind, host_org_id) VALUES ($1, $2, 'lecture', $3)",
            activity_id,
            json.dumps({"en": "Bench"}),
            new_id(),
        )
        await connection.executemany(
            "INSERT INTO catalog.sessions (id, activity_id, starts_at, ends_at, capacity)"
            " VALUES ($1, $2, $3, $4, 1000)",
            [(session_id, activity_id, starts, starts + timedelta(hours=1)) for session_id in ids],
        )
        return ids
    finally:
        await connection.close()


@dataclass
class LoadResult:
    events: int
    sent: int
    requests: int
    events_per_s: float
    latency: dict[str, float]
    app_cpu_ms: float
    database_cpu_ms: float


async def _catalog_backends(dsn: str) -> list[int]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch("SELECT pid FROM pg_stat_activity WHERE application_name = 'learncity-catalog'")
        return [row["pid"] for row in rows]
    finally:
        await connection.close()


async def _booking_load(
    url: str, catalog_url: str, sessions: list[UUID], policy: RelayPolicy, *, rate: float, seconds: float
) -> LoadResult:
    dsn = driver_url(url)
    database = Database(BookingSettings(database_url=url), application_name="events-bench-relay")
    requests = sent = 0

    async def count(request: httpx.Request) -> None:
        nonlocal requests, sent
        requests += 1
        sent += len(json.loads(request.content)["events"])

    http = httpx.AsyncClient(event_hooks={"request": [count]})
    relay = Relay(
        database=database,
        tables=booking_tables,
        producer="booking",
        subscriber_urls={"catalog": catalog_url},
        http=http,
        internal_secret=DEV_INTERNAL_SECRET,
        listen_dsn=dsn,
        policy=policy,
    )
    relay_task = asyncio.create_task(relay.run_forever())
    writers = await asyncpg.create_pool(dsn, min_size=8, max_size=8)
    committed: list[tuple[UUID, int, float]] = []
    chooser = random.Random(12)
    app_pids = service_pids(catalog_url)
    try:
        await asyncio.sleep(0.5)  # LISTEN established
        backends_before = {pid: cpu_seconds([pid]) for pid in await _catalog_backends(dsn)}
        app_before = cpu_seconds(app_pids)

        async def book(session_id: UUID) -> None:
            sequence = await writers.fetchval(_BOOKED, session_id, notify_channel("booking"))
            committed.append((session_id, sequence, time.time()))

        started, total, tasks = time.monotonic(), int(rate * seconds), set()
        for index in range(total):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(book(chooser.choice(sessions)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        for _ in range(1200):  # until drained, at most 2 minutes
            if not (await relay.backlog())["pending"]:
                break
            await asyncio.sleep(0.1)
        app_cpu = cpu_seconds(app_pids) - app_before
        database_cpu = sum(cpu_seconds([pid]) - backends_before.get(pid, 0.0) for pid in await _catalog_backends(dsn))
        applied = await _applied_times(dsn)
    finally:
        relay_task.cancel()
        await asyncio.gather(relay_task, return_exceptions=True)
        await writers.close()
        await http.aclose()
        await database.dispose()
    latencies = []
    for session_id, sequence, at in committed:
        sequences, times = applied.get(session_id, ([], []))
        index = bisect.bisect_left(sequences, sequence)
        if index < len(sequences):
            latencies.append(times[index] - at)
    first_commit = min(at for _, _, at in committed)
    last_applied = max(at + latency for (_, _, at), latency in zip(committed, latencies, strict=False))
    events = len(committed)
    return LoadResult(
        events=events,
        sent=sent,
        requests=requests,
        events_per_s=events / max(1e-9, last_applied - first_commit),
        latency=summary_ms(latencies),
        app_cpu_ms=app_cpu * 1000 / events,
        database_cpu_ms=database_cpu * 1000 / events,
    )


async def _applied_times(dsn: str) -> dict[UUID, tuple[list[int], list[float]]]:
    """Per session: the sequences the catalog applied, ascending, and for each the earliest moment it or a
    later one was applied (what an event of that sequence or lower waited for)."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            """SELECT o.aggregate_id, o.sequence, i.received_at FROM booking.outbox o
               JOIN catalog.inbox i ON i.event_id = o.event_id WHERE i.outcome = 'applied'"""
        )
    finally:
        await connection.close()
    by_session: dict[UUID, list[tuple[int, float]]] = defaultdict(list)
    for row in rows:
        by_session[row["aggregate_id"]].append((row["sequence"], row["received_at"].timestamp()))
    result: dict[UUID, tuple[list[int], list[float]]] = {}
    for session_id, applied in by_session.items():
        applied.sort()
        sequences, times, earliest = [s for s, _ in applied], [t for _, t in applied], float("inf")
        for index in range(len(times) - 1, -1, -1):
            earliest = times[index] = min(times[index], earliest)
        result[session_id] = (sequences, times)
    return result


LOAD_MODES: list[tuple[str, dict[str, Any]]] = [
    ("one event per request", {"delivery_batch": 1, "coalesce": False, "linger_s": 0.0}),
    ("batches, no linger, no coalescing", {"coalesce": False, "linger_s": 0.0}),
    ("batches, no coalescing", {"coalesce": False}),
    ("batches + coalescing (default)", {}),
]


def _load_rows(url: str, args: argparse.Namespace) -> list[tuple[str, LoadResult]]:
    environment = {"CATALOG_DATABASE_URL": url, "CATALOG_LOG_LEVEL": "WARNING", "CATALOG_RELAY_ENABLED": "false"}
    sessions = asyncio.run(_catalog_sessions(driver_url(url), args.sessions))
    rows: list[tuple[str, LoadResult]] = []
    with service_process("catalog", environment) as catalog_url:
        for name, policy in LOAD_MODES:
            result = asyncio.run(
                _booking_load(
                    url,
                    catalog_url,
                    sessions,
                    RelayPolicy(**policy),
                    rate=args.load_rate,
                    seconds=args.load_seconds,
                )
            )
            rows.append((name, result))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0, help="events per second (light load)")
    parser.add_argument("--load-rate", type=float, default=500.0, help="bookings per second (booking load)")
    parser.add_argument("--load-seconds", type=float, default=8.0)
    parser.add_argument("--sessions", type=int, default=300, help="sessions booked (booking load)")
    parser.add_argument("--skip-light", action="store_true", help="only the booking load")
    parser.add_argument("--skip-load", action="store_true", help="only the light load")
    args = parser.parse_args()
    rows: list[tuple[str, dict[str, float]]] = []
    load_rows: list[tuple[str, LoadResult]] = []
    with scratch_database() as url:
        if not args.skip_light:
            rows = _light_rows(url, args)
        if not args.skip_load:
            load_rows = _load_rows(url, args)
    console = Console(width=170)
    if rows:
        table = Table(title=f"Event latency, commit -> applied ({args.rate:.0f} events/s)")
        for column in ("path", "events", "p50 ms", "p90 ms", "p99 ms", "max ms"):
            table.add_column(column, justify="right" if column != "path" else "left")
        for name, stats in rows:
            table.add_row(name, str(stats["n"]), *(f"{stats[k]:.1f}" for k in ("p50", "p90", "p99", "max")))
        console.print(table)
    if load_rows:
        table = Table(
            title=f"Booking load: availability.changed to the catalog ({args.load_rate:.0f}/s for "
            f"{args.load_seconds:.0f} s over {args.sessions} sessions)"
        )
        columns = (
            "delivery",
            "events",
            "sent",
            "requests",
            "events/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "catalog CPU ms/event",
        )
        for column in (*columns, "its DB CPU ms/event"):
            table.add_column(column, justify="right" if column != "delivery" else "left")
        for name, result in load_rows:
            stats = result.latency
            table.add_row(
                name,
                str(result.events),
                str(result.sent),
                str(result.requests),
                f"{result.events_per_s:.0f}",
                *(f"{stats[k]:.1f}" for k in ("p50", "p99", "max")),
                f"{result.app_cpu_ms:.3f}",
                f"{result.database_cpu_ms:.3f}",
            )
        console.print(table)


def _light_rows(url: str, args: argparse.Namespace) -> list[tuple[str, dict[str, float]]]:
    rows: list[tuple[str, dict[str, float]]] = []
    environment = {"BOOKING_DATABASE_URL": url, "BOOKING_LOG_LEVEL": "WARNING", "BOOKING_RELAY_ENABLED": "false"}
    with service_process("booking", environment) as booking_url:
        rows.append(
            (
                "relay woken by NOTIFY",
                summary_ms(
                    asyncio.run(_relay_latency(url, booking_url, notify=True, events=args.events, rate=args.rate))
                ),
            )
        )
        rows.append(
            (
                "relay polling only (1 s)",
                summary_ms(
                    asyncio.run(_relay_latency(url, booking_url, notify=False, events=args.events // 3, rate=args.rate))
                ),
            )
        )
    rows.append(("bare NOTIFY round trip (floor)", summary_ms(asyncio.run(_notify_floor(url, args.events, args.rate)))))
    return rows


if __name__ == "__main__":
    main()
