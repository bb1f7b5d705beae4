"""Check-in at the door: host staff scan the booking's code within the window (from
`checkin_opens_before_s`, 60 minutes, before the start until the end). Each check-in credits the
session's scheduled minutes to the booking's holder (their learning record): a member line's code credits
its member; an organization block's own code admits its seats not named to a member and credits the
coordinator who booked it."""

from typing import Any

from services.booking.bookings.access import is_host_staff
from services.booking.checkins.repository import CheckinRepository
from services.booking.checkins.schemas import CheckinOut
from services.booking.dependencies import Collaborators
from services.booking.lines.repository import LineRepository
from services.booking.models import audit_log
from shared import audit
from shared.db import utcnow
from shared.errors import Conflict, NotFound

UNKNOWN_CODE = "Unknown check-in code"


def scheduled_minutes(booking: Any) -> int:
    return max(0, int((booking.ends_at - booking.starts_at).total_seconds() // 60))


async def check_in(c: Collaborators, code: str) -> CheckinOut:
    """404 for a code that is unknown, not (or no longer) confirmed, or of a session whose host you are
    not staff of: a code is a secret, so nobody learns from this endpoint whether it exists."""
    repository = CheckinRepository(c.session)
    booking = await repository.by_code(code)
    if booking is None or not await is_host_staff(c.principal, c.memberships, booking.host_org_id):
        raise NotFound(UNKNOWN_CODE)
    if booking.checked_in_at is not None:
        raise _already_checked_in(booking.checked_in_at)
    now = utcnow()
    opens_at, closes_at = booking.starts_at - c.settings.checkin_opens_before, booking.ends_at
    if not opens_at <= now <= closes_at:
        raise Conflict(
            f"Check-in is open from {opens_at.isoformat()} to {closes_at.isoformat()}",
            extra={"checkin_opens_at": opens_at.isoformat(), "checkin_closes_at": closes_at.isoformat()},
        )
    if not await repository.lock_confirmed(booking.id):
        raise NotFound(UNKNOWN_CODE)  # cancelled meanwhile
    # Read with the block locked: seats are named and unnamed under that lock too.
    if await LineRepository(c.session).unnamed_seats(booking.id) == 0:
        raise Conflict(
            "Every seat of this organization booking is named to a member: check in each member's own code",
            extra={"reason": "check_in_member_codes"},
        )
    minutes = scheduled_minutes(booking)
    checked_in_at = await repository.record(booking, minutes, c.principal.person_id, now)
    if checked_in_at is None:
        first = await repository.checked_in_at(booking.id)
        assert first is not None
        raise _already_checked_in(first)
    await audit.record(
        c.session,
        audit_log,
        actor=audit.Actor.of(c.principal),
        action="checkin.recorded",
        entity_type="checkin",
        entity_id=booking.id,  # a check-in is its booking's (one each)
        organization_id=booking.host_org_id,
        after={
            "booking_id": booking.id,
            "person_id": booking.person_id,
            "session_id": booking.session_id,
            "checked_in_at": checked_in_at,
            "minutes": minutes,
        },
    )
    return CheckinOut(booking_id=booking.id, checked_in_at=checked_in_at)


def _already_checked_in(checked_in_at: Any) -> Conflict:
    return Conflict(
        f"Already checked in at {checked_in_at.isoformat()}", extra={"checked_in_at": checked_in_at.isoformat()}
    )
