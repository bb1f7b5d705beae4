from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.activities.schemas import LearningMode
from services.catalog.availability.service import free_seats
from services.catalog.models import Activity, ActivitySession, SessionAvailability, Site, audit_log
from services.catalog.pagination import require_cursor_types
from services.catalog.peers import BookedSeats, BookingSeats
from services.catalog.sessions.recurrence import expand_starts
from services.catalog.sessions.repository import ActivitySessionRepository
from services.catalog.sessions.schemas import SessionCancel, SessionCreate, SessionOut, SessionStatus, SessionUpdate
from services.catalog.sessions.timing import SessionTimes
from shared import audit
from shared.auth import Principal
from shared.authz import MembershipSource, OrgRole, require_org_role
from shared.errors import Conflict, Unprocessable
from shared.events.outbox import Outbox
from shared.events.schemas import Place, SessionSnapshot
from shared.pagination import Page, PageParams
from shared.repository import paginate

SessionEvent = Literal["session.scheduled", "session.updated", "session.cancelled"]


def snapshot(activity_session: ActivitySession, activity: Activity, site: Site | None) -> SessionSnapshot:
    """The whole session as its subscribers need it (the payload of every session.* event and the internal
    API): booking decides on it, notify tells people where and when."""
    return SessionSnapshot(
        session_id=activity_session.id,
        activity_id=activity.id,
        host_org_id=activity.host_org_id,
        site_id=activity_session.site_id,
        title=activity.title,
        kind=activity.kind,
        starts_at=activity_session.starts_at,
        ends_at=activity_session.ends_at,
        capacity=activity_session.capacity,
        status="cancelled" if activity_session.status == "cancelled" else "scheduled",
        booking_opens_at=activity_session.booking_opens_at,
        booking_closes_at=activity_session.booking_closes_at,
        place=None
        if site is None
        else Place(site_id=site.id, name=site.name, address=site.address, lat=site.lat, lon=site.lon),
        cancel_reason=activity_session.cancel_reason,
        mode=LearningMode(activity.mode).value,
        join_url=activity.join_url,
        accessible_seats=activity_session.accessible_seats,
        online_capacity=activity_session.online_capacity,
    )


# What the audit trail keeps of a session (`session.*` entries): its bookable state, no personal data.
_AUDITED_FIELDS = (
    "activity_id",
    "site_id",
    "status",
    "starts_at",
    "ends_at",
    "capacity",
    "accessible_seats",
    "online_capacity",
    "booking_opens_at",
    "booking_closes_at",
    "cancelled_at",
    "cancel_reason",
)


def audited(activity_session: ActivitySession) -> dict[str, Any]:
    """The session as the audit trail keeps it (JSON-ready)."""
    state = audit.snapshot({field: getattr(activity_session, field) for field in _AUDITED_FIELDS})
    assert state is not None
    return state


async def _emit(
    db: AsyncSession,
    outbox: Outbox,
    event: SessionEvent,
    sessions: Sequence[ActivitySession],
    activity: Activity,
) -> None:
    """Announce each of `sessions` (of `activity`), reading each site once: the sessions of one change share
    theirs, so a change costs one site query, not one per event."""
    sites = {site_id: await db.get(Site, site_id) for site_id in {s.site_id for s in sessions} if site_id is not None}
    for activity_session in sessions:
        site = None if activity_session.site_id is None else sites[activity_session.site_id]
        await outbox.emit(db, event, activity_session.id, snapshot(activity_session, activity, site))


def session_out(activity_session: ActivitySession, figures: SessionAvailability | None, *, mode: str) -> SessionOut:
    """`mode` is the session's activity's."""
    free = free_seats(activity_session, figures)
    return SessionOut(
        id=activity_session.id,
        activity_id=activity_session.activity_id,
        site_id=activity_session.site_id,
        starts_at=activity_session.starts_at,
        ends_at=activity_session.ends_at,
        capacity=activity_session.capacity,
        mode=LearningMode(mode),
        accessible_seats=activity_session.accessible_seats,
        online_capacity=activity_session.online_capacity,
        status=SessionStatus(activity_session.status),
        seats_available=free.standard,
        accessible_available=free.accessible,
        online_available=free.online,
        waitlist_length=figures.waitlist_length if figures is not None else 0,
        booking_opens_at=activity_session.booking_opens_at,
        booking_closes_at=activity_session.booking_closes_at,
        cancelled_at=activity_session.cancelled_at,
        cancel_reason=activity_session.cancel_reason,
    )


async def load_out(db: AsyncSession, activity_session: ActivitySession) -> SessionOut:
    activity = await host_activity(db, activity_session)
    figures = await ActivitySessionRepository(db).figures(activity_session.id)
    return session_out(activity_session, figures, mode=activity.mode)


async def host_activity(db: AsyncSession, activity_session: ActivitySession) -> Activity:
    activity = await db.get(Activity, activity_session.activity_id)
    assert activity is not None  # a foreign key
    return activity


async def current_snapshot(db: AsyncSession, activity_session: ActivitySession) -> SessionSnapshot:
    activity = await host_activity(db, activity_session)
    site = None if activity_session.site_id is None else await db.get(Site, activity_session.site_id)
    return snapshot(activity_session, activity, site)


async def _locked_for_host_admin(
    db: AsyncSession, principal: Principal, memberships: MembershipSource, activity_session: ActivitySession
) -> Activity:
    """The session's activity, once the caller is an admin of its host (or an operator); the session row is
    then locked, so changes of one session take turns, each sees the last one's result, and their events go
    out in commit order."""
    activity = await host_activity(db, activity_session)
    await require_org_role(memberships, principal, activity.host_org_id, OrgRole.admin)
    await db.refresh(activity_session, with_for_update=True)
    return activity


async def schedule(
    db: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    memberships: MembershipSource,
    activity: Activity,
    body: SessionCreate,
    *,
    default_zone: str,
) -> list[ActivitySession]:
    """Admins and coordinators of the host organization, and operators: one session, or one per
    occurrence of `recurrence` (at most 500)."""
    await require_org_role(memberships, principal, activity.host_org_id, OrgRole.coordinator)
    first = SessionTimes(body.starts_at, body.ends_at, body.booking_opens_at, body.booking_closes_at)
    first.require_consistent()
    if body.recurrence is None:
        occurrences = [first]
    else:
        starts = await expand_starts(body.starts_at, body.recurrence, default_zone=default_zone)
        occurrences = [first.moved_to(start) for start in starts]
    sessions = await add_sessions(
        db,
        outbox,
        activity,
        occurrences,
        capacity=body.capacity,
        accessible_seats=body.accessible_seats,
        online_capacity=body.online_capacity,
    )
    await audit.record_many(
        db,
        audit_log,
        actor=audit.Actor.of(principal),
        action="session.scheduled",
        entity_type="session",
        organization_id=activity.host_org_id,
        states=[(activity_session.id, None, audited(activity_session)) for activity_session in sessions],
    )
    return sessions


def _require_seats_fit(mode: str, *, capacity: int, accessible_seats: int, online_capacity: int | None) -> None:
    """The seat pools a session of a `mode` activity may have. Accessible seats are in-person seats (so none
    online, and at most `capacity`); online seats apart from `capacity` only for hybrid activities (and there
    at least one: an online-only session's seats are its `capacity`)."""
    if accessible_seats > capacity:
        raise Unprocessable("accessible_seats may not exceed capacity", pointer="/body/accessible_seats")
    if mode == LearningMode.online and accessible_seats > 0:
        raise Unprocessable(
            "An online activity's sessions have no accessible (in-person) seats", pointer="/body/accessible_seats"
        )
    if mode == LearningMode.hybrid and not online_capacity:
        raise Unprocessable("A hybrid activity's sessions need online_capacity (>= 1)", pointer="/body/online_capacity")
    if mode != LearningMode.hybrid and online_capacity:
        raise Unprocessable(
            "Only hybrid activities' sessions have online seats apart from capacity", pointer="/body/online_capacity"
        )


async def add_sessions(
    db: AsyncSession,
    outbox: Outbox,
    activity: Activity,
    occurrences: Sequence[SessionTimes],
    *,
    capacity: int,
    accessible_seats: int = 0,
    online_capacity: int | None = None,
    session_ids: Sequence[UUID] | None = None,
) -> list[ActivitySession]:
    """Store sessions of `activity` and announce each (`session.scheduled`) in the same transaction."""
    _require_seats_fit(
        activity.mode, capacity=capacity, accessible_seats=accessible_seats, online_capacity=online_capacity
    )
    sessions = [
        ActivitySession(
            activity_id=activity.id,
            site_id=activity.site_id,
            starts_at=times.starts_at,
            ends_at=times.ends_at,
            capacity=capacity,
            accessible_seats=accessible_seats,
            online_capacity=online_capacity or 0,
            status="scheduled",
            booking_opens_at=times.booking_opens_at,
            booking_closes_at=times.booking_closes_at,
        )
        for times in occurrences
    ]
    for activity_session, session_id in zip(sessions, session_ids or (), strict=False):
        activity_session.id = session_id
    await ActivitySessionRepository(db).add_many(sessions)
    await _emit(db, outbox, "session.scheduled", sessions, activity)
    return sessions


async def update_session(
    db: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    memberships: MembershipSource,
    booking: BookingSeats,
    activity_session: ActivitySession,
    body: SessionUpdate,
    *,
    now: datetime,
) -> ActivitySession:
    """Admins of the host organization, and operators. Only a scheduled session that has not started
    changes; no seat pool may shrink below the seats booking has confirmed in it."""
    activity = await _locked_for_host_admin(db, principal, memberships, activity_session)
    if activity_session.status == "cancelled":
        raise Conflict("The session is cancelled")
    if activity_session.starts_at <= now:
        raise Conflict("The session has started; past sessions cannot be changed")
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    times = SessionTimes(
        starts_at=changes.get("starts_at", activity_session.starts_at),
        ends_at=changes.get("ends_at", activity_session.ends_at),
        booking_opens_at=changes.get("booking_opens_at", activity_session.booking_opens_at),
        booking_closes_at=changes.get("booking_closes_at", activity_session.booking_closes_at),
    )
    times.require_consistent()
    if "starts_at" in changes and times.starts_at <= now:
        raise Unprocessable("A session can only move to a time in the future", pointer="/body/starts_at")
    seats = {
        field: changes.get(field, getattr(activity_session, field))
        for field in ("capacity", "accessible_seats", "online_capacity")
    }
    if "accessible_seats" not in changes and seats["accessible_seats"] > seats["capacity"]:
        raise Unprocessable(
            f"{activity_session.accessible_seats} of the seats are accessible ones: capacity cannot drop below "
            "that (lower accessible_seats with it)",
            pointer="/body/capacity",
        )
    _require_seats_fit(activity.mode, **seats)
    if _shrinks(activity_session, **seats):
        _require_room_for_booked(await booking.booked_seats(activity_session.id), **seats)
    wanted = {**seats, **asdict(times)}
    changed = {field: value for field, value in wanted.items() if getattr(activity_session, field) != value}
    if not changed:
        return activity_session
    before = audited(activity_session)
    for field, value in changed.items():
        setattr(activity_session, field, value)
    await db.flush()
    await _emit(db, outbox, "session.updated", [activity_session], activity)
    await _audit_change(db, principal, "session.updated", activity_session, activity, before)
    return activity_session


async def _audit_change(
    db: AsyncSession,
    principal: Principal,
    action: str,
    activity_session: ActivitySession,
    activity: Activity,
    before: dict[str, Any],
) -> None:
    """An entry with the session's changed fields (and its status, always), before and after."""
    old, new = audit.changed_fields(before, audited(activity_session), always=("status",))
    await audit.record(
        db,
        audit_log,
        actor=audit.Actor.of(principal),
        action=action,
        entity_type="session",
        entity_id=activity_session.id,
        organization_id=activity.host_org_id,
        before=old,
        after=new,
    )


def _shrinks(activity_session: ActivitySession, *, capacity: int, accessible_seats: int, online_capacity: int) -> bool:
    """Whether a pool gets smaller (raising accessible_seats shrinks the standard pool)."""
    return (
        capacity - accessible_seats < activity_session.capacity - activity_session.accessible_seats
        or accessible_seats < activity_session.accessible_seats
        or online_capacity < activity_session.online_capacity
    )


def _require_room_for_booked(
    booked: BookedSeats, *, capacity: int, accessible_seats: int, online_capacity: int
) -> None:
    """409 unless every pool keeps room for the seats booking has confirmed in it."""
    if capacity - accessible_seats < booked.standard:
        if accessible_seats == 0:
            raise Conflict(f"{booked.standard} seats are confirmed; capacity cannot drop below that")
        raise Conflict(
            f"{booked.standard} standard seats are confirmed; capacity less accessible_seats cannot drop below that"
        )
    if accessible_seats < booked.accessible:
        raise Conflict(f"{booked.accessible} accessible seats are confirmed; accessible_seats cannot drop below that")
    if online_capacity < booked.online:
        raise Conflict(f"{booked.online} online seats are confirmed; online_capacity cannot drop below that")


async def cancel_session(
    db: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    memberships: MembershipSource,
    activity_session: ActivitySession,
    body: SessionCancel,
    *,
    now: datetime,
) -> ActivitySession:
    """Admins of the host organization, and operators. Idempotent: cancelling a cancelled session
    answers it unchanged (no second event). A session that has ended cannot be cancelled."""
    activity = await _locked_for_host_admin(db, principal, memberships, activity_session)
    if activity_session.status == "cancelled":
        return activity_session
    if activity_session.ends_at <= now:
        raise Conflict("The session has ended; it cannot be cancelled")
    before = audited(activity_session)
    activity_session.status = "cancelled"
    activity_session.cancelled_at = now
    activity_session.cancel_reason = body.reason
    await db.flush()
    await _emit(db, outbox, "session.cancelled", [activity_session], activity)
    await _audit_change(db, principal, "session.cancelled", activity_session, activity, before)
    return activity_session


async def propagate_activity_change(db: AsyncSession, outbox: Outbox, activity: Activity, *, now: datetime) -> None:
    """After an activity's title, kind, site, mode or join link changed: its upcoming sessions follow it to
    the site, and booking (and notify) hear `session.updated` for each."""
    upcoming = await ActivitySessionRepository(db).upcoming_of_activity(
        activity.id, after=now, site_id=activity.site_id
    )
    await _emit(db, outbox, "session.updated", upcoming, activity)


async def list_of_activity(db: AsyncSession, activity: Activity, page: PageParams) -> Page[SessionOut]:
    require_cursor_types(page, datetime, UUID)
    rows, next_cursor = await paginate(
        db,
        select(ActivitySession).where(ActivitySession.activity_id == activity.id),
        keyset=[ActivitySession.starts_at, ActivitySession.id],
        key_of=lambda s: [s.starts_at, s.id],
        page=page,
    )
    figures = await ActivitySessionRepository(db).figures_of([row.id for row in rows])
    items = [session_out(row, figures.get(row.id), mode=activity.mode) for row in rows]
    return Page(items=items, next_cursor=next_cursor)
