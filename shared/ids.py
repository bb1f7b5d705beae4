"""Time-ordered UUIDs (RFC 9562 version 7): index-friendly primary keys."""

from uuid import UUID

from uuid6 import uuid7


def new_id() -> UUID:
    return uuid7()
