"""Events in batches: one request and one subscriber transaction for many events, each applied exactly
once and in order per aggregate; a failing event fails alone; snapshot events coalesce at the relay."""

import asyncio
import contextlib
import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import select, text

from services.booking.models import event_tables as booking_tables
from services.catalog.models import event_tables as catalog_tables
from shared.db import Database
from shared.events.outbox import Outbox
from shared.events.relay import Relay, RelayPolicy
from shared.events.schemas import (
    COALESCIBLE_TYPES,
    MAX_EVENTS_PER_DELIVERY,
    BookingChanged,
    EventEnvelope,
)
from shared.ids import new_id
from tests.events.support import SECRET, Consumer, Switch, figures, make_relay, snapshot

outbox = Outbox(
    catalog_tables,
    producer="catalog",
    subscriptions={"booking": ["session.*", "availability.changed", "booking.*"]},
)
HEADERS = {"X-Learncity-Internal": SECRET}


async def _emit(database: Database, event_type: str, aggregate_id: UUID, payload: BaseModel) -> UUID:
    async with database.sessionmaker.begin() as session:
        return await outbox.emit(session, event_type, aggregate_id, payload)


async def _session_updated(database: Database, session_id: UUID, capacity: int = 10) -> UUID:
    return await _emit(database, "session.updated", session_id, snapshot(session_id, capacity))


async def _availability(database: Database, session_id: UUID, confirmed: int) -> UUID:
    return await _emit(database, "availability.changed", session_id, figures(session_id, confirmed))


async def _rows(database: Database) -> dict[UUID, Any]:
    """Outbox rows by event id."""
    async with database.sessionmaker() as session:
        rows = await session.execute(select(catalog_tables.outbox))
        return {row.event_id: row for row in rows.all()}


def _envelope(session_id: UUID, sequence: int, capacity: int = 10) -> EventEnvelope:
    return EventEnvelope(
        id=new_id(),
        type="session.updated",
        producer="catalog",
        aggregate_id=session_id,
        sequence=sequence,
        occurred_at=datetime.now(UTC),
        payload=snapshot(session_id, capacity).model_dump(mode="json"),
    )


async def _post(consumer: Consumer, envelopes: list[EventEnvelope]) -> dict[UUID, str]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=consumer.app), base_url="http://b") as client:
        response = await client.post(
            "/internal/v1/events",
            json={"events": [e.model_dump(mode="json") for e in envelopes]},
            headers=HEADERS,
        )
    assert response.status_code == 200, response.text
    return {UUID(result["event_id"]): result["outcome"] for result in response.json()["results"]}


async def test_a_batch_travels_in_one_request_and_is_applied_in_one_transaction(
    database: Database, consumer: Consumer
) -> None:
    transport = Switch(consumer.app)
    relay = make_relay(database, transport)
    sessions = [new_id() for _ in range(5)]
    for session_id in sessions * 3:
        await _session_updated(database, session_id)
    assert await relay.run_once() == 15
    assert transport.deliveries == 1
    assert len(transport.batches[0]) == 15
    assert len(consumer.applied) == 15
    assert len(set(consumer.transactions.values())) == 1  # one subscriber transaction for the batch
    assert {row.status for row in (await _rows(database)).values()} == {"delivered"}


async def test_a_delivery_batch_setting_splits_a_claim_into_requests(database: Database, consumer: Consumer) -> None:
    transport = Switch(consumer.app)
    relay = make_relay(database, transport, delivery_batch=4)
    for _ in range(10):
        await _session_updated(database, new_id())
    assert await relay.run_once() == 10
    assert [len(batch) for batch in transport.batches] == [4, 4, 2]
    assert len(consumer.applied) == 10


async def test_requests_stay_under_the_body_size_limit(database: Database, consumer: Consumer) -> None:
    transport = Switch(consumer.app)
    relay = make_relay(database, transport, delivery_max_bytes=2000)
    for _ in range(12):
        await _session_updated(database, new_id())
    assert await relay.run_once() == 12
    assert transport.deliveries > 1
    assert max(transport.body_sizes) <= 2000
    assert len(consumer.applied) == 12


async def test_redelivered_and_overlapping_batches_apply_each_event_once(consumer: Consumer) -> None:
    first, second = new_id(), new_id()
    events = [_envelope(first, sequence) for sequence in range(1, 6)] + [_envelope(second, 1)]
    outcomes = await _post(consumer, events[:4])
    assert set(outcomes.values()) == {"applied"}
    assert set((await _post(consumer, events[:4])).values()) == {"duplicate"}  # the same batch again
    overlapping = await _post(consumer, events[2:])  # two seen, two new
    assert [overlapping[e.id] for e in events[2:]] == ["duplicate", "duplicate", "applied", "applied"]
    assert all(count == 1 for count in consumer.received.values())
    assert consumer.applied_of(first) == [1, 2, 3, 4, 5]
    assert consumer.applied_of(second) == [1]
    async with consumer.app.state.database.sessionmaker() as session:
        recorded = await session.execute(select(booking_tables.inbox.c.event_id, booking_tables.inbox.c.outcome))
        assert dict(recorded.all()) == {e.id: "applied" for e in events}


async def test_an_event_repeated_within_one_batch_is_applied_once(consumer: Consumer) -> None:
    event = _envelope(new_id(), 1)
    outcomes = await _post_results(consumer, [event, event])
    assert outcomes == ["applied", "duplicate"]
    assert consumer.received[event.id] == 1


async def _post_results(consumer: Consumer, envelopes: list[EventEnvelope]) -> list[str]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=consumer.app), base_url="http://b") as client:
        response = await client.post(
            "/internal/v1/events",
            json={"events": [e.model_dump(mode="json") for e in envelopes]},
            headers=HEADERS,
        )
    assert response.status_code == 200, response.text
    return [result["outcome"] for result in response.json()["results"]]


async def test_order_per_aggregate_holds_whatever_order_a_batch_comes_in(consumer: Consumer) -> None:
    aggregates = [new_id() for _ in range(4)]
    events = [_envelope(aggregate, sequence) for sequence in range(1, 6) for aggregate in aggregates]
    random.Random(7).shuffle(events)
    outcomes = await _post(consumer, events)
    # Sorted by (aggregate, sequence) before applying: none is skipped as older than one applied before it.
    assert set(outcomes.values()) == {"applied"}
    for aggregate in aggregates:
        assert consumer.applied_of(aggregate) == [1, 2, 3, 4, 5]


async def test_interleaved_aggregates_through_the_relay_apply_in_order(database: Database, consumer: Consumer) -> None:
    aggregates = [new_id() for _ in range(3)]
    for _ in range(4):
        for aggregate in aggregates:
            await _session_updated(database, aggregate)
    relay = make_relay(database, Switch(consumer.app), delivery_batch=5)
    while await relay.run_once():
        pass
    for aggregate in aggregates:
        assert consumer.applied_of(aggregate) == [1, 2, 3, 4]


async def test_a_poison_event_fails_alone_and_its_aggregates_later_events_wait_uncharged(
    database: Database, consumer: Consumer
) -> None:
    consumer.poison_capacity = 666
    transport = Switch(consumer.app)
    relay = make_relay(database, transport, backoff_base_s=60, backoff_cap_s=60)
    poisoned, healthy = new_id(), new_id()
    before = await _session_updated(database, poisoned)
    poison = await _session_updated(database, poisoned, capacity=666)
    after = await _session_updated(database, poisoned)
    neighbours = [await _session_updated(database, healthy) for _ in range(2)]
    assert await relay.run_once() == 5
    assert transport.deliveries == 1
    rows = await _rows(database)
    assert {e: rows[e].status for e in (before, *neighbours)} == dict.fromkeys((before, *neighbours), "delivered")
    assert (rows[poison].status, rows[poison].attempts) == ("pending", 1)
    assert "RuntimeError: poison" in rows[poison].last_error
    assert rows[poison].next_attempt_at > datetime.now(UTC)  # backing off
    assert (rows[after].status, rows[after].attempts, rows[after].last_error) == ("pending", 0, None)
    assert consumer.applied_of(poisoned) == [1]
    assert consumer.applied_of(healthy) == [1, 2]
    assert consumer.received[after] == 0  # never handed to the handler
    async with database.sessionmaker() as session:
        inbox = await session.execute(select(booking_tables.inbox.c.event_id))
        assert set(inbox.scalars()) == {before, *neighbours}  # nothing recorded for the failed or waiting


async def test_a_poison_event_among_set_based_ones_fails_alone(database: Database, consumer: Consumer) -> None:
    consumer.poison_capacity = 13
    relay = make_relay(database, Switch(consumer.app), backoff_base_s=60, backoff_cap_s=60)
    sessions = [new_id() for _ in range(4)]
    events = {
        session_id: await _availability(database, session_id, 13 if i == 2 else 1)
        for i, session_id in enumerate(sessions)
    }
    await relay.run_once()
    rows = await _rows(database)
    assert [rows[events[s]].status for s in sessions] == ["delivered", "delivered", "pending", "delivered"]
    assert rows[events[sessions[2]]].attempts == 1
    # Tried together (one call), then one by one to find the failing one.
    assert consumer.set_calls == [4, 1, 1, 1, 1]
    assert sorted(a for a, _ in consumer.applied) == sorted(s for i, s in enumerate(sessions) if i != 2)


async def test_a_subscriber_down_charges_every_row_of_the_request(database: Database, consumer: Consumer) -> None:
    transport = Switch(consumer.app)
    relay = make_relay(database, transport, backoff_base_s=60, backoff_cap_s=60)
    aggregate = new_id()
    events = [await _session_updated(database, aggregate) for _ in range(3)]
    events.append(await _session_updated(database, new_id()))
    transport.up = False
    assert await relay.run_once() == 4
    rows = await _rows(database)
    assert {(rows[e].status, rows[e].attempts) for e in events} == {("pending", 1)}
    assert all("subscriber down" in rows[e].last_error for e in events)
    assert await relay.run_once() == 0  # all backing off


async def test_only_the_newest_snapshot_travels_and_older_ones_are_marked_delivered(
    database: Database, consumer: Consumer
) -> None:
    transport = Switch(consumer.app)
    relay = make_relay(database, transport)
    first, second = new_id(), new_id()
    first_events = [await _availability(database, first, confirmed) for confirmed in range(5)]
    second_events = [await _availability(database, second, confirmed) for confirmed in range(2)]
    assert await relay.run_once() == 7
    assert sorted(transport.sent) == sorted([first_events[-1], second_events[-1]])
    assert consumer.applied_of(first) == [5]
    assert consumer.applied_of(second) == [2]
    assert {row.status for row in (await _rows(database)).values()} == {"delivered"}


async def test_coalescing_takes_the_streams_rows_beyond_the_claim(database: Database, consumer: Consumer) -> None:
    transport = Switch(consumer.app)
    relay = make_relay(database, transport, batch_size=2)
    session_id = new_id()
    events = [await _availability(database, session_id, confirmed) for confirmed in range(6)]
    assert await relay.run_once() == 2  # claims two rows, but the stream's four others come along
    assert transport.sent == [events[-1]]
    assert {row.status for row in (await _rows(database)).values()} == {"delivered"}
    assert await relay.run_once() == 0


async def test_a_newer_snapshot_supersedes_one_waiting_out_its_backoff(database: Database, consumer: Consumer) -> None:
    consumer.poison_capacity = 7
    transport = Switch(consumer.app)
    relay = make_relay(database, transport, backoff_base_s=60, backoff_cap_s=60)
    session_id = new_id()
    poison = await _availability(database, session_id, 7)
    await relay.run_once()
    assert (await _rows(database))[poison].attempts == 1
    newer = await _availability(database, session_id, 8)
    await relay.run_once()
    rows = await _rows(database)
    assert rows[newer].status == rows[poison].status == "delivered"
    assert consumer.applied_of(session_id) == [2]


async def test_session_and_booking_events_are_never_coalesced(database: Database, consumer: Consumer) -> None:
    assert frozenset({"availability.changed", "site.changed"}) == COALESCIBLE_TYPES
    transport = Switch(consumer.app)
    relay = make_relay(database, transport)
    session_id, booking_id = new_id(), new_id()
    session_events = [await _session_updated(database, session_id, capacity) for capacity in (10, 11, 12)]
    booking = BookingChanged(
        booking_id=booking_id, session_id=session_id, person_id=new_id(), organization_id=None, seats=1, status="x"
    )
    booking_events = [
        await _emit(database, f"booking.{kind}", booking_id, booking)
        for kind in ("waitlisted", "confirmed", "cancelled")
    ]
    assert await relay.run_once() == 6
    assert sorted(transport.sent) == sorted(session_events + booking_events)
    assert consumer.applied_of(session_id) == [1, 2, 3]
    assert {row.status for row in (await _rows(database)).values()} == {"delivered"}


async def test_two_relays_racing_deliver_each_row_once(database: Database, consumer: Consumer) -> None:
    transport = Switch(consumer.app)
    transport.delay_s = 0.005
    relays = [make_relay(database, transport, batch_size=7, delivery_batch=3) for _ in range(2)]
    plain = [new_id() for _ in range(6)]
    snapshots = [new_id() for _ in range(4)]
    emitted: list[UUID] = []
    for round_ in range(4):
        emitted += [await _session_updated(database, aggregate) for aggregate in plain]
        emitted += [await _availability(database, aggregate, round_) for aggregate in snapshots]

    async def drain(relay: Relay) -> None:
        while await relay.run_once():
            pass

    await asyncio.gather(*(drain(relay) for relay in relays))
    rows = await _rows(database)
    assert Counter(row.status for row in rows.values()) == Counter({"delivered": len(emitted)})
    assert len(transport.sent) == len(set(transport.sent))  # no row travelled twice
    assert all(count == 1 for count in consumer.received.values())
    # Across relays an older event may arrive after a newer one (it is then skipped as stale): what holds
    # is that no aggregate ever goes back, and its newest event is applied.
    for aggregate in plain + snapshots:
        applied = consumer.applied_of(aggregate)
        assert applied == sorted(set(applied))
        assert applied[-1] == 4


async def test_concurrent_batches_over_the_same_aggregates_do_not_deadlock(
    database: Database, consumer: Consumer
) -> None:
    consumer.slow_s = 0.001
    aggregates = [new_id() for _ in range(20)]
    for round_ in range(1, 4):
        batches = [[_envelope(a, round_ * 2 - 1 + i) for a in aggregates] for i in range(2)]
        batches[1].reverse()

        async def deliver(events: list[EventEnvelope]) -> None:
            async with database.sessionmaker.begin() as session:
                await consumer.inbox.accept_batch(session, events)

        await asyncio.gather(*(deliver(batch) for batch in batches))
    async with database.sessionmaker() as session:
        positions = await session.execute(
            select(booking_tables.positions.c.last_sequence).where(
                booking_tables.positions.c.aggregate_id.in_(aggregates)
            )
        )
        assert set(positions.scalars()) == {6}


async def test_the_single_envelope_body_still_works(consumer: Consumer) -> None:
    event = _envelope(new_id(), 1)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=consumer.app), base_url="http://b") as client:
        response = await client.post("/internal/v1/events", json=event.model_dump(mode="json"), headers=HEADERS)
        again = await client.post("/internal/v1/events", json=event.model_dump(mode="json"), headers=HEADERS)
    assert response.json() == {"event_id": str(event.id), "outcome": "applied"}
    assert again.json()["outcome"] == "duplicate"


@pytest.mark.parametrize("count", [0, MAX_EVENTS_PER_DELIVERY + 1])
async def test_a_batch_is_bounded(consumer: Consumer, count: int) -> None:
    event = _envelope(new_id(), 1).model_dump(mode="json")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=consumer.app), base_url="http://b") as client:
        response = await client.post("/internal/v1/events", json={"events": [event] * count}, headers=HEADERS)
    assert response.status_code == 422


async def test_the_transaction_of_a_batch_is_one(consumer: Consumer) -> None:
    """The inbox rows of one batch share the transaction's start time (`received_at` is `now()`)."""
    await _post(consumer, [_envelope(new_id(), 1) for _ in range(5)])
    async with consumer.app.state.database.sessionmaker() as session:
        times = await session.execute(text("SELECT DISTINCT received_at FROM booking.inbox"))
        assert len(times.all()) == 1


async def test_after_a_round_that_found_events_the_relay_looks_again_unwoken(
    database: Database, consumer: Consumer
) -> None:
    """Producers under load skip their NOTIFY while events are due (the booking hot path does): an event
    committed while the relay delivers must go with its next round, not wait for the poll fallback."""
    transport = Switch(consumer.app)
    transport.delay_s = 0.3  # the first round is still delivering when the second event commits
    relay = make_relay(database, transport, poll_interval_s=30.0, linger_s=0.05)  # never woken: no listener
    first = await _availability(database, new_id(), 1)
    running = asyncio.create_task(relay.run_forever())
    try:
        await asyncio.sleep(0.1)
        second = await _session_updated(database, new_id())
        deadline = asyncio.get_running_loop().time() + 5
        while (await _rows(database))[second].status != "delivered":
            assert asyncio.get_running_loop().time() < deadline, "the second event waited for the poll"
            await asyncio.sleep(0.05)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert (await _rows(database))[first].status == "delivered"


class _Stalled(httpx.AsyncBaseTransport):
    """Requests to `stalled_host` hang until `release` is set; the rest go to the subscriber."""

    def __init__(self, inner: httpx.AsyncBaseTransport, stalled_host: str) -> None:
        self.inner, self.stalled_host = inner, stalled_host
        self.release = asyncio.Event()
        self.stalled = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == self.stalled_host:
            self.stalled += 1
            await self.release.wait()
        return await self.inner.handle_async_request(request)


async def _pending_by_lane(database: Database) -> dict[str, int]:
    async with database.sessionmaker() as session:
        pending = await session.execute(
            text("SELECT subscriber, count(*) FROM catalog.outbox WHERE status = 'pending' GROUP BY subscriber")
        )
        return {subscriber: int(count) for subscriber, count in pending.all()}


async def test_a_stalled_subscriber_never_holds_up_another(database: Database, consumer: Consumer) -> None:
    """Each subscriber has a lane of its own: while one subscriber does not answer, the other still gets
    every event at once (notify mailing a festival's bookings never delays the catalog's seat figures)."""
    both = Outbox(catalog_tables, producer="catalog", subscriptions={"booking": ["*"], "notify": ["*"]})
    transport = _Stalled(httpx.ASGITransport(app=consumer.app), "notify.internal")
    relay = Relay(
        database=database,
        tables=catalog_tables,
        producer="catalog",
        subscriber_urls={"booking": "http://booking.internal", "notify": "http://notify.internal"},
        http=httpx.AsyncClient(transport=transport),
        internal_secret=SECRET,
        listen_dsn=None,
        policy=RelayPolicy(batch_size=10, poll_interval_s=0.05, linger_s=0.0),
    )
    sessions = [new_id() for _ in range(25)]
    async with database.sessionmaker.begin() as session:
        for session_id in sessions:
            await both.emit(session, "session.updated", session_id, snapshot(session_id))
    lanes = asyncio.create_task(relay.run_forever())
    try:
        deadline = asyncio.get_running_loop().time() + 10
        # Booking's lane delivers (the consumer applies) and marks its rows delivered (right after the answer).
        while any(not consumer.applied_of(session_id) for session_id in sessions) or await _pending_by_lane(
            database
        ) != {"notify": 25}:
            assert asyncio.get_running_loop().time() < deadline, "booking's events waited for notify's"
            await asyncio.sleep(0.02)
        assert transport.stalled == 1  # notify's first batch still hangs
        transport.release.set()
        deadline = asyncio.get_running_loop().time() + 10
        while await _pending(database):
            assert asyncio.get_running_loop().time() < deadline, "notify's events were not delivered once released"
            await asyncio.sleep(0.02)
    finally:
        transport.release.set()
        lanes.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lanes


async def _pending(database: Database) -> int:
    async with database.sessionmaker() as session:
        count = await session.scalar(text("SELECT count(*) FROM catalog.outbox WHERE status = 'pending'"))
        return int(count or 0)
