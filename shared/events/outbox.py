"""Writing events: in the same transaction as the change that caused them."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.schemas import EVENT_PAYLOADS
from shared.events.tables import EventTables
from shared.ids import new_id


def notify_channel(producer: str) -> str:
    return f"learncity_outbox_{producer}"


class Outbox:
    def __init__(self, tables: EventTables, *, producer: str, subscriptions: Mapping[str, Sequence[str]]) -> None:
        """`subscriptions` maps each subscriber to the event type patterns it receives (`session.*`)."""
        self._tables = tables
        self._producer = producer
        self._subscriptions = subscriptions

    def subscribers_of(self, event_type: str) -> list[str]:
        return [
            subscriber
            for subscriber, patterns in self._subscriptions.items()
            if any(fnmatchcase(event_type, pattern) for pattern in patterns)
        ]

    async def emit(self, session: AsyncSession, event_type: str, aggregate_id: UUID, payload: BaseModel) -> UUID:
        """Record an event; it is delivered after, and only if, the surrounding transaction commits."""
        expected = EVENT_PAYLOADS.get(event_type)
        if expected is None or not isinstance(payload, expected):
            raise TypeError(f"{event_type} takes a {expected.__name__ if expected else '(unknown type)'} payload")
        sequences = self._tables.sequences
        # Upserting the counter row also serializes concurrent events of one aggregate.
        next_sequence = (
            pg_insert(sequences)
            .values(aggregate_id=aggregate_id, last_sequence=1)
            .on_conflict_do_update(
                index_elements=[sequences.c.aggregate_id], set_={"last_sequence": sequences.c.last_sequence + 1}
            )
            .returning(sequences.c.last_sequence)
        )
        sequence = (await session.execute(next_sequence)).scalar_one()
        event_id = new_id()
        subscribers = self.subscribers_of(event_type)
        if subscribers:
            occurred_at = datetime.now(UTC)
            body = payload.model_dump(mode="json")
            await session.execute(
                insert(self._tables.outbox),
                [
                    {
                        "id": new_id(),
                        "event_id": event_id,
                        "subscriber": subscriber,
                        "type": event_type,
                        "aggregate_id": aggregate_id,
                        "sequence": sequence,
                        "occurred_at": occurred_at,
                        "payload": body,
                    }
                    for subscriber in subscribers
                ],
            )
            # Delivered by PostgreSQL at commit, so the relay wakes at once instead of at its next poll.
            await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": notify_channel(self._producer)})
        return event_id


async def pending_count(session: AsyncSession, tables: EventTables) -> int:
    statement = select(func.count()).select_from(tables.outbox).where(tables.outbox.c.status == "pending")
    return int((await session.execute(statement)).scalar_one())
