from fastapi import APIRouter, status

from services.catalog.dependencies import OrganizationsDep, SeriesDep
from services.catalog.series import service
from services.catalog.series.schemas import SeriesCreate, SeriesOut
from shared.auth import CurrentPerson
from shared.authz import MembershipsDep
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.schemas import AcceptLanguage

router = APIRouter(prefix="/v1/series", tags=["series"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a series: a festival, programme or course (admin of the organizing organization)",
    operation_id="createSeries",
    responses=problem_responses(401, 403, 413, 422, 503),
)
async def create_series(
    body: SeriesCreate,
    principal: CurrentPerson,
    memberships: MembershipsDep,
    organizations: OrganizationsDep,
    db: SessionDep,
    accept_language: AcceptLanguage = None,
) -> SeriesOut:
    series = await service.create_series(db, principal, memberships, organizations, body)
    return service.series_out(series, accept_language)


@router.get("/{series_id}", summary="Get a series", operation_id="getSeries", responses=problem_responses(404, 422))
async def get_series(series: SeriesDep, accept_language: AcceptLanguage = None) -> SeriesOut:
    return service.series_out(series, accept_language)
