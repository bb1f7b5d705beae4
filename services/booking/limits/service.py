"""Abuse limits per person (not per address: a community centre's whole NAT must not be locked out):
`BOOKING_RATE_PER_MINUTE` booking requests in a fixed one-minute window and
`BOOKING_MAX_ACTIVE_PER_PERSON` active bookings; beyond them 429 with Retry-After."""

import math
from datetime import datetime, timedelta
from uuid import UUID

from services.booking.limits.repository import RateWindowRepository
from shared.db import Database
from shared.errors import TooManyRequests

RATE_WINDOW = timedelta(minutes=1)
# Active bookings end when sessions end or bookings are cancelled: no exact time to give; a minute.
ACTIVE_LIMIT_RETRY_AFTER_S = 60


def ensure_within_rate(requests: int, window_started_at: datetime, limit: int, now: datetime) -> None:
    if requests > limit:
        retry_after = math.ceil((window_started_at + RATE_WINDOW - now).total_seconds())
        raise TooManyRequests("Too many booking requests; slow down", retry_after_s=retry_after)


async def count_failed_request(database: Database, person_id: UUID, now: datetime) -> None:
    """A request that failed rolled its count back with its transaction: count it on its own."""
    async with database.separate_transaction() as session:
        await RateWindowRepository(session).count_request(person_id, now, RATE_WINDOW)


def ensure_below_active_limit(active: int, limit: int) -> None:
    if active >= limit:
        raise TooManyRequests(
            f"You hold {limit} active bookings, the most allowed; cancel one first",
            retry_after_s=ACTIVE_LIMIT_RETRY_AFTER_S,
        )
