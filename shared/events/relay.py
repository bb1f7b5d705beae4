"""The outbox relay: claims due rows with FOR UPDATE SKIP LOCKED, delivers them over HTTP, marks them.

Rows stay locked while they are delivered and are marked in the same transaction, so several relays
(replicas) never deliver one claim twice; a relay killed after delivering but before committing leaves
the rows pending, and the redelivery is a no-op at the subscriber's inbox (at-least-once + idempotent).

A claim travels in batches: up to `delivery_batch` events per `POST /internal/v1/events`, sorted by
(aggregate, sequence), which the subscriber applies in one transaction and answers with an outcome per
event. Events of a coalescible type (whole snapshots, `shared/events/schemas.py`) travel only as the newest
of their (subscriber, aggregate): the older rows are marked delivered without being sent.

A delivered row is kept, marked `delivered`, unless its type is `erase_when_delivered` (its payload names
someone who asked to be forgotten): then it is deleted. A dead letter (`failed`) keeps its payload either way,
so that `learncity events --retry` can still deliver it (`EventType` in `shared/events/schemas.py`).
"""

import asyncio
import contextlib
import json
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import structlog
from pydantic import ValidationError
from sqlalchemy import ARRAY, DateTime, Integer, String, Text, Uuid, bindparam, func, select, text

from shared.clients import INTERNAL_SECRET_HEADER
from shared.db import Database, is_database_unavailable
from shared.events.outbox import notify_channel
from shared.events.schemas import (
    COALESCIBLE_TYPES,
    DONE_OUTCOMES,
    ERASED_WHEN_DELIVERED_TYPES,
    MAX_EVENTS_PER_DELIVERY,
    BatchReceipt,
)
from shared.events.tables import EventTables

logger = structlog.get_logger(__name__)

EVENTS_PATH = "/internal/v1/events"
_BODY_OVERHEAD = len(b'{"events":[]}')


@dataclass(frozen=True)
class RelayPolicy:
    batch_size: int = 100
    poll_interval_s: float = 1.0
    max_attempts: int = 10
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 60.0
    delivery_timeout_s: float = 5.0
    # Events per request (at most MAX_EVENTS_PER_DELIVERY) and bytes per request body (the subscriber
    # answers 413 above its `max_body_bytes`; one event larger than this still travels, alone).
    delivery_batch: int = 100
    delivery_max_bytes: int = 1_048_576
    # While events keep coming, a round starts at most this often (they gather into fuller batches).
    linger_s: float = 0.1
    # Send only the newest event of a coalescible type per (subscriber, aggregate); off only to measure.
    coalesce: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.delivery_batch <= MAX_EVENTS_PER_DELIVERY:
            raise ValueError(f"delivery_batch must be between 1 and {MAX_EVENTS_PER_DELIVERY}")

    def backoff(self, attempts: int) -> timedelta:
        """Capped exponential backoff with full jitter."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempts - 1))
        return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not security


@dataclass
class _Report:
    """What became of one subscriber's rows: done (delivered) or charged an attempt (failed). Rows in
    neither wait for their turn, uncharged."""

    done: list[Any] = field(default_factory=list)
    failed: list[tuple[Any, str]] = field(default_factory=list)


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
        # One wake-up per subscriber's lane (`run_forever`): a NOTIFY wakes them all.
        self._wake = {subscriber: asyncio.Event() for subscriber in self._urls}
        outbox = tables.outbox
        self._claim = (
            select(outbox)
            .where(
                outbox.c.subscriber == bindparam("subscriber"),
                outbox.c.status == "pending",
                outbox.c.next_attempt_at <= bindparam("now"),
            )
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(bindparam("limit"))
            .with_for_update(skip_locked=True)
        )
        # The rest of the claimed snapshot streams: every pending row of them, due or not (a newer
        # snapshot replaces one waiting out its backoff too), except those another relay holds.
        self._stream_rows = (
            text(
                f"""SELECT o.* FROM {outbox.fullname} AS o
                JOIN unnest(:subscribers, :aggregates, :types) AS s(subscriber, aggregate_id, type)
                  ON o.aggregate_id = s.aggregate_id AND o.subscriber = s.subscriber AND o.type = s.type
                WHERE o.status = 'pending' AND o.id <> ALL(:claimed)
                FOR UPDATE OF o SKIP LOCKED"""
            )
            .bindparams(
                bindparam("subscribers", type_=ARRAY(String)),
                bindparam("aggregates", type_=ARRAY(Uuid)),
                bindparam("types", type_=ARRAY(String)),
                bindparam("claimed", type_=ARRAY(Uuid)),
            )
            .columns(*outbox.c)
        )
        self._mark_done = text(
            f"""UPDATE {outbox.fullname} SET status = 'delivered', delivered_at = :now, last_error = NULL
            WHERE id = ANY(:ids)"""
        ).bindparams(bindparam("ids", type_=ARRAY(Uuid)), bindparam("now", type_=DateTime(timezone=True)))
        self._delete_done = text(f"DELETE FROM {outbox.fullname} WHERE id = ANY(:ids)").bindparams(
            bindparam("ids", type_=ARRAY(Uuid))
        )
        self._mark_failed = text(
            f"""UPDATE {outbox.fullname} AS o
            SET attempts = f.attempts, last_error = f.last_error, status = f.status,
                next_attempt_at = f.next_attempt_at
            FROM unnest(:ids, :attempts, :errors, :statuses, :next_attempts)
                AS f(id, attempts, last_error, status, next_attempt_at)
            WHERE o.id = f.id"""
        ).bindparams(
            bindparam("ids", type_=ARRAY(Uuid)),
            bindparam("attempts", type_=ARRAY(Integer)),
            bindparam("errors", type_=ARRAY(Text)),
            bindparam("statuses", type_=ARRAY(String)),
            bindparam("next_attempts", type_=ARRAY(DateTime(timezone=True))),
        )

    async def backlog(self) -> dict[str, int]:
        """Deliveries by status: the outbox backlog (pending) and dead letters (failed)."""
        outbox = self._outbox
        async with self._database.sessionmaker() as session:
            rows = await session.execute(
                select(outbox.c.status, func.count()).where(outbox.c.status != "delivered").group_by(outbox.c.status)
            )
            return {"pending": 0, "failed": 0} | dict(rows.all())

    async def run_once(self, subscriber: str | None = None) -> int:
        """Claim and deliver one batch of `subscriber`'s due rows (None: a batch for each subscriber in
        turn); returns how many were claimed."""
        if subscriber is None:
            return sum([await self.run_once(name) for name in self._urls])
        async with self._database.sessionmaker.begin() as session:
            params = {"subscriber": subscriber, "now": datetime.now(UTC), "limit": self._policy.batch_size}
            claimed = (await session.execute(self._claim, params)).all()
            if not claimed:
                return 0
            sending, superseded = await self._coalesce(session, claimed) if self._policy.coalesce else (claimed, [])
            by_subscriber: dict[str, list[Any]] = defaultdict(list)
            for row in sending:
                by_subscriber[row.subscriber].append(row)
            reports = await asyncio.gather(*(self._deliver_to(name, rows) for name, rows in by_subscriber.items()))
            now = datetime.now(UTC)
            done = [*superseded, *(row for report in reports for row in report.done)]
            kept = [row.id for row in done if row.type not in ERASED_WHEN_DELIVERED_TYPES]
            if kept:
                await session.execute(self._mark_done, {"ids": kept, "now": now})
            erased = [row.id for row in done if row.type in ERASED_WHEN_DELIVERED_TYPES]
            if erased:
                await session.execute(self._delete_done, {"ids": erased})
            failed = [failure for report in reports for failure in report.failed]
            if failed:
                await session.execute(self._mark_failed, self._charge(failed, now))
            return len(claimed)

    async def _coalesce(self, session: Any, claimed: Sequence[Any]) -> tuple[list[Any], list[Any]]:
        """Of each claimed (subscriber, aggregate) stream of a coalescible type, only the newest pending
        row travels; the others (claimed, or pending beyond the claim) are superseded. Rows of other types
        all travel. Returns (rows to send, superseded rows)."""
        streams = {(row.subscriber, row.aggregate_id, row.type) for row in claimed if row.type in COALESCIBLE_TYPES}
        if not streams:
            return list(claimed), []
        subscribers, aggregates, types = (list(column) for column in zip(*sorted(streams), strict=True))
        params = {
            "subscribers": subscribers,
            "aggregates": aggregates,
            "types": types,
            "claimed": [row.id for row in claimed],
        }
        more = (await session.execute(self._stream_rows, params)).all()
        newest: dict[tuple[str, UUID, str], Any] = {}
        sending: list[Any] = []
        superseded: list[Any] = []
        for row in [*claimed, *more]:
            key = (row.subscriber, row.aggregate_id, row.type)
            if key not in streams:
                sending.append(row)
                continue
            current = newest.get(key)
            if current is None:
                newest[key] = row
            elif row.sequence > current.sequence:
                superseded.append(current)
                newest[key] = row
            else:
                superseded.append(row)
        sending.extend(newest.values())
        return sending, superseded

    def _charge(self, failed: list[tuple[Any, str]], now: datetime) -> dict[str, list[Any]]:
        """One more attempt for each failed row: backoff, or a dead letter after `max_attempts`."""
        params: dict[str, list[Any]] = {"ids": [], "attempts": [], "errors": [], "statuses": [], "next_attempts": []}
        for row, error in failed:
            attempts = row.attempts + 1
            dead = attempts >= self._policy.max_attempts
            params["ids"].append(row.id)
            params["attempts"].append(attempts)
            params["errors"].append(error[:1000])
            params["statuses"].append("failed" if dead else "pending")
            params["next_attempts"].append(now + self._policy.backoff(attempts))
            (logger.error if dead else logger.warning)(
                "event_delivery_failed",
                event_id=str(row.event_id),
                type=row.type,
                subscriber=row.subscriber,
                attempts=attempts,
                dead_letter=dead,
                error=error,
            )
        return params

    async def _deliver_to(self, subscriber: str, rows: list[Any]) -> _Report:
        """One subscriber's rows, in requests of at most `delivery_batch` events sorted by (aggregate,
        sequence), one after another. An aggregate whose event failed (or was deferred) sends none of its
        later events this round: they wait for their turn and are not charged. A request that fails as a
        whole (subscriber down, 5xx, timeout) charges each of its rows, and ends this round for the
        subscriber (its remaining rows are not charged)."""
        report = _Report()
        url = self._urls.get(subscriber)
        if url is None:
            report.failed = [(row, f"no URL configured for subscriber {subscriber!r}") for row in rows]
            return report
        stopped: set[UUID] = set()
        queue = sorted(rows, key=lambda r: (r.aggregate_id, r.sequence))
        position = 0
        while position < len(queue):
            chunk: list[Any] = []
            bodies: list[bytes] = []
            size = _BODY_OVERHEAD
            while position < len(queue) and len(chunk) < self._policy.delivery_batch:
                row = queue[position]
                if row.aggregate_id in stopped:
                    position += 1
                    continue
                body = self._envelope(row)
                if chunk and size + len(body) + 1 > self._policy.delivery_max_bytes:
                    break
                chunk.append(row)
                bodies.append(body)
                size += len(body) + 1
                position += 1
            if not chunk:
                break
            outcomes = await self._post(url, bodies)
            if isinstance(outcomes, str):
                report.failed.extend((row, outcomes) for row in chunk)
                break
            for row in chunk:
                outcome, error = outcomes.get(row.event_id, ("failed", "no outcome for this event in the response"))
                if outcome in DONE_OUTCOMES:
                    report.done.append(row)
                    continue
                stopped.add(row.aggregate_id)
                if outcome == "failed":
                    report.failed.append((row, error or "the subscriber's handler failed"))
        return report

    def _envelope(self, row: Any) -> bytes:
        envelope = {
            "id": str(row.event_id),
            "type": row.type,
            "producer": self._producer,
            "aggregate_id": str(row.aggregate_id),
            "sequence": row.sequence,
            "occurred_at": row.occurred_at.isoformat(),
            "payload": row.payload,
        }
        return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()

    async def _post(self, url: str, bodies: list[bytes]) -> dict[UUID, tuple[str, str | None]] | str:
        """Outcome (and error) per event id, or why the request failed as a whole."""
        content = b'{"events":[' + b",".join(bodies) + b"]}"
        try:
            response = await self._http.post(
                url + EVENTS_PATH,
                content=content,
                headers={INTERNAL_SECRET_HEADER: self._secret, "Content-Type": "application/json"},
                timeout=self._policy.delivery_timeout_s,
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if not response.is_success:
            return f"HTTP {response.status_code}: {response.text[:500]}"
        try:
            receipt = BatchReceipt.model_validate_json(response.content)
        except ValidationError:
            return f"HTTP {response.status_code}: not a batch receipt: {response.text[:200]}"
        return {result.event_id: (result.outcome, result.error) for result in receipt.results}

    async def run_forever(self) -> None:
        """Deliver until cancelled, each subscriber in a lane of its own: a slow or lagging subscriber
        (notify mailing a festival's bookings) never holds up another's events (the catalog's seat
        figures). Each lane is woken by NOTIFY at commit, and polls in case a notice is missed.

        After a round that found events, the next looks again without waiting to be woken: a producer
        may skip its NOTIFY while events are already due (the booking hot path does, so that its commits
        do not queue on the notify lock). While events keep coming (the last round found more than one),
        a round starts at most every `linger_s`, so what commits meanwhile travels together: fuller
        batches, less work per event on both sides. A lone event goes at once (its NOTIFY wakes the
        relay); a full claim (a backlog) is followed by the next round straight away."""
        listener = asyncio.create_task(self._listen()) if self._listen_dsn else None
        try:
            await asyncio.gather(*(self._lane(subscriber) for subscriber in self._urls))
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def _lane(self, subscriber: str) -> None:
        wake = self._wake[subscriber]
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            wake.clear()
            started = loop.time()
            try:
                claimed = await self.run_once(subscriber)
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the relay outlives database restarts
                failures += 1
                logger.warning("relay_round_failed", producer=self._producer, subscriber=subscriber, error=repr(exc))
                await asyncio.sleep(min(10.0, 0.2 * 2**failures))
                continue
            if claimed >= self._policy.batch_size:
                continue
            if claimed == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=self._policy.poll_interval_s)
                continue
            linger = max(0.0, started + self._policy.linger_s - loop.time())
            if claimed == 1:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=linger)
            else:
                await asyncio.sleep(linger)

    def _wake_all(self) -> None:
        for wake in self._wake.values():
            wake.set()

    async def _listen(self) -> None:
        channel = notify_channel(self._producer)
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(self._listen_dsn)
                closed = asyncio.Event()
                connection.add_termination_listener(lambda _connection, done=closed: done.set())
                await connection.add_listener(channel, lambda *_: self._wake_all())
                await closed.wait()
            except Exception as exc:  # noqa: BLE001 - the listener outlives any failure; polling covers the gap
                log = logger.info if is_database_unavailable(exc) else logger.warning
                log("relay_listen_reconnecting", producer=self._producer, error=repr(exc))
            finally:
                if connection is not None and not connection.is_closed():
                    connection.terminate()
            await asyncio.sleep(1.0)
