"""Outbox, relay and inbox against real PostgreSQL: the catalog schema produces, the booking schema consumes."""

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select

from services.booking.models import event_tables as booking_tables
from services.catalog.models import event_tables as catalog_tables
from shared.db import Database, driver_url
from shared.events.outbox import Outbox
from shared.events.relay import Relay
from shared.events.schemas import AvailabilityChanged, EventEnvelope
from shared.ids import new_id
from tests.events.support import Consumer, KilledAfterDelivery, Switch, make_relay, snapshot


def _relay(database: Database, transport: Switch, **policy: Any) -> Relay:
    return make_relay(database, transport, **policy)


_snapshot = snapshot


outbox = Outbox(catalog_tables, producer="catalog", subscriptions={"booking": ["session.*"]})


async def _emit(database: Database, session_id: UUID, capacity: int = 10) -> None:
    async with database.sessionmaker.begin() as session:
        await outbox.emit(session, "session.updated", session_id, _snapshot(session_id, capacity))


async def _statuses(database: Database) -> Counter[str]:
    async with database.sessionmaker() as session:
        rows = await session.execute(select(catalog_tables.outbox.c.status))
        return Counter(status for (status,) in rows.all())


async def test_an_event_is_written_only_when_its_transaction_commits(database: Database) -> None:
    session_id = new_id()
    with pytest.raises(RuntimeError, match="business rule"):  # noqa: PT012 - the emit must be inside
        async with database.sessionmaker.begin() as session:
            await outbox.emit(session, "session.updated", session_id, _snapshot(session_id))
            raise RuntimeError("business rule failed after emitting")
    assert await _statuses(database) == Counter()
    await _emit(database, session_id)
    assert await _statuses(database) == Counter({"pending": 1})


async def test_sequences_increase_per_aggregate(database: Database) -> None:
    first, second = new_id(), new_id()
    for session_id in (first, second, first, first):
        await _emit(database, session_id)
    async with database.sessionmaker() as session:
        rows = await session.execute(
            select(catalog_tables.outbox.c.aggregate_id, catalog_tables.outbox.c.sequence).order_by(
                catalog_tables.outbox.c.id
            )
        )
        assert [(a, s) for a, s in rows.all()] == [(first, 1), (second, 1), (first, 2), (first, 3)]


async def test_types_without_subscribers_are_not_queued_and_payload_types_are_checked(database: Database) -> None:
    async with database.sessionmaker.begin() as session:
        availability = AvailabilityChanged(
            session_id=new_id(), capacity=1, confirmed_seats=0, seats_available=1, waitlist_length=0
        )
        await outbox.emit(session, "availability.changed", new_id(), availability)
        with pytest.raises(TypeError):
            await outbox.emit(session, "session.updated", new_id(), availability)
    assert await _statuses(database) == Counter()


async def test_delivery_survives_the_subscriber_being_down(database: Database, consumer: Consumer) -> None:
    transport = Switch(consumer.app)
    relay = _relay(database, transport)
    session_id = new_id()
    await _emit(database, session_id)
    transport.up = False
    for _ in range(3):
        await relay.run_once()
        await asyncio.sleep(0.01)
    assert await _statuses(database) == Counter({"pending": 1})
    transport.up = True
    await asyncio.sleep(0.01)
    await relay.run_once()
    assert await _statuses(database) == Counter({"delivered": 1})
    assert consumer.applied == [(session_id, 1)]


async def test_a_relay_killed_after_delivery_redelivers_and_the_inbox_ignores_it(
    database: Database, consumer: Consumer
) -> None:
    transport = Switch(consumer.app)
    relay = _relay(database, transport)
    session_id = new_id()
    await _emit(database, session_id)
    transport.die_after_delivery = True
    with pytest.raises(KilledAfterDelivery):
        await relay.run_once()
    assert await _statuses(database) == Counter({"pending": 1})  # the marking never committed
    transport.die_after_delivery = False
    await relay.run_once()
    assert transport.deliveries == 2
    assert await _statuses(database) == Counter({"delivered": 1})
    assert consumer.applied == [(session_id, 1)]  # applied once
    async with database.sessionmaker() as session:
        inbox_rows = (await session.execute(select(func.count()).select_from(booking_tables.inbox))).scalar_one()
    assert inbox_rows == 1


async def test_a_poison_event_ends_failed_while_others_flow(database: Database, consumer: Consumer) -> None:
    consumer.poison_capacity = 666
    relay = _relay(database, Switch(consumer.app), max_attempts=3)
    healthy = [new_id() for _ in range(3)]
    await _emit(database, new_id(), capacity=666)
    for session_id in healthy:
        await _emit(database, session_id)
    for _ in range(6):
        await relay.run_once()
        await asyncio.sleep(0.005)
    assert await _statuses(database) == Counter({"delivered": 3, "failed": 1})
    assert sorted(a for a, _ in consumer.applied) == sorted(healthy)
    async with database.sessionmaker() as session:
        failed = (
            await session.execute(
                select(catalog_tables.outbox.c.attempts, catalog_tables.outbox.c.last_error).where(
                    catalog_tables.outbox.c.status == "failed"
                )
            )
        ).one()
    assert failed.attempts == 3
    assert "RuntimeError: poison" in failed.last_error  # the handler's error, reported in the batch receipt


async def test_two_relays_at_once_never_double_deliver(database: Database, consumer: Consumer) -> None:
    transport = Switch(consumer.app)
    transport.delay_s = 0.01
    relays = [_relay(database, transport, batch_size=7) for _ in range(2)]
    for _ in range(40):
        await _emit(database, new_id())

    async def drain(relay: Relay) -> None:
        while await relay.run_once():
            pass

    await asyncio.gather(*(drain(relay) for relay in relays))
    assert await _statuses(database) == Counter({"delivered": 40})
    assert len(transport.sent) == len(set(transport.sent)) == 40
    assert all(count == 1 for count in consumer.received.values())


async def test_an_older_sequence_is_never_applied_over_a_newer_one(database: Database, consumer: Consumer) -> None:
    session_id = new_id()
    inbox = consumer.app.state.inbox

    def envelope(sequence: int) -> EventEnvelope:
        return EventEnvelope(
            id=new_id(),
            type="session.updated",
            producer="catalog",
            aggregate_id=session_id,
            sequence=sequence,
            occurred_at=datetime.now(UTC),
            payload=_snapshot(session_id, capacity=sequence).model_dump(mode="json"),
        )

    outcomes = []
    for sequence in (2, 1, 3, 3):
        async with database.sessionmaker.begin() as session:
            event = envelope(sequence)
            outcomes.append(await inbox.accept(session, event))
    assert outcomes == ["applied", "stale", "applied", "stale"]
    assert consumer.applied == [(session_id, 2), (session_id, 3)]


async def test_the_inbox_endpoint_requires_service_credentials(consumer: Consumer) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=consumer.app), base_url="http://b") as client:
        response = await client.post("/internal/v1/events", json={})
    assert response.status_code == 401


async def test_relay_wakes_on_notify_well_before_its_poll_interval(
    database: Database, consumer: Consumer, database_url: str
) -> None:
    relay = _relay(database, Switch(consumer.app), poll_interval_s=30.0)
    relay._listen_dsn = driver_url(database_url)
    task = asyncio.create_task(relay.run_forever())
    try:
        await asyncio.sleep(0.5)  # listening
        session_id = new_id()
        started = asyncio.get_running_loop().time()
        await _emit(database, session_id)
        while not consumer.applied:
            await asyncio.sleep(0.01)
            assert asyncio.get_running_loop().time() - started < 5, "not woken by NOTIFY"
    finally:
        task.cancel()
    assert consumer.applied == [(session_id, 1)]
