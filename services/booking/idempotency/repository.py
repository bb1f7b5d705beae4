from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete
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


class IdempotencyKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(idempotency_keys).where(_k.expires_at <= now).returning(_k.person_id)
        )
        return len(result.all())
