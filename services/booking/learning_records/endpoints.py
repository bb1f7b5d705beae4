import re
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BeforeValidator

from services.booking.dependencies import CollaboratorsDep
from services.booking.learning_records import service
from services.booking.learning_records.schemas import LearningRecordOut, MemberLearningOut
from shared.errors import problem_responses
from shared.pagination import Page, PageDep
from shared.schemas import AcceptLanguage

router = APIRouter(prefix="/v1/learning-records", tags=["learning-records"])

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _rfc3339_only(value: object) -> object:
    """Pydantic would also read numbers as Unix times (`to=0.5`); the contract says RFC 3339."""
    if isinstance(value, str) and not _RFC3339.match(value):
        raise ValueError("expected an RFC 3339 date-time with offset, e.g. 2027-03-02T19:00:00+08:00")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]
From = Annotated[
    Moment | None,
    Query(alias="from", description="Sessions starting at or after this time (RFC 3339 with offset)"),
]
To = Annotated[Moment | None, Query(description="Sessions starting before this time (RFC 3339 with offset)")]


@router.get(
    "/me",
    summary="Your learning record",
    description="Totals over every check-in whose session started in `[from, to)`, minutes per kind, and "
    "the check-ins themselves, newest first and paged (`limit`, `cursor`).",
    operation_id="getMyLearningRecord",
    responses=problem_responses(401, 422),
)
async def my_learning_record(
    c: CollaboratorsDep,
    page: PageDep,
    from_: From = None,
    to: To = None,
    accept_language: AcceptLanguage = None,
) -> LearningRecordOut:
    return await service.my_record(c, page, from_, to, accept_language)


@router.get(
    "",
    summary="Learning totals of an organization's members (its admins)",
    description="One item per current member (zero when they attended nothing), with their totals over "
    "sessions that started in `[from, to)`. Admins (or owners) of the organization and operators only.",
    operation_id="listOrganizationLearningRecords",
    responses=problem_responses(401, 403, 404, 422),
)
async def organization_learning_records(
    c: CollaboratorsDep,
    organization_id: UUID,
    page: PageDep,
    from_: From = None,
    to: To = None,
) -> Page[MemberLearningOut]:
    return await service.organization_totals(c, organization_id, page, from_, to)
