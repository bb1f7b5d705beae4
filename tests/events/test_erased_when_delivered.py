"""Events whose payload names someone who asked to be forgotten (`EventType.erase_when_delivered`): the
producer's outbox keeps such a row only until that subscriber has it, then deletes it; other events stay
`delivered`. A dead letter keeps its payload, so a retry can still finish the erasure."""

from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import select

from services.orgs.models import event_tables as orgs_tables
from shared.db import Database
from shared.events.admin import retry_failed
from shared.events.outbox import Outbox
from shared.events.relay import Relay, RelayPolicy
from shared.events.schemas import ERASED_WHEN_DELIVERED_TYPES, PersonErased
from shared.ids import new_id
from tests.events.support import SECRET, Consumer, Switch, snapshot

SUBSCRIBERS = ("booking", "notify")
outbox = Outbox(
    orgs_tables,
    producer="orgs",
    subscriptions={"booking": ["person.erased", "session.updated"], "notify": ["person.erased"]},
)


class _BySubscriber(httpx.AsyncBaseTransport):
    """Each subscriber's deliveries through its own switch (all to the one consumer app)."""

    def __init__(self, switches: dict[str, Switch]) -> None:
        self.switches = switches

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.switches[request.url.host.removesuffix(".internal")].handle_async_request(request)


def _relay(database: Database, consumer: Consumer, **policy: Any) -> tuple[Relay, dict[str, Switch]]:
    switches = {subscriber: Switch(consumer.app) for subscriber in SUBSCRIBERS}
    relay = Relay(
        database=database,
        tables=orgs_tables,
        producer="orgs",
        subscriber_urls={subscriber: f"http://{subscriber}.internal" for subscriber in SUBSCRIBERS},
        http=httpx.AsyncClient(transport=_BySubscriber(switches)),
        internal_secret=SECRET,
        listen_dsn=None,
        policy=RelayPolicy(**({"backoff_base_s": 0.001, "backoff_cap_s": 0.001} | policy)),
    )
    return relay, switches


async def _erasure(database: Database) -> UUID:
    erasure_id = new_id()
    async with database.sessionmaker.begin() as session:
        payload = PersonErased(erasure_id=erasure_id, person_id=new_id())
        await outbox.emit(session, "person.erased", erasure_id, payload)
    return erasure_id


async def _rows(database: Database) -> list[Any]:
    table = orgs_tables.outbox
    async with database.sessionmaker() as session:
        return list((await session.execute(select(table).order_by(table.c.subscriber, table.c.id))).all())


def test_only_erasures_and_invitation_tokens_are_erased_when_delivered() -> None:
    assert frozenset({"person.erased", "invitation.created"}) == ERASED_WHEN_DELIVERED_TYPES


async def test_a_delivered_erasure_is_deleted_and_other_events_stay_delivered(
    database: Database, consumer: Consumer
) -> None:
    await _erasure(database)
    session_id = new_id()
    async with database.sessionmaker.begin() as session:
        await outbox.emit(session, "session.updated", session_id, snapshot(session_id))
    relay, switches = _relay(database, consumer)
    assert await relay.run_once() == 3
    assert [(row.subscriber, row.type, row.status) for row in await _rows(database)] == [
        ("booking", "session.updated", "delivered")
    ]
    assert all(len(switch.sent) == 1 + (name == "booking") for name, switch in switches.items())


async def test_an_erasure_stays_until_every_subscriber_has_it(database: Database, consumer: Consumer) -> None:
    erasure_id = await _erasure(database)
    relay, switches = _relay(database, consumer)
    switches["notify"].up = False
    await relay.run_once()
    (waiting,) = await _rows(database)
    assert (waiting.subscriber, waiting.status, waiting.attempts) == ("notify", "pending", 1)
    assert waiting.payload["erasure_id"] == str(erasure_id)  # still there to be sent
    switches["notify"].up = True
    assert await relay.run_once() == 1
    assert await _rows(database) == []


async def test_a_dead_lettered_erasure_keeps_its_payload_until_a_retry_delivers_it(
    database: Database, consumer: Consumer
) -> None:
    erasure_id = await _erasure(database)
    relay, switches = _relay(database, consumer, max_attempts=1)
    switches["notify"].up = False
    await relay.run_once()
    (dead,) = await _rows(database)
    assert (dead.subscriber, dead.status) == ("notify", "failed")
    assert dead.payload["erasure_id"] == str(erasure_id) and dead.last_error
    assert await relay.run_once() == 0  # a dead letter waits for an operator
    switches["notify"].up = True
    async with database.sessionmaker.begin() as session:
        assert await retry_failed(session, orgs_tables) == 1
    assert await relay.run_once() == 1
    assert await _rows(database) == []
    assert switches["notify"].sent == [dead.event_id]
