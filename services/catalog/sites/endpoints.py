from typing import Annotated

from fastapi import APIRouter, Query, status

from services.catalog.dependencies import OrganizationsDep, SiteDep
from services.catalog.geo import DEFAULT_WALK_MINUTES, NearDep, WalkMinutes
from services.catalog.sites import service
from services.catalog.sites.schemas import SiteCreate, SiteKind, SiteListItem, SiteOut
from shared.auth import CurrentPerson
from shared.authz import MembershipsDep
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.pagination import Page, PageDep
from shared.schemas import AcceptLanguage

router = APIRouter(prefix="/v1/sites", tags=["sites"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a learning site (admin of the owning organization)",
    operation_id="createSite",
    responses=problem_responses(401, 403, 413, 422, 503),
)
async def create_site(
    body: SiteCreate,
    principal: CurrentPerson,
    memberships: MembershipsDep,
    organizations: OrganizationsDep,
    db: SessionDep,
    accept_language: AcceptLanguage = None,
) -> SiteOut:
    site = await service.create_site(db, principal, memberships, organizations, body)
    return service.site_out(site, accept_language)


@router.get(
    "",
    summary="List sites, or the sites within a walk of a point (nearest first)",
    description="With `near`: only sites within `walk_minutes` (ceil(distance_m / 75) <= walk_minutes), "
    "nearest first, each with `distance_m` and `walk_minutes`. Without `near`: every site, by id.",
    operation_id="listSites",
    responses=problem_responses(422),
)
async def list_sites(
    db: SessionDep,
    page: PageDep,
    near: NearDep,
    walk_minutes: WalkMinutes = DEFAULT_WALK_MINUTES,
    kind: Annotated[SiteKind | None, Query()] = None,
    accept_language: AcceptLanguage = None,
) -> Page[SiteListItem]:
    return await service.list_sites(
        db,
        page,
        near=near,
        walk_minutes=walk_minutes,
        kind=kind.value if kind else None,
        accept_language=accept_language,
    )


@router.get("/{site_id}", summary="Get a site", operation_id="getSite", responses=problem_responses(404, 422))
async def get_site(site: SiteDep, accept_language: AcceptLanguage = None) -> SiteOut:
    return service.site_out(site, accept_language)
