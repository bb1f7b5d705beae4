from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.models import IdempotencyKey, table_of

idempotency_keys = table_of(IdempotencyKey)
_k = idempotency_keys.c


def replace_expired_record(now: str) -> str:
    """SQL that ends an `INSERT INTO booking.idempotency_keys AS k ...`: a key's expired record is replaced,
    an unexpired one kept (the insert then stores nothing). `now`: an SQL expression."""
    return f"""ON CONFLICT (person_id, key) DO UPDATE SET
            request_hash = excluded.request_hash, response_status = excluded.response_status,
            response_body = excluded.response_body, created_at = excluded.created_at, expires_at = excluded.expires_at
        WHERE k.expires_at <= {now}"""


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
