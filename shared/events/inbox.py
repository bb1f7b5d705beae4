"""Receiving events: each applied exactly once, in sequence order per aggregate."""

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clients import InternalCaller
from shared.db import SessionDep
from shared.events.schemas import EventEnvelope
from shared.events.tables import EventTables

Outcome = Literal["applied", "duplicate", "stale", "ignored"]
Handler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]


class Inbox:
    def __init__(self, tables: EventTables, handlers: Mapping[str, Handler]) -> None:
        self._tables = tables
        self._handlers = handlers

    async def accept(self, session: AsyncSession, envelope: EventEnvelope) -> Outcome:
        """Apply `envelope` in the caller's transaction, recording it so a redelivery changes nothing.

        Events carry whole snapshots, so one older than the last applied for its aggregate is skipped
        ("stale"): it is never applied over a newer one.
        """
        inbox, positions = self._tables.inbox, self._tables.positions
        recorded = await session.execute(
            insert(inbox)
            .values(event_id=envelope.id, producer=envelope.producer, type=envelope.type, outcome="applied")
            .on_conflict_do_nothing(index_elements=[inbox.c.event_id])
            .returning(inbox.c.event_id)
        )
        if recorded.first() is None:
            return "duplicate"
        await session.execute(
            insert(positions)
            .values(producer=envelope.producer, aggregate_id=envelope.aggregate_id, last_sequence=0)
            .on_conflict_do_nothing(index_elements=[positions.c.producer, positions.c.aggregate_id])
        )
        position = positions.c.producer == envelope.producer, positions.c.aggregate_id == envelope.aggregate_id
        last_sequence = (
            await session.execute(select(positions.c.last_sequence).where(*position).with_for_update())
        ).scalar_one()
        outcome: Outcome
        if envelope.sequence <= last_sequence:
            outcome = "stale"
        else:
            handler = self._handlers.get(envelope.type)
            outcome = "ignored" if handler is None else "applied"
            if handler is not None:
                await handler(session, envelope)
            await session.execute(update(positions).where(*position).values(last_sequence=envelope.sequence))
        if outcome != "applied":
            await session.execute(update(inbox).where(inbox.c.event_id == envelope.id).values(outcome=outcome))
        return outcome


class Receipt(BaseModel):
    event_id: str
    outcome: Outcome


async def _inbox(request: Request) -> Inbox:
    inbox: Inbox = request.app.state.inbox
    return inbox


def inbox_router() -> APIRouter:
    """`POST /internal/v1/events`: where relays deliver. Service-to-service only (not routed publicly)."""
    router = APIRouter(prefix="/internal/v1", tags=["internal"], dependencies=[InternalCaller], include_in_schema=False)

    @router.post("/events")
    async def receive_event(
        envelope: EventEnvelope, session: SessionDep, inbox: Annotated[Inbox, Depends(_inbox)]
    ) -> Receipt:
        return Receipt(event_id=str(envelope.id), outcome=await inbox.accept(session, envelope))

    return router
