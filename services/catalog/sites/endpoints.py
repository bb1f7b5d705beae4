from typing import Annotated

from fastapi import APIRouter, Query, status

from services.catalog.dependencies import OrganizationsDep, SiteDep
from services.catalog.geo import DEFAULT_WALK_MINUTES, NearDep, WalkMinutes
from services.catalog.search.schemas import TextQuery
from services.catalog.sites import service
from services.catalog.sites.filters import AccessibilityDep
from services.catalog.sites.schemas import SiteCreate, SiteKind, SiteListItem, SiteOut
from shared.auth import CurrentPerson
from shared.authz import MembershipsDep
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.events.wiring import OutboxDep
from shared.pagination import Page, PageDep
from shared.schemas import AcceptLanguage

router = APIRouter(prefix="/v1/sites", tags=["sites"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a learning site (admin of the owning organization)",
    description="The site's `district_id` is the loaded district whose polygon covers its location (on a shared "
    "boundary the smallest district code; null outside every district). Booking hears of every new site "
    "(`site.changed`).",
    operation_id="createSite",
    responses=problem_responses(401, 403, 413, 422, 503),
)
async def create_site(
    body: SiteCreate,
    principal: CurrentPerson,
    memberships: MembershipsDep,
    organizations: OrganizationsDep,
    db: SessionDep,
    outbox: OutboxDep,
    accept_language: AcceptLanguage = None,
) -> SiteOut:
    site = await service.create_site(db, principal, memberships, organizations, body, outbox)
    return service.site_out(site, accept_language)


@router.get(
    "",
    summary="List sites, find them by name, or the sites within a walk of a point (nearest first)",
    description="With `near`: only sites within `walk_minutes` (ceil(distance_m / 75) <= walk_minutes), "
    "nearest first, each with `distance_m` and `walk_minutes`. `q`: only sites whose name, in any language, "
    "contains `q` or has a run of words similar to it (pg_trgm word similarity >= 0.6, so typos and partial "
    "words match; Chinese needs no spaces); without `near` the most similar name comes first "
    "(ties by id). `accessibility=step_free,hearing_loop`: only sites with every listed feature. "
    "Otherwise every site, by id.",
    operation_id="listSites",
    responses=problem_responses(422),
)
async def list_sites(
    db: SessionDep,
    page: PageDep,
    near: NearDep,
    accessibility: AccessibilityDep,
    walk_minutes: WalkMinutes = DEFAULT_WALK_MINUTES,
    kind: Annotated[SiteKind | None, Query()] = None,
    q: TextQuery = None,
    accept_language: AcceptLanguage = None,
) -> Page[SiteListItem]:
    return await service.list_sites(
        db,
        page,
        near=near,
        walk_minutes=walk_minutes,
        kind=kind.value if kind else None,
        q=q,
        accessibility=accessibility,
        accept_language=accept_language,
    )


@router.get("/{site_id}", summary="Get a site", operation_id="getSite", responses=problem_responses(404, 422))
async def get_site(site: SiteDep, accept_language: AcceptLanguage = None) -> SiteOut:
    return service.site_out(site, accept_language)
