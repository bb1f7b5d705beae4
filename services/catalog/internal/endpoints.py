"""Service-to-service only: not under /v1, so the public gateway never routes it."""

from fastapi import APIRouter

from services.catalog.dependencies import ActivitySessionDep
from services.catalog.sessions.service import current_snapshot
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
    """Booking and notify ask when they meet a session whose `session.scheduled` has not reached them yet."""
    return await current_snapshot(db, activity_session)
