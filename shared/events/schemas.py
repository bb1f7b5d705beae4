"""The event envelope and every event's typed payload: the one definition both sides share."""

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


EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    "session.scheduled": SessionSnapshot,
    "session.updated": SessionSnapshot,
    "session.cancelled": SessionSnapshot,
    "availability.changed": AvailabilityChanged,
    "booking.confirmed": BookingChanged,
    "booking.waitlisted": BookingChanged,
    "booking.cancelled": BookingChanged,
}
