from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from services.catalog.activities.schemas import ActivityKind
from services.catalog.geo import DEFAULT_WALK_MINUTES, NearDep, WalkMinutes
from services.catalog.schemas import CatalogTime, Slug
from services.catalog.search import service
from services.catalog.search.repository import SearchFilters
from services.catalog.search.schemas import SearchItem, SearchSort
from shared.db import utcnow
from shared.driver import DriverPoolDep
from shared.errors import Unprocessable, problem_responses
from shared.pagination import Page, PageDep
from shared.schemas import AcceptLanguage

router = APIRouter(prefix="/v1/search", tags=["search"])


@router.get(
    "/sessions",
    summary="Find upcoming sessions, within a walk of a point",
    description="Scheduled sessions starting in [`from`, `to`) (`from` defaults to now, `to` to `from` + 366 "
    "days; the window may span at most 366 days). With `near`: only sessions at sites within `walk_minutes` "
    "(ceil(distance_m / 75) <= walk_minutes), sorted nearest first unless `sort=starts_at`. `q` matches a "
    "substring of the activity's title or description in any language. `available=true` keeps sessions "
    "with free seats (`available=false` does not filter). Ties are broken by session id, so the cursor "
    "pages never repeat or skip a session.",
    operation_id="searchSessions",
    response_model=Page[SearchItem],
    responses=problem_responses(422, 503),
)
async def search_sessions(
    reads: DriverPoolDep,
    page: PageDep,
    near: NearDep,
    walk_minutes: WalkMinutes = DEFAULT_WALK_MINUTES,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="Text in any language")] = None,
    kind: Annotated[ActivityKind | None, Query()] = None,
    audience: Annotated[Slug | None, Query()] = None,
    topic: Annotated[Slug | None, Query()] = None,
    series_id: Annotated[UUID | None, Query()] = None,
    starts_from: Annotated[CatalogTime | None, Query(alias="from")] = None,
    starts_before: Annotated[CatalogTime | None, Query(alias="to")] = None,
    available: Annotated[bool | None, Query(description="true: only sessions with free seats")] = None,
    sort: Annotated[SearchSort | None, Query(description="Default: distance with `near`, else starts_at")] = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    if sort is SearchSort.distance and near is None:
        raise Unprocessable("sort=distance needs `near`", pointer="/query/sort")
    start, end = service.time_window(starts_from, starts_before, now=utcnow())
    filters = SearchFilters(
        near=near,
        walk_minutes=walk_minutes,
        starts_from=start,
        starts_before=end,
        sort=sort or (SearchSort.distance if near is not None else SearchSort.starts_at),
        q=q,
        kind=kind.value if kind else None,
        audience=audience,
        topic=topic,
        series_id=series_id,
        available_only=bool(available),
    )
    body = await service.search_sessions(reads, filters, page, accept_language=accept_language)
    return Response(body, media_type="application/json")
