"""Receiving events: each applied exactly once, in sequence order per aggregate, a batch per transaction.

A delivery (`POST /internal/v1/events`) carries up to MAX_EVENTS_PER_DELIVERY events and is applied in
one transaction, with set-based bookkeeping: the positions of all its aggregates are created and locked
in one sorted order (two subscriber replicas never deadlock, and a redelivery racing the first delivery
waits for it), seen ids are read in one statement, and the inbox rows and new positions are written in one
statement each. Each aggregate's events are applied in sequence order inside a SAVEPOINT: an event whose
handler raises is rolled back alone and reported `failed`, the later events of its aggregate `deferred`,
and every other event still commits.
"""

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Literal
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy import ARRAY, BigInteger, String, Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clients import InternalCaller
from shared.db import SessionDep
from shared.events.schemas import BatchReceipt, DeliveryOutcome, EventBatch, EventEnvelope, EventResult
from shared.events.tables import EventTables

logger = structlog.get_logger(__name__)

Outcome = Literal["applied", "duplicate", "stale", "ignored"]
Handler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]
ManyHandler = Callable[[AsyncSession, Sequence[EventEnvelope]], Awaitable[None]]
_Key = tuple[str, UUID]


@dataclass(frozen=True)
class SetHandler:
    """A handler that applies many events of its type in one go (set-based statements instead of one
    round trip per event). `apply_many(session, events)` must have the effect of applying `events` one by
    one in the order given (they come sorted by aggregate, then sequence). If it raises, the inbox retries
    those events one at a time (`apply_many` with one event each) to isolate the failing one.
    It is also a plain `Handler`."""

    apply_many: ManyHandler

    async def __call__(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        await self.apply_many(session, [envelope])


@dataclass
class _Stream:
    """One aggregate's events of a batch that are due to be handled, in sequence order."""

    events: list[EventEnvelope]
    failed_at: int | None = None
    error: str | None = None


class Inbox:
    def __init__(self, tables: EventTables, handlers: Mapping[str, Handler]) -> None:
        self._tables = tables
        self._handlers = handlers
        inbox, positions = tables.inbox.fullname, tables.positions.fullname
        keys = "unnest(:producers, :aggregates) AS k(producer, aggregate_id)"
        key_binds = (bindparam("producers", type_=ARRAY(String)), bindparam("aggregates", type_=ARRAY(Uuid)))
        # Input sorted by (producer, aggregate): new position rows are created in the same order everywhere.
        self._create_positions = text(
            f"""INSERT INTO {positions} (producer, aggregate_id, last_sequence)
            SELECT producer, aggregate_id, 0 FROM {keys} ORDER BY producer COLLATE "C", aggregate_id
            ON CONFLICT (producer, aggregate_id) DO NOTHING"""
        ).bindparams(*key_binds)
        self._lock_positions = (
            text(
                f"""SELECT p.producer, p.aggregate_id, p.last_sequence FROM {positions} AS p
                WHERE (p.producer, p.aggregate_id) IN (SELECT producer, aggregate_id FROM {keys})
                ORDER BY p.producer COLLATE "C", p.aggregate_id
                FOR UPDATE OF p"""
            )
            .bindparams(*key_binds)
            .columns(tables.positions.c.producer, tables.positions.c.aggregate_id, tables.positions.c.last_sequence)
        )
        self._seen = (
            text(f"SELECT event_id FROM {inbox} WHERE event_id = ANY(:ids)")
            .bindparams(bindparam("ids", type_=ARRAY(Uuid)))
            .columns(tables.inbox.c.event_id)
        )
        # The inbox rows of the events done, and the aggregates' new positions: one statement.
        self._record = text(
            f"""WITH recorded AS (
                INSERT INTO {inbox} (event_id, producer, type, outcome)
                SELECT * FROM unnest(:ids, :event_producers, :types, :outcomes)
                ON CONFLICT (event_id) DO NOTHING
            )
            UPDATE {positions} AS p SET last_sequence = k.last_sequence
            FROM unnest(:producers, :aggregates, :sequences) AS k(producer, aggregate_id, last_sequence)
            WHERE p.producer = k.producer AND p.aggregate_id = k.aggregate_id"""
        ).bindparams(
            *key_binds,
            bindparam("ids", type_=ARRAY(Uuid)),
            bindparam("event_producers", type_=ARRAY(String)),
            bindparam("types", type_=ARRAY(String)),
            bindparam("outcomes", type_=ARRAY(String)),
            bindparam("sequences", type_=ARRAY(BigInteger)),
        )

    async def accept(self, session: AsyncSession, envelope: EventEnvelope) -> Outcome:
        """Apply one event in the caller's transaction, recording it so a redelivery changes nothing.
        A handler's exception propagates (the caller's transaction is to be rolled back)."""
        result = (await self._accept(session, [envelope], isolate=False))[0]
        assert result.outcome in ("applied", "duplicate", "stale", "ignored")
        return result.outcome

    async def accept_batch(self, session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> list[EventResult]:
        """Apply `envelopes` in the caller's transaction; one result per envelope, in their order.

        Events carry whole snapshots, so one older than the last applied for its aggregate is skipped
        ("stale"): it is never applied over a newer one. A handler that raises fails its event alone
        (rolled back to a savepoint): "failed", and the later events of its aggregate "deferred"."""
        return await self._accept(session, envelopes, isolate=True)

    async def _accept(
        self, session: AsyncSession, envelopes: Sequence[EventEnvelope], *, isolate: bool
    ) -> list[EventResult]:
        unique: dict[UUID, EventEnvelope] = {}
        for envelope in envelopes:
            unique.setdefault(envelope.id, envelope)
        ordered = sorted(unique.values(), key=lambda e: (e.producer, e.aggregate_id, e.sequence))
        keys = sorted({(e.producer, e.aggregate_id) for e in ordered})
        key_params = {"producers": [p for p, _ in keys], "aggregates": [a for _, a in keys]}
        await session.execute(self._create_positions, key_params)
        locked = await session.execute(self._lock_positions, key_params)
        positions: dict[_Key, int] = {(row.producer, row.aggregate_id): row.last_sequence for row in locked}

        outcomes: dict[UUID, DeliveryOutcome] = {}
        errors: dict[UUID, str] = {}
        streams: dict[_Key, _Stream] = {}
        behind: list[UUID] = []
        for envelope in ordered:
            key = (envelope.producer, envelope.aggregate_id)
            if envelope.sequence <= positions[key]:
                behind.append(envelope.id)
            else:
                positions[key] = envelope.sequence
                streams.setdefault(key, _Stream([])).events.append(envelope)
        if behind:
            # An event in the inbox was applied (or skipped) with its aggregate's position moved to its
            # sequence or past it, so only an event behind its position can be a redelivery. Read with every
            # aggregate locked: a concurrent delivery of the same event has committed by now.
            seen = set((await session.execute(self._seen, {"ids": behind})).scalars())
            outcomes |= {event_id: "duplicate" if event_id in seen else "stale" for event_id in behind}
        await self._apply(session, streams, isolate=isolate)
        advanced: dict[_Key, int] = {}
        for key, stream in streams.items():
            for index, envelope in enumerate(stream.events):
                if stream.failed_at is None or index < stream.failed_at:
                    outcomes[envelope.id] = "applied" if envelope.type in self._handlers else "ignored"
                    advanced[key] = envelope.sequence
                elif index == stream.failed_at:
                    outcomes[envelope.id] = "failed"
                    errors[envelope.id] = stream.error or "failed"
                else:
                    outcomes[envelope.id] = "deferred"

        recorded = [e for e in ordered if outcomes[e.id] in ("applied", "ignored", "stale")]
        if recorded:
            moved = sorted(advanced.items())
            params = {
                "ids": [e.id for e in recorded],
                "event_producers": [e.producer for e in recorded],
                "types": [e.type for e in recorded],
                "outcomes": [outcomes[e.id] for e in recorded],
                "producers": [p for (p, _), _ in moved],
                "aggregates": [a for (_, a), _ in moved],
                "sequences": [s for _, s in moved],
            }
            await session.execute(self._record, params)
        results: list[EventResult] = []
        counted: set[UUID] = set()
        for envelope in envelopes:
            outcome = outcomes[envelope.id] if envelope.id not in counted else "duplicate"
            counted.add(envelope.id)
            results.append(
                EventResult.model_construct(event_id=envelope.id, outcome=outcome, error=errors.get(envelope.id))
            )
        return results

    async def _apply(self, session: AsyncSession, streams: Mapping[_Key, _Stream], *, isolate: bool) -> None:
        """Run the handlers. Aggregates whose events are all of one type with a `SetHandler` go in one
        call per type (one savepoint); if that raises, they are retried one event at a time."""
        together: dict[str, list[_Stream]] = defaultdict(list)
        alone: list[_Stream] = []
        for stream in streams.values():
            handled = {e.type for e in stream.events if e.type in self._handlers}
            if len(handled) == 1 and isolate:
                (event_type,) = handled
                if isinstance(self._handlers[event_type], SetHandler):
                    together[event_type].append(stream)
                    continue
            if handled:
                alone.append(stream)
        for event_type, group in together.items():
            handler = self._handlers[event_type]
            assert isinstance(handler, SetHandler)
            events = [e for stream in group for e in stream.events if e.type == event_type]
            if await self._attempt(session, partial(handler.apply_many, session, events)) is None:
                continue
            logger.info("event_batch_retried_one_by_one", type=event_type, events=len(events))
            alone.extend(group)
        for stream in alone:
            await self._apply_stream(session, stream, isolate=isolate)

    async def _apply_stream(self, session: AsyncSession, stream: _Stream, *, isolate: bool) -> None:
        for index, envelope in enumerate(stream.events):
            handler = self._handlers.get(envelope.type)
            if handler is None:
                continue
            if not isolate:
                await handler(session, envelope)
                continue
            error = await self._attempt(session, partial(handler, session, envelope))
            if error is not None:
                logger.warning(
                    "event_failed",
                    event_id=str(envelope.id),
                    type=envelope.type,
                    producer=envelope.producer,
                    aggregate_id=str(envelope.aggregate_id),
                    sequence=envelope.sequence,
                    error=error,
                )
                stream.failed_at, stream.error = index, error
                return

    @staticmethod
    async def _attempt(session: AsyncSession, apply: Callable[[], Awaitable[Any]]) -> str | None:
        """Run `apply` inside a savepoint; None if it succeeded, else why (and its effects are undone). If
        the savepoint itself cannot be rolled back, that propagates: the whole transaction is lost."""
        savepoint = await session.begin_nested()
        try:
            await apply()
        except Exception as exc:  # noqa: BLE001 - any handler failure fails its event, not the batch
            await savepoint.rollback()
            return f"{type(exc).__name__}: {exc}"[:1000]
        await savepoint.commit()
        return None


class Receipt(BaseModel):
    event_id: str
    outcome: Outcome


async def _inbox(request: Request) -> Inbox:
    inbox: Inbox = request.app.state.inbox
    return inbox


def inbox_router() -> APIRouter:
    """`POST /internal/v1/events`: where relays deliver. Service-to-service only (not routed publicly).

    The body is a batch (`{"events": [...]}`, answered with a result per event: a failed event does not
    fail the request), or a single envelope as relays sent before batches (answered with its outcome, or an
    error status if its handler fails)."""
    router = APIRouter(prefix="/internal/v1", tags=["internal"], dependencies=[InternalCaller], include_in_schema=False)

    @router.post("/events", response_model=None)
    async def receive_events(
        body: EventBatch | EventEnvelope, session: SessionDep, inbox: Annotated[Inbox, Depends(_inbox)]
    ) -> Response:
        if isinstance(body, EventEnvelope):
            receipt: BaseModel = Receipt(event_id=str(body.id), outcome=await inbox.accept(session, body))
        else:
            receipt = BatchReceipt.model_construct(results=await inbox.accept_batch(session, body.events))
        # Serialized once here (a result per event: no second validation of the response).
        return Response(receipt.model_dump_json(), media_type="application/json")

    return router
