"""`GET /v1/bookings/audit`: booking's trail (mounted before the bookings router, whose `/{booking_id}` would
otherwise read `audit` as an id)."""

from services.booking.models import audit_log
from shared.audit import audit_router

router = audit_router(
    "/v1/bookings",
    table=audit_log,
    operation_id="listBookingAuditEntries",
    tag="audit",
    recorded="Check-ins by host staff (`checkin.recorded`, organization: the host); cancellations of an "
    "organization's booking, and of anyone's booking by someone other than its holder (`booking.cancelled`, "
    "organization: the booking organization, else the host); members named to, moved between and taken off an "
    "organization booking's seats (`line.*`, also kept per block in its seat audit, "
    "`GET /v1/bookings/{id}/assignments`).",
)
