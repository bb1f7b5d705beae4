from typing import Annotated

from fastapi import APIRouter, Body, Query

from services.catalog.dependencies import ActivitySessionDep, BookingSeatsDep
from services.catalog.geo import NearDep
from services.catalog.sessions import service
from services.catalog.sessions.alternatives import Alternatives, alternatives
from services.catalog.sessions.alternatives_repository import DEFAULT_LIMIT, DEFAULT_WEEKS, MAX_LIMIT, MAX_WEEKS
from services.catalog.sessions.schemas import SessionCancel, SessionOut, SessionUpdate
from shared.auth import CurrentPerson
from shared.authz import MembershipsDep
from shared.db import SessionDep, utcnow
from shared.errors import problem_responses
from shared.events.wiring import OutboxDep
from shared.schemas import AcceptLanguage

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])


@router.get(
    "/{session_id}",
    summary="Get a session with its free seats",
    operation_id="getSession",
    responses=problem_responses(404, 422),
)
async def get_session(activity_session: ActivitySessionDep, db: SessionDep) -> SessionOut:
    return await service.load_out(db, activity_session)


@router.get(
    "/{session_id}/alternatives",
    summary="Other sessions with free seats, for when this one is full",
    description="Scheduled sessions other than this one that start within the next `weeks`, still take "
    "bookings (booking not closed) and have free seats in the standard pool: of the same activity first "
    "(`match: same_activity`), then of the same series (`same_series`), then of the same kind of activity "
    "sharing at least one topic (`similar`). Within each, nearest first from `near`, or else from this "
    "session's site (online sessions, which have no site, come after the others of their group with "
    "`distance_m` null; when this session is online and no `near` is given, every distance is null), then "
    "by start time. Any session may be asked about, full or not. Unknown session: 404.",
    operation_id="listSessionAlternatives",
    responses=problem_responses(404, 422),
)
async def list_session_alternatives(
    activity_session: ActivitySessionDep,
    db: SessionDep,
    near: NearDep,
    weeks: Annotated[
        int, Query(ge=1, le=MAX_WEEKS, description="Only sessions starting within this many weeks from now")
    ] = DEFAULT_WEEKS,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many sessions")] = DEFAULT_LIMIT,
    accept_language: AcceptLanguage = None,
) -> Alternatives:
    return await alternatives(
        db, activity_session, near=near, weeks=weeks, limit=limit, now=utcnow(), accept_language=accept_language
    )


@router.patch(
    "/{session_id}",
    summary="Change a session's seats, times or booking window (admin of the host organization)",
    description="409 when the session is cancelled or has started, or when a seat pool would hold fewer seats "
    "than booking has confirmed in it: standard (`capacity` - `accessible_seats`), accessible "
    "(`accessible_seats`) or online (`online_capacity`); booking unreachable: 503. Announced as "
    "`session.updated`.",
    operation_id="updateSession",
    responses=problem_responses(401, 403, 404, 409, 413, 422, 503),
)
async def update_session(
    activity_session: ActivitySessionDep,
    body: SessionUpdate,
    principal: CurrentPerson,
    memberships: MembershipsDep,
    booking: BookingSeatsDep,
    outbox: OutboxDep,
    db: SessionDep,
) -> SessionOut:
    updated = await service.update_session(
        db, outbox, principal, memberships, booking, activity_session, body, now=utcnow()
    )
    return await service.load_out(db, updated)


@router.post(
    "/{session_id}/cancel",
    summary="Cancel a session (admin of the host organization)",
    description="Announced as `session.cancelled`; booking then cancels its bookings. Idempotent: "
    "cancelling a cancelled session answers 200 with it unchanged. A session that has ended: 409.",
    operation_id="cancelSession",
    responses=problem_responses(401, 403, 404, 409, 413, 422, 503),
)
async def cancel_session(
    activity_session: ActivitySessionDep,
    principal: CurrentPerson,
    memberships: MembershipsDep,
    outbox: OutboxDep,
    db: SessionDep,
    body: Annotated[SessionCancel | None, Body()] = None,
) -> SessionOut:
    cancelled = await service.cancel_session(
        db, outbox, principal, memberships, activity_session, body or SessionCancel(), now=utcnow()
    )
    return await service.load_out(db, cancelled)
