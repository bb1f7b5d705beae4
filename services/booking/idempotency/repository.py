from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.models import IdempotencyKey, table_of

idempotency_keys = table_of(IdempotencyKey)
_k = idempotency_keys.c


@dataclass(frozen=True, slots=True)
class Remembered:
    """A key's record: who, which key, the request's fingerprint and the response to replay."""

    person_id: UUID
    key: str
    request_hash: str
    status: int
    body: dict[str, Any]


def remember_statement(record: Remembered, now: datetime, ttl: timedelta) -> Insert:
    """Store the response of a key; an expired record of the same key is replaced."""
    values = {
        "request_hash": record.request_hash,
        "response_status": record.status,
        "response_body": record.body,
        "created_at": now,
        "expires_at": now + ttl,
    }
    return (
        insert(idempotency_keys)
        .values(person_id=record.person_id, key=record.key, **values)
        .on_conflict_do_update(index_elements=[_k.person_id, _k.key], set_=values, where=_k.expires_at <= now)
    )


class IdempotencyKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def remember(self, record: Remembered, now: datetime, ttl: timedelta) -> None:
        await self.session.execute(remember_statement(record, now, ttl))

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(idempotency_keys).where(_k.expires_at <= now).returning(_k.person_id)
        )
        return len(result.all())
