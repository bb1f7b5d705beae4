"""`Idempotency-Key` on POST /v1/bookings: a retried request gets the original answer, never a second booking.

A key is scoped to the person. While a request with a key runs, it holds a transaction-level advisory
lock on (person, key): a concurrent duplicate fails to take it and gets 409 at once. The response
(status and body) is stored in the booking's own transaction, so it exists exactly when the booking does;
the primary key (person, key) is the database's guarantee that a key stores one response. A request that
fails stores nothing, so a retry runs again. Records are kept `idempotency_ttl_s` (24 h); an expired
one is replaced on reuse and purged in the background. Only a created booking (201) is remembered.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared.errors import BadRequest, Conflict, Unprocessable

MAX_KEY_LENGTH = 255
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def require_key(value: str | None) -> str:
    if not value:
        raise BadRequest(f"The {HEADER} header is required (1..{MAX_KEY_LENGTH} characters)")
    if len(value) > MAX_KEY_LENGTH:
        raise BadRequest(f"The {HEADER} header is longer than {MAX_KEY_LENGTH} characters")
    return value


def request_fingerprint(body: dict[str, Any]) -> str:
    """SHA-256 of the request as parsed (defaults filled in), so `{}`-vs-`{"seats": 1}` are the same."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def lock_id(person_id: UUID, key: str) -> int:
    """The 64-bit advisory lock id of (person, key)."""
    digest = hashlib.blake2b(person_id.bytes + key.encode(), digest_size=8, person=b"booking-idem").digest()
    return int.from_bytes(digest, "big", signed=True)


class KeyInFlight(Conflict):
    def __init__(self) -> None:
        super().__init__("A request with this Idempotency-Key is still in progress; retry shortly")


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def replay(request_hash: str, stored_hash: str, status: int, body: dict[str, Any]) -> StoredResponse:
    if stored_hash != request_hash:
        raise Unprocessable(
            "This Idempotency-Key was used with a different request body", pointer="/header/Idempotency-Key"
        )
    return StoredResponse(status=status, body=body, replayed=True)
