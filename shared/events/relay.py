"""The outbox relay: claims due rows with FOR UPDATE SKIP LOCKED, delivers them over HTTP, marks them.

Rows stay locked while they are delivered and are marked in the same transaction, so several relays
(replicas) never deliver one claim twice; a relay killed after delivering but before committing leaves
the rows pending, and the redelivery is a no-op at the subscriber's inbox (at-least-once + idempotent).
"""

import asyncio
import contextlib
import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import structlog
from sqlalchemy import func, select, update

from shared.clients import INTERNAL_SECRET_HEADER
from shared.db import Database
from shared.events.outbox import notify_channel
from shared.events.tables import EventTables

logger = structlog.get_logger(__name__)

EVENTS_PATH = "/internal/v1/events"


@dataclass(frozen=True)
class RelayPolicy:
    batch_size: int = 100
    poll_interval_s: float = 1.0
    max_attempts: int = 10
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 60.0
    delivery_timeout_s: float = 5.0

    def backoff(self, attempts: int) -> timedelta:
        """Capped exponential backoff with full jitter."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempts - 1))
        return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not security


class Relay:
    def __init__(
        self,
        *,
        database: Database,
        tables: EventTables,
        producer: str,
        subscriber_urls: Mapping[str, str],
        http: httpx.AsyncClient,
        internal_secret: str,
        listen_dsn: str | None,
        policy: RelayPolicy = RelayPolicy(),
    ) -> None:
        self._database = database
        self._outbox = tables.outbox
        self._producer = producer
        self._urls = {name: url.rstrip("/") for name, url in subscriber_urls.items()}
        self._http = http
        self._secret = internal_secret
        self._listen_dsn = listen_dsn
        self._policy = policy
        self._wake = asyncio.Event()

    async def backlog(self) -> dict[str, int]:
        """Deliveries by status: the outbox backlog (pending) and dead letters (failed)."""
        outbox = self._outbox
        async with self._database.sessionmaker() as session:
            rows = await session.execute(
                select(outbox.c.status, func.count()).where(outbox.c.status != "delivered").group_by(outbox.c.status)
            )
            return {"pending": 0, "failed": 0} | dict(rows.all())

    async def run_once(self) -> int:
        """Claim and deliver one batch of due rows; returns how many were claimed."""
        outbox = self._outbox
        async with self._database.sessionmaker.begin() as session:
            claimed = (
                await session.execute(
                    select(outbox)
                    .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= datetime.now(UTC))
                    .order_by(outbox.c.next_attempt_at, outbox.c.id)
                    .limit(self._policy.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not claimed:
                return 0
            streams: dict[tuple[str, Any], list[Any]] = defaultdict(list)
            for row in claimed:
                streams[(row.subscriber, row.aggregate_id)].append(row)
            results = await asyncio.gather(*(self._deliver_stream(rows) for rows in streams.values()))
            now = datetime.now(UTC)
            for outcomes in results:
                for row, error in outcomes:
                    if error is None:
                        values: dict[str, Any] = {"status": "delivered", "delivered_at": now, "last_error": None}
                    else:
                        attempts = row.attempts + 1
                        failed = attempts >= self._policy.max_attempts
                        values = {
                            "attempts": attempts,
                            "last_error": error[:1000],
                            "status": "failed" if failed else "pending",
                            "next_attempt_at": now + self._policy.backoff(attempts),
                        }
                        log = logger.error if failed else logger.warning
                        log(
                            "event_delivery_failed",
                            event_id=str(row.event_id),
                            type=row.type,
                            subscriber=row.subscriber,
                            attempts=attempts,
                            dead_letter=failed,
                            error=error,
                        )
                    await session.execute(update(outbox).where(outbox.c.id == row.id).values(**values))
            return len(claimed)

    async def _deliver_stream(self, rows: list[Any]) -> list[tuple[Any, str | None]]:
        """One aggregate's rows for one subscriber, in sequence order; stop at the first failure so the
        rest wait for their turn (they were not attempted, so they are not charged an attempt)."""
        outcomes: list[tuple[Any, str | None]] = []
        for row in sorted(rows, key=lambda r: r.sequence):
            error = await self._deliver(row)
            outcomes.append((row, error))
            if error is not None:
                break
        return outcomes

    async def _deliver(self, row: Any) -> str | None:
        url = self._urls.get(row.subscriber)
        if url is None:
            return f"no URL configured for subscriber {row.subscriber!r}"
        envelope = {
            "id": str(row.event_id),
            "type": row.type,
            "producer": self._producer,
            "aggregate_id": str(row.aggregate_id),
            "sequence": row.sequence,
            "occurred_at": row.occurred_at.isoformat(),
            "payload": row.payload,
        }
        try:
            response = await self._http.post(
                url + EVENTS_PATH,
                json=envelope,
                headers={INTERNAL_SECRET_HEADER: self._secret},
                timeout=self._policy.delivery_timeout_s,
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.is_success:
            return None
        return f"HTTP {response.status_code}: {response.text[:500]}"

    async def run_forever(self) -> None:
        """Deliver until cancelled: woken by NOTIFY at commit, and polling in case a notice is missed."""
        listener = asyncio.create_task(self._listen()) if self._listen_dsn else None
        failures = 0
        try:
            while True:
                self._wake.clear()
                try:
                    claimed = await self.run_once()
                    failures = 0
                except Exception as exc:  # noqa: BLE001 - the relay outlives database restarts
                    failures += 1
                    logger.warning("relay_round_failed", producer=self._producer, error=repr(exc))
                    await asyncio.sleep(min(10.0, 0.2 * 2**failures))
                    continue
                if claimed < self._policy.batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self._policy.poll_interval_s)
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def _listen(self) -> None:
        channel = notify_channel(self._producer)
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(self._listen_dsn)
                closed = asyncio.Event()
                connection.add_termination_listener(lambda _connection, done=closed: done.set())
                await connection.add_listener(channel, lambda *_: self._wake.set())
                await closed.wait()
            except (OSError, asyncpg.PostgresError) as exc:
                logger.info("relay_listen_reconnecting", producer=self._producer, error=repr(exc))
            finally:
                if connection is not None and not connection.is_closed():
                    await connection.close()
            await asyncio.sleep(1.0)
