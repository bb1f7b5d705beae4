"""Dead letters: list failed deliveries and put them back in the queue (`learncity events`)."""

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.tables import EventTables


async def failed_deliveries(session: AsyncSession, tables: EventTables, limit: int = 100) -> list[Any]:
    outbox = tables.outbox
    statement = (
        select(outbox.c.event_id, outbox.c.subscriber, outbox.c.type, outbox.c.attempts, outbox.c.last_error)
        .where(outbox.c.status == "failed")
        .order_by(outbox.c.id)
        .limit(limit)
    )
    return list((await session.execute(statement)).all())


async def retry_failed(session: AsyncSession, tables: EventTables) -> int:
    """Every failed delivery becomes pending again with a fresh attempt budget."""
    outbox = tables.outbox
    result = await session.execute(
        update(outbox)
        .where(outbox.c.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=outbox.c.occurred_at)
        .returning(outbox.c.id)
    )
    return len(result.all())
