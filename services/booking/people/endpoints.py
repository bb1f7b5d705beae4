"""Service-to-service only: not under /v1, so the public gateway never routes it."""

from uuid import UUID

from fastapi import APIRouter, Request

from services.booking.people import service
from services.booking.people.schemas import PersonExport
from shared.clients import InternalCaller
from shared.db import SessionDep

router = APIRouter(prefix="/internal/v1", tags=["internal"], dependencies=[InternalCaller], include_in_schema=False)


@router.get(
    "/people/{person_id}/export",
    summary="Everything booking holds naming a person",
    operation_id="internalPersonExport",
)
async def export_person(person_id: UUID, session: SessionDep, request: Request) -> PersonExport:
    """Orgs asks for it to build the person's `GET /v1/me/export`. An unknown person has nothing: empty lists."""
    return await service.export(session, person_id, request.app.state.settings)
