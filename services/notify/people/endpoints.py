"""Service-to-service only (not under /v1, so the public gateway never routes it): orgs assembles a
person's export (`GET /v1/me/export`) from every service's part."""

from typing import Any
from uuid import UUID

from fastapi import APIRouter

from services.notify.people.service import export_person
from shared.clients import InternalCaller
from shared.db import SessionDep

router = APIRouter(prefix="/internal/v1", tags=["internal"], dependencies=[InternalCaller], include_in_schema=False)


@router.get(
    "/people/{person_id}/export", summary="Everything notify holds about a person", operation_id="internalExport"
)
async def export(person_id: UUID, db: SessionDep) -> dict[str, Any]:
    return await export_person(db, person_id)
