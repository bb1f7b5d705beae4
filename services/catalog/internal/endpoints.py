"""Service-to-service only: not under /v1, so the public gateway never routes it."""

from fastapi import APIRouter

from services.catalog.dependencies import ActivitySessionDep
from services.catalog.sessions.service import host_activity, snapshot
from shared.clients import InternalCaller
from shared.db import SessionDep
from shared.events.schemas import SessionSnapshot

router = APIRouter(prefix="/internal/v1", tags=["internal"], dependencies=[InternalCaller], include_in_schema=False)


@router.get(
    "/sessions/{session_id}",
    summary="A session as its session.* events carry it",
    operation_id="internalSessionSnapshot",
)
async def session_snapshot(activity_session: ActivitySessionDep, db: SessionDep) -> SessionSnapshot:
    """Booking asks when a booking names a session whose `session.scheduled` has not reached it yet."""
    return snapshot(activity_session, await host_activity(db, activity_session))
