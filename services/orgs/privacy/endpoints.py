from fastapi import APIRouter, Response, status

from services.orgs.dependencies import PersonExportsDep, SettingsDep, SignedInAccount
from services.orgs.privacy import service
from services.orgs.privacy.schemas import EraseIn, PersonalData
from shared.db import DatabaseDep, SessionDep
from shared.errors import problem_responses
from shared.events.wiring import OutboxDep

router = APIRouter(prefix="/v1/me", tags=["privacy"])


@router.get(
    "/export",
    summary="Everything Learning City holds about you",
    description="One JSON document: your profile, memberships, join requests and invitations (orgs), your "
    "bookings, check-ins and learning record (booking), your notices, preferences, reminders and calendar feed "
    "(notify). When a service cannot answer, 503 with `Retry-After`: never a partial document.",
    operation_id="exportMe",
    responses=problem_responses(401, 503),
)
async def export_me(
    person: SignedInAccount, session: SessionDep, peers: PersonExportsDep, response: Response
) -> PersonalData:
    # Personal data: no shared cache or browser history keeps a copy.
    response.headers["Cache-Control"] = "no-store"
    return await service.export(session, person, peers)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Erase your account and your data in every service",
    description="Needs your password (wrong: 403; it counts toward the sign-in lock like a failed sign-in, "
    "so repeated tries get 429). Your account, sign-ins, memberships, join requests and the invitations sent "
    "to your address are deleted at once: your tokens and password stop working. The other services then "
    "erase or anonymize what they hold (`person.erased`): "
    "your active bookings are cancelled and their seats offered to the waitlist; check-ins stay only as "
    "anonymous counts; your notices, preferences and calendar feed are deleted.\n\n"
    "Organizations you own stay, without an owner (there is one owner per organization, and ownership "
    "cannot be handed over): their admins keep managing them, and platform operators may act on them. "
    "Make someone an admin first if nobody else should be left without access.",
    operation_id="eraseMe",
    responses=problem_responses(401, 403, 413, 422, 429),
)
async def erase_me(
    person: SignedInAccount,
    body: EraseIn,
    session: SessionDep,
    database: DatabaseDep,
    outbox: OutboxDep,
    settings: SettingsDep,
) -> Response:
    await service.erase(session, database, outbox, settings, person, body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
