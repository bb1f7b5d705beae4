"""The event envelope and every event's typed payload: the one definition both sides share."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

SessionStatus = Literal["scheduled", "cancelled"]
# in_person: at a site; online: a join link, no site; hybrid: a site and a join link, with online seats apart.
LearningMode = Literal["in_person", "online", "hybrid"]


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


class Place(BaseModel):
    """Where a session takes place, as people are told (notices, calendars)."""

    site_id: UUID
    name: dict[str, str]
    address: str
    lat: float
    lon: float


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
    # The site's name and address when the session has a site (None: online or no site).
    place: Place | None = None
    # Why a cancelled session was cancelled, as its host gave it (session.cancelled only).
    cancel_reason: str | None = None
    mode: LearningMode = "in_person"
    # The activity's join link (online and hybrid): booking shows it to confirmed holders only.
    join_url: str | None = None
    # Of the in-person `capacity`, seats only people who ask for an accessible seat may take.
    accessible_seats: int = 0
    # A hybrid session's online seats, besides the in-person `capacity` (an online session's are `capacity`).
    online_capacity: int = 0


class SiteSnapshot(BaseModel):
    """Payload of site.changed: a site's kind and geography as the catalog has it now (on creation, on a
    change, and when districts are loaded and the site falls in another one). Booking keeps it to count
    participation by district, urban/rural and site kind without reading the catalog's schema."""

    site_id: UUID
    owner_org_id: UUID
    kind: str
    name: dict[str, str]
    # The district polygon that contains the site (None: outside every loaded district).
    district_id: UUID | None = None
    district_name: dict[str, str] | None = None
    urban: bool | None = None


class AvailabilityChanged(BaseModel):
    """Payload of availability.changed: booking's current figures for one session. `seats_available` is the
    standard pool's (what a request that asks for no particular seat can take); the accessible and online
    pools are reported apart."""

    session_id: UUID
    capacity: int
    confirmed_seats: int
    seats_available: int
    waitlist_length: int
    accessible_capacity: int = 0
    accessible_available: int = 0
    online_capacity: int = 0
    online_available: int = 0


# Why a booking entered its status. booked: a new booking (confirmed or waitlisted), or a member named to a
# seat of an organization block; promoted: a waitlisted booking got its seats; by_owner / by_org_admin:
# cancelled by its holder / by an admin of the booking organization (or the block's coordinator);
# session_cancelled: its session was cancelled by the host; erased: its person was erased; unassigned: a
# member line whose seat went back to its block (the coordinator named someone else, or nobody);
# left_organization: a member line of someone no longer in the organization; no_show: not checked in by the
# session's end plus the grace period.
BookingCause = Literal[
    "booked",
    "promoted",
    "by_owner",
    "by_org_admin",
    "session_cancelled",
    "erased",
    "unassigned",
    "left_organization",
    "no_show",
]


class BookingChanged(BaseModel):
    """Payload of booking.confirmed, booking.waitlisted and booking.cancelled."""

    booking_id: UUID
    session_id: UUID
    person_id: UUID
    organization_id: UUID | None
    seats: int
    status: str
    cause: BookingCause = "booked"
    # booking.waitlisted: the place in line when it joined (1 = next).
    waitlist_position: int | None = None
    # booking.confirmed: the code the holder shows at the door (notify draws it as a QR code).
    checkin_code: str | None = None
    # A member line: the organization block it is a seat of.
    block_id: UUID | None = None


# How someone's membership changed. joined: added by an admin, through an invitation, or by an accepted
# request (`via`); left: they left on their own; removed: an admin removed them; role_changed: new `role`.
MembershipChange = Literal["joined", "left", "removed", "role_changed"]
MembershipVia = Literal["created", "added", "invitation", "request"]


class MembershipChanged(BaseModel):
    """Payload of membership.changed (aggregate: the organization, so one organization's changes keep their
    order). `role` is the role held after the change (None once left or removed)."""

    organization_id: UUID
    person_id: UUID
    change: MembershipChange
    role: str | None
    via: MembershipVia | None = None
    by_person_id: UUID | None = None


class InvitationCreated(BaseModel):
    """Payload of invitation.created: what notify needs to mail the invitation. It carries the token (the
    only way it travels is this mail), so the row is erased once delivered."""

    invitation_id: UUID
    organization_id: UUID
    organization_name: dict[str, str]
    email: str
    role: str
    token: str
    expires_at: datetime
    invited_by_name: str | None = None
    language: str | None = None


JoinRequestStatus = Literal["pending", "accepted", "refused", "withdrawn"]


class JoinRequestChanged(BaseModel):
    """Payload of join_request.changed: someone asked to join an organization, or the request was decided
    (accepted, refused) or withdrawn (aggregate: the request)."""

    request_id: UUID
    organization_id: UUID
    person_id: UUID
    status: JoinRequestStatus
    decided_by: UUID | None = None


class PersonErased(BaseModel):
    """Payload of person.erased: the person's data is to be erased or anonymized in every service.
    The event's aggregate is the erasure (its own id), never the person, so no subscriber's inbox
    positions keep the person's id."""

    erasure_id: UUID
    person_id: UUID


@dataclass(frozen=True, slots=True)
class EventType:
    """What an event type carries, and whether only its newest event per aggregate matters.

    `coalescible`: every event of the type is a whole snapshot that a later one of the same aggregate
    replaces entirely, and applying it has no effect beyond storing that snapshot. Then a relay holding
    several undelivered events of one (subscriber, aggregate) sends only the newest, and marks the older
    ones delivered. Snapshots whose handler reacts to each transition (session.*: booking cancels or
    promotes on them) are not coalescible, nor are records of something that happened (booking.*).

    `erase_when_delivered`: the payload names someone who asked to be forgotten, so the producer keeps it
    only until it is delivered: the relay deletes a delivered row instead of keeping it `delivered`. A row
    that fails for good (`failed`, a dead letter) keeps its payload: the erasure is not finished until that
    subscriber has it, and `learncity events --retry` needs it to send it again; it is deleted once delivered.
    """

    payload: type[BaseModel]
    coalescible: bool = False
    erase_when_delivered: bool = False


EVENT_TYPES: dict[str, EventType] = {
    "session.scheduled": EventType(SessionSnapshot),
    "session.updated": EventType(SessionSnapshot),
    "session.cancelled": EventType(SessionSnapshot),
    "site.changed": EventType(SiteSnapshot, coalescible=True),
    "availability.changed": EventType(AvailabilityChanged, coalescible=True),
    "booking.confirmed": EventType(BookingChanged),
    "booking.waitlisted": EventType(BookingChanged),
    "booking.cancelled": EventType(BookingChanged),
    "booking.no_show": EventType(BookingChanged),
    "person.erased": EventType(PersonErased, erase_when_delivered=True),
    "membership.changed": EventType(MembershipChanged),
    "invitation.created": EventType(InvitationCreated, erase_when_delivered=True),
    "join_request.changed": EventType(JoinRequestChanged),
}
EVENT_PAYLOADS: dict[str, type[BaseModel]] = {name: event.payload for name, event in EVENT_TYPES.items()}
COALESCIBLE_TYPES: frozenset[str] = frozenset(name for name, event in EVENT_TYPES.items() if event.coalescible)
ERASED_WHEN_DELIVERED_TYPES: frozenset[str] = frozenset(
    name for name, event in EVENT_TYPES.items() if event.erase_when_delivered
)
