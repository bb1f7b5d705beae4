from uuid import UUID

from shared.schemas import Output


class AvailabilityOut(Output):
    session_id: UUID
    capacity: int
    confirmed_seats: int
    seats_available: int
    waitlist_length: int
