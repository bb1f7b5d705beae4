"""Dead letters: list failed deliveries and put them back in the queue (`learncity events`)."""

from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import audit
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


async def retry_failed(
    session: AsyncSession,
    tables: EventTables,
    *,
    audit_log: Table | None = None,
    actor: audit.Actor = audit.COMMAND_LINE,
) -> int:
    """Every failed delivery becomes pending again with a fresh attempt budget. An operator's act: with the
    service's `audit_log`, each delivery queued again is an entry (`event_delivery.retried`, entity: the
    event; never its payload), in the same transaction."""
    outbox = tables.outbox
    # The attempts spent, read beside the update (a row still failed once locked is queued again).
    failed = select(outbox.c.id, outbox.c.attempts).where(outbox.c.status == "failed").subquery()
    result = await session.execute(
        update(outbox)
        .where(outbox.c.id == failed.c.id, outbox.c.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=outbox.c.occurred_at)
        .returning(outbox.c.event_id, outbox.c.subscriber, outbox.c.type, failed.c.attempts)
    )
    retried = result.all()
    if audit_log is not None:
        await audit.record_many(
            session,
            audit_log,
            actor=actor,
            action="event_delivery.retried",
            entity_type="event_delivery",
            organization_id=None,
            states=[
                (
                    row.event_id,
                    {"status": "failed", "subscriber": row.subscriber, "type": row.type, "attempts": row.attempts},
                    {"status": "pending", "subscriber": row.subscriber, "type": row.type, "attempts": 0},
                )
                for row in retried
            ],
        )
    return len(retried)
