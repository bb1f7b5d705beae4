from typing import Annotated

from fastapi import APIRouter, Body

from services.catalog.dependencies import ActivitySessionDep, BookingSeatsDep
from services.catalog.sessions import service
from services.catalog.sessions.schemas import SessionCancel, SessionOut, SessionUpdate
from shared.auth import CurrentPerson
from shared.authz import MembershipsDep
from shared.db import SessionDep, utcnow
from shared.errors import problem_responses
from shared.events.wiring import OutboxDep

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])


@router.get(
    "/{session_id}",
    summary="Get a session with its free seats",
    operation_id="getSession",
    responses=problem_responses(404, 422),
)
async def get_session(activity_session: ActivitySessionDep, db: SessionDep) -> SessionOut:
    return await service.load_out(db, activity_session)


@router.patch(
    "/{session_id}",
    summary="Change a session's capacity, times or booking window (admin of the host organization)",
    description="409 when the session is cancelled or has started, or when the new capacity is below the "
    "seats booking has confirmed (booking unreachable: 503). Announced as `session.updated`.",
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
