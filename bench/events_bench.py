"""Commit-to-applied latency of events between services (issue 3), under light load.

One run, three rows side by side:
  * relay woken by NOTIFY: catalog's outbox -> relay -> booking's inbox (a real `learncity serve booking`);
  * relay polling only: the same with NOTIFY off (poll every second), to show what NOTIFY buys;
  * bare NOTIFY round trip: pg_notify at commit -> LISTEN callback, the floor of any push design.

Latency = the subscriber's inbox `received_at` (its transaction start) minus the moment the producer's
commit returned. Usage: `uv run python bench/events_bench.py [--events 300] [--rate 50]`.
"""

import argparse
import asyncio
import time
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from bench._support import scratch_database, service_process, summary_ms
from services.booking.models import event_tables as booking_tables
from services.catalog.models import event_tables as catalog_tables
from services.catalog.settings import CatalogSettings
from shared.db import Database, driver_url
from shared.events.outbox import Outbox
from shared.events.relay import Relay, RelayPolicy
from shared.events.schemas import SessionSnapshot
from shared.ids import new_id
from shared.settings import DEV_INTERNAL_SECRET


def _snapshot(session_id: UUID) -> SessionSnapshot:
    from datetime import UTC, datetime, timedelta

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0, help="events per second (light load)")
    args = parser.parse_args()
    rows: list[tuple[str, dict[str, float]]] = []
    with scratch_database() as url:
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
                        asyncio.run(
                            _relay_latency(url, booking_url, notify=False, events=args.events // 3, rate=args.rate)
                        )
                    ),
                )
            )
        rows.append(
            ("bare NOTIFY round trip (floor)", summary_ms(asyncio.run(_notify_floor(url, args.events, args.rate))))
        )
    table = Table(title=f"Event latency, commit -> applied ({args.rate:.0f} events/s)")
    for column in ("path", "events", "p50 ms", "p90 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right" if column != "path" else "left")
    for name, stats in rows:
        table.add_row(name, str(stats["n"]), *(f"{stats[k]:.1f}" for k in ("p50", "p90", "p99", "max")))
    Console().print(table)


if __name__ == "__main__":
    main()
