from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from services.catalog.activities.schemas import ActivityKind
from services.catalog.geo import DEFAULT_WALK_MINUTES, NearDep, WalkMinutes
from services.catalog.schemas import CatalogTime, Slug
from services.catalog.search import service
from services.catalog.search.repository import SearchFilters
from services.catalog.search.schemas import SearchItem, SearchMode, SearchSort, TextQuery
from services.catalog.sites.filters import AccessibilityDep
from shared.db import utcnow
from shared.driver import DriverPoolDep
from shared.errors import Unprocessable, problem_responses
from shared.pagination import Page, PageDep
from shared.schemas import AcceptLanguage

router = APIRouter(prefix="/v1/search", tags=["search"])

SEARCH_DESCRIPTION = """Scheduled sessions starting in [`from`, `to`) (`from` defaults to now, `to` to `from` + 366
days; the window may span at most 366 days).

**Where.** With `near`: sessions at sites within `walk_minutes` (ceil(distance_m / 75) <= walk_minutes), then
the online sessions (no site, `distance_m` null), unless `mode=in_person` or `accessibility` is given (both
need a site). Without `near`: every session, online ones included, with `distance_m` null.

**Text (`q`).** Matches an activity whose titles, descriptions, site name or series name (every language)
contain `q`, or have a run of words similar to it (pg_trgm word similarity >= 0.6: `poetri` finds
"poetry", `readin` finds "reading"). Chinese needs no spaces: text and query are also indexed as
two-character pairs, so `西湖` and `西湖读书` find the West Lake Reading Festival (西湖读书节).

**Order.** `sort=relevance` (the default with `q`):
`relevance = (2 * sim(title) + sim(site and series names) + sim(all text)) / 4` (0..1), where `sim` is the
word similarity of `q` with that text (for all text, 1 when `q` is a substring of it); so a title match ranks
above a description match. With `near` the
score is `relevance * (1 - 0.5 * distance_m / (75 * walk_minutes))`: at the walk's edge a session keeps half
its relevance. Without `near`, when more than 200 activities match, the results are the sessions of the
200 activities nearest `q` in word similarity (found through an index, so a common word stays fast), ranked
by this relevance; pages end after their sessions. `sort=distance` (the default with `near` and no `q`):
nearest first. `sort=starts_at` (the default otherwise): earliest first. Ties are broken by start time, then
session id, so the cursor pages never repeat or skip a session; with `near`, online sessions come after the
walkable ones in the same order (relevance or start time).

**Filters.** `accessibility=step_free,hearing_loop`: the session's site has every listed feature.
`mode=online`: online and hybrid activities; `mode=in_person`: in-person and hybrid; `any` (default): all.
`free=true`: only free activities (price 0; `free=false` does not filter). `available=true`: only sessions
with free seats (`available=false` does not filter)."""


@router.get(
    "/sessions",
    summary="Find upcoming sessions by text, place, time and needs (ranked with `q`)",
    description=SEARCH_DESCRIPTION,
    operation_id="searchSessions",
    response_model=Page[SearchItem],
    responses=problem_responses(422, 503),
)
async def search_sessions(
    reads: DriverPoolDep,
    page: PageDep,
    near: NearDep,
    accessibility: AccessibilityDep,
    walk_minutes: WalkMinutes = DEFAULT_WALK_MINUTES,
    q: TextQuery = None,
    kind: Annotated[ActivityKind | None, Query()] = None,
    audience: Annotated[Slug | None, Query()] = None,
    topic: Annotated[Slug | None, Query()] = None,
    series_id: Annotated[UUID | None, Query()] = None,
    starts_from: Annotated[CatalogTime | None, Query(alias="from")] = None,
    starts_before: Annotated[CatalogTime | None, Query(alias="to")] = None,
    available: Annotated[bool | None, Query(description="true: only sessions with free seats")] = None,
    mode: Annotated[SearchMode, Query(description="online: online or hybrid; in_person: in person or hybrid")] = (
        SearchMode.any
    ),
    free: Annotated[bool | None, Query(description="true: only free activities (price 0)")] = None,
    sort: Annotated[
        SearchSort | None,
        Query(description="Default: relevance with `q`, else distance with `near`, else starts_at"),
    ] = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    if sort is SearchSort.distance and near is None:
        raise Unprocessable("sort=distance needs `near`", pointer="/query/sort")
    if sort is SearchSort.relevance and q is None:
        raise Unprocessable("sort=relevance needs `q`", pointer="/query/sort")
    start, end = service.time_window(starts_from, starts_before, now=utcnow())
    default_sort = SearchSort.relevance if q else SearchSort.distance if near else SearchSort.starts_at
    filters = SearchFilters(
        near=near,
        walk_minutes=walk_minutes,
        starts_from=start,
        starts_before=end,
        sort=sort or default_sort,
        q=q,
        kind=kind.value if kind else None,
        audience=audience,
        topic=topic,
        series_id=series_id,
        available_only=bool(available),
        accessibility=accessibility,
        mode=mode,
        free_only=bool(free),
    )
    body = await service.search_sessions(reads, filters, page, accept_language=accept_language)
    return Response(body, media_type="application/json")
