"""Abuse limits per person (not per address: a community centre's whole NAT must not be locked out):
`BOOKING_RATE_PER_MINUTE` booking requests in a fixed one-minute window and
`BOOKING_MAX_ACTIVE_PER_PERSON` active bookings; beyond them 429 with Retry-After."""

import math
from datetime import datetime, timedelta
from typing import Any

from shared.errors import TooManyRequests

RATE_WINDOW = timedelta(minutes=1)
# Active bookings end when sessions end or bookings are cancelled: no exact time to give; a minute.
ACTIVE_LIMIT_RETRY_AFTER_S = 60
# The `rule` a 429 problem names.
ACTIVE_LIMIT_RULE = "max_active_bookings"
NO_SHOW_RULE = "no_show_restriction"


def ensure_within_rate(requests: int, window_started_at: datetime, limit: int, now: datetime) -> None:
    if requests > limit:
        retry_after = math.ceil((window_started_at + RATE_WINDOW - now).total_seconds())
        raise TooManyRequests("Too many booking requests; slow down", retry_after_s=retry_after)


def ensure_below_active_limit(active: int, limit: int, restriction: Any = None) -> None:
    """`restriction`: the person's current no-show restriction (max_active, no_shows, restricted_until), or
    None. Beyond a restricted limit the 429 names the rule, so the person knows why and until when."""
    if restriction is not None and restriction.restricted_max_active is not None:
        restricted = min(limit, restriction.restricted_max_active)
        if active >= restricted:
            until: datetime = restriction.restricted_until
            raise TooManyRequests(
                f"You missed {restriction.no_shows} sessions you had booked without cancelling, so until "
                f"{until.isoformat()} you may hold at most {restricted} active bookings; cancel one first",
                retry_after_s=ACTIVE_LIMIT_RETRY_AFTER_S,
                extra={
                    "rule": NO_SHOW_RULE,
                    "max_active_bookings": restricted,
                    "no_shows": restriction.no_shows,
                    "restricted_until": until.isoformat(),
                },
            )
    if active >= limit:
        raise TooManyRequests(
            f"You hold {limit} active bookings, the most allowed; cancel one first",
            retry_after_s=ACTIVE_LIMIT_RETRY_AFTER_S,
            extra={"rule": ACTIVE_LIMIT_RULE, "max_active_bookings": limit},
        )
