from fastapi import APIRouter, status

from services.catalog.activities import service
from services.catalog.activities.schemas import ActivityCreate, ActivityOut, ActivityUpdate
from services.catalog.dependencies import ActivityDep, OrganizationsDep, SettingsDep
from services.catalog.sessions import service as sessions
from services.catalog.sessions.schemas import SessionCreate, SessionOut, SessionsCreated
from shared.auth import CurrentPerson
from shared.authz import MembershipsDep
from shared.db import SessionDep, utcnow
from shared.errors import problem_responses
from shared.events.wiring import OutboxDep
from shared.pagination import Page, PageDep
from shared.schemas import AcceptLanguage

router = APIRouter(prefix="/v1/activities", tags=["activities"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an activity (admin or coordinator of the host organization)",
    operation_id="createActivity",
    responses=problem_responses(401, 403, 413, 422, 503),
)
async def create_activity(
    body: ActivityCreate,
    principal: CurrentPerson,
    memberships: MembershipsDep,
    organizations: OrganizationsDep,
    db: SessionDep,
    accept_language: AcceptLanguage = None,
) -> ActivityOut:
    activity = await service.create_activity(db, principal, memberships, organizations, body)
    return service.activity_out(activity, accept_language)


@router.get(
    "/{activity_id}", summary="Get an activity", operation_id="getActivity", responses=problem_responses(404, 422)
)
async def get_activity(activity: ActivityDep, accept_language: AcceptLanguage = None) -> ActivityOut:
    return service.activity_out(activity, accept_language)


@router.patch(
    "/{activity_id}",
    summary="Update an activity (admin of the host organization)",
    description="A change of title, kind, site, mode or join link is announced to booking as `session.updated` "
    "for every session that has not started; those sessions move to the new site. `mode` cannot change while "
    "the activity has sessions that have not ended (409). The join link is never shown here (`has_join_url`).",
    operation_id="updateActivity",
    responses=problem_responses(401, 403, 404, 409, 413, 422, 503),
)
async def update_activity(
    activity: ActivityDep,
    body: ActivityUpdate,
    principal: CurrentPerson,
    memberships: MembershipsDep,
    outbox: OutboxDep,
    db: SessionDep,
    accept_language: AcceptLanguage = None,
) -> ActivityOut:
    updated = await service.update_activity(db, outbox, principal, memberships, activity, body, now=utcnow())
    return service.activity_out(updated, accept_language)


@router.post(
    "/{activity_id}/sessions",
    status_code=status.HTTP_201_CREATED,
    summary="Schedule a session, or a recurring series of sessions (admin or coordinator of the host)",
    description="Without `recurrence`: one session. With `recurrence`: one session per occurrence of the "
    "RRULE (at most 500 per request; COUNT or UNTIL required), each with the first one's duration and "
    "booking window offsets, expanded in Asia/Shanghai wall time unless `recurrence.timezone` says otherwise.",
    operation_id="createSessions",
    responses=problem_responses(401, 403, 404, 413, 422, 503),
)
async def create_sessions(
    activity: ActivityDep,
    body: SessionCreate,
    principal: CurrentPerson,
    memberships: MembershipsDep,
    outbox: OutboxDep,
    settings: SettingsDep,
    db: SessionDep,
) -> SessionsCreated:
    created = await sessions.schedule(
        db, outbox, principal, memberships, activity, body, default_zone=settings.timezone
    )
    items = [sessions.session_out(activity_session, None, mode=activity.mode) for activity_session in created]
    return SessionsCreated(items=items)


@router.get(
    "/{activity_id}/sessions",
    summary="List an activity's sessions (every status), by start time",
    operation_id="listActivitySessions",
    responses=problem_responses(404, 422),
)
async def list_activity_sessions(activity: ActivityDep, db: SessionDep, page: PageDep) -> Page[SessionOut]:
    return await sessions.list_of_activity(db, activity, page)
