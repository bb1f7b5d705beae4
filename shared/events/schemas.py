"""The event envelope and every event's typed payload: the one definition both sides share."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

SessionStatus = Literal["scheduled", "cancelled"]


class EventEnvelope(BaseModel):
    """What travels from a producer's outbox to a subscriber's inbox."""

    model_config = ConfigDict(extra="forbid")

    id: UUID = Field(description="Event id: the same on every redelivery (the inbox key)")
    type: str = Field(max_length=100)
    producer: str = Field(max_length=50)
    aggregate_id: UUID
    sequence: int = Field(ge=1, description="Increases by one per event of this producer's aggregate")
    occurred_at: datetime
    payload: dict[str, Any]


# The most events one `POST /internal/v1/events` may carry (the relay's `<P>_RELAY_DELIVERY_BATCH` is capped
# to it); the body also stays under the subscriber's `<P>_MAX_BODY_BYTES`.
MAX_EVENTS_PER_DELIVERY = 1000

# What became of one event of a delivery. Done (the relay marks it delivered): applied; duplicate (its id
# is in the inbox: a redelivery); stale (an event of its aggregate with a later sequence was applied
# before); ignored (no handler for its type). Not done: failed (its handler raised; the relay charges it an
# attempt); deferred (an earlier event of its aggregate failed in this delivery: it waits its turn, and is
# not charged).
DeliveryOutcome = Literal["applied", "duplicate", "stale", "ignored", "failed", "deferred"]
DONE_OUTCOMES: frozenset[str] = frozenset({"applied", "duplicate", "stale", "ignored"})


class EventBatch(BaseModel):
    """The body of `POST /internal/v1/events`: due events, sorted by (aggregate, sequence) by the relay
    (the inbox sorts them again, so order is never a sender's promise)."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventEnvelope] = Field(min_length=1, max_length=MAX_EVENTS_PER_DELIVERY)


class EventResult(BaseModel):
    event_id: UUID
    outcome: DeliveryOutcome
    error: str | None = Field(default=None, description="Why the handler failed (outcome `failed`)")


class BatchReceipt(BaseModel):
    """One result per event of the batch, in the order they were sent."""

    results: list[EventResult]


class SessionSnapshot(BaseModel):
    """Payload of session.scheduled, session.updated and session.cancelled: the whole session as the
    catalog has it now, so a subscriber can always apply the newest and skip older ones."""

    session_id: UUID
    activity_id: UUID
    host_org_id: UUID
    site_id: UUID | None
    title: dict[str, str]
    kind: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    status: SessionStatus
    booking_opens_at: datetime | None
    booking_closes_at: datetime | None


class AvailabilityChanged(BaseModel):
    """Payload of availability.changed: booking's current figures for one session."""

    session_id: UUID
    capacity: int
    confirmed_seats: int
    seats_available: int
    waitlist_length: int


class BookingChanged(BaseModel):
    """Payload of booking.confirmed, booking.waitlisted and booking.cancelled."""

    booking_id: UUID
    session_id: UUID
    person_id: UUID
    organization_id: UUID | None
    seats: int
    status: str


@dataclass(frozen=True, slots=True)
class EventType:
    """What an event type carries, and whether only its newest event per aggregate matters.

    `coalescible`: every event of the type is a whole snapshot that a later one of the same aggregate
    replaces entirely, and applying it has no effect beyond storing that snapshot. Then a relay holding
    several undelivered events of one (subscriber, aggregate) sends only the newest, and marks the older
    ones delivered. Snapshots whose handler reacts to each transition (session.*: booking cancels or
    promotes on them) are not coalescible, nor are records of something that happened (booking.*).
    """

    payload: type[BaseModel]
    coalescible: bool = False


EVENT_TYPES: dict[str, EventType] = {
    "session.scheduled": EventType(SessionSnapshot),
    "session.updated": EventType(SessionSnapshot),
    "session.cancelled": EventType(SessionSnapshot),
    "availability.changed": EventType(AvailabilityChanged, coalescible=True),
    "booking.confirmed": EventType(BookingChanged),
    "booking.waitlisted": EventType(BookingChanged),
    "booking.cancelled": EventType(BookingChanged),
}
EVENT_PAYLOADS: dict[str, type[BaseModel]] = {name: event.payload for name, event in EVENT_TYPES.items()}
COALESCIBLE_TYPES: frozenset[str] = frozenset(name for name, event in EVENT_TYPES.items() if event.coalescible)
