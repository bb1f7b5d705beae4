from fastapi import APIRouter

from services.notify.dependencies import ContextDep
from services.notify.preferences import service
from services.notify.preferences.schemas import PreferencesIn, PreferencesOut
from shared.auth import CurrentPerson
from shared.db import SessionDep
from shared.errors import problem_responses

# Declared before `/v1/notifications/{notification_id}/...`, so `preferences` is never read as an id.
router = APIRouter(prefix="/v1/notifications/preferences", tags=["notifications"])


@router.get(
    "",
    summary="Your notice preferences (the defaults until you save some)",
    operation_id="getNotificationPreferences",
    responses=problem_responses(401, 422),
)
async def get_preferences(principal: CurrentPerson, context: ContextDep, db: SessionDep) -> PreferencesOut:
    return await service.get_preferences(db, context, principal)


@router.put(
    "",
    summary="Save your notice preferences",
    description="Email on or off, the language of notices and emails, and when reminders come (minutes "
    "before each confirmed session; [] turns them off). Reminders not yet sent follow the new times at once.",
    operation_id="putNotificationPreferences",
    responses=problem_responses(401, 422),
)
async def put_preferences(
    body: PreferencesIn, principal: CurrentPerson, context: ContextDep, db: SessionDep
) -> PreferencesOut:
    return await service.put_preferences(db, context, principal, body)
