from uuid import UUID

from pydantic import Field

from shared.schemas import Output


class AvailabilityOut(Output):
    session_id: UUID
    capacity: int = Field(description="In-person seats (an online session's: its online seats), of every kind")
    confirmed_seats: int = Field(description="Confirmed standard seats")
    seats_available: int = Field(
        description="Free standard seats (what a booking that asks for no particular seat can take): "
        "`capacity` - `accessible_capacity` - `confirmed_seats`"
    )
    waitlist_length: int = Field(description="Waitlisted bookings, of every kind of seat")
    accessible_capacity: int = Field(description="Of `capacity`, seats kept for people who ask for an accessible one")
    accessible_available: int = Field(description="Free accessible seats")
    online_capacity: int = Field(description="A hybrid session's online seats, apart from `capacity`")
    online_available: int = Field(description="Free online seats of a hybrid session")
