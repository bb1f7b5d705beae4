"""A session's times and booking window, and the rules they obey (checked here with a pointer to the
offending field; the same rules are CHECK constraints in the database)."""

from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta

from shared.errors import Unprocessable

MAX_DURATION = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class SessionTimes:
    starts_at: datetime
    ends_at: datetime
    booking_opens_at: datetime | None = None
    booking_closes_at: datetime | None = None

    def __post_init__(self) -> None:
        # Always UTC, whatever offset the client wrote: stored, compared and answered alike.
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None:
                object.__setattr__(self, field.name, value.astimezone(UTC))

    def require_consistent(self) -> None:
        if self.ends_at <= self.starts_at:
            raise Unprocessable("ends_at must be after starts_at", pointer="/body/ends_at")
        if self.ends_at - self.starts_at > MAX_DURATION:
            raise Unprocessable("A session may last at most 366 days", pointer="/body/ends_at")
        opens, closes = self.booking_opens_at, self.booking_closes_at
        if opens is not None and opens >= self.ends_at:
            raise Unprocessable("booking_opens_at must be before ends_at", pointer="/body/booking_opens_at")
        if closes is not None and closes > self.ends_at:
            raise Unprocessable("booking_closes_at must not be after ends_at", pointer="/body/booking_closes_at")
        if opens is not None and closes is not None and opens >= closes:
            raise Unprocessable("booking_closes_at must be after booking_opens_at", pointer="/body/booking_closes_at")

    def moved_to(self, starts_at: datetime) -> "SessionTimes":
        """The same duration and booking window offsets, starting at `starts_at`."""
        shift = starts_at - self.starts_at
        return replace(
            self,
            starts_at=starts_at,
            ends_at=self.ends_at + shift,
            booking_opens_at=None if self.booking_opens_at is None else self.booking_opens_at + shift,
            booking_closes_at=None if self.booking_closes_at is None else self.booking_closes_at + shift,
        )
