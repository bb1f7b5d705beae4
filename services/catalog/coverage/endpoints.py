from typing import Annotated

from fastapi import APIRouter, Query

from services.catalog.coverage import service
from services.catalog.coverage.schemas import CoverageOut
from services.catalog.geo import DEFAULT_WALK_MINUTES, WalkMinutes
from services.catalog.sites.schemas import SiteKind
from shared.db import SessionDep
from shared.errors import problem_responses

router = APIRouter(prefix="/v1/coverage", tags=["coverage"])


@router.get(
    "",
    summary="How much of an area is within a walk of a learning site (the 15-minute cultural circle)",
    description="The box is cut into equal cells at most `cell_m` on a side (at most 40,000 cells); a cell is "
    "covered when its centre is within `walk_minutes` (ceil(distance_m / 75) <= walk_minutes) of a site, "
    "of `kind` when given (online sites count only when `kind=online` is asked for). Returns every "
    "uncovered cell's centre, ordered by lat, lon.",
    operation_id="getCoverage",
    responses=problem_responses(422),
)
async def get_coverage(
    db: SessionDep,
    bbox: Annotated[
        str,
        Query(
            max_length=200,
            pattern=r"^-?\d{1,3}(\.\d{1,15})?(,-?\d{1,3}(\.\d{1,15})?){3}$",
            description="min_lon,min_lat,max_lon,max_lat in decimal degrees (min < max)",
            examples=["120.10,30.20,120.25,30.32"],
        ),
    ],
    cell_m: Annotated[int, Query(ge=100, le=100_000, description="Cell size in metres")],
    walk_minutes: WalkMinutes = DEFAULT_WALK_MINUTES,
    kind: Annotated[SiteKind | None, Query()] = None,
) -> CoverageOut:
    return await service.coverage(
        db,
        service.parse_bbox(bbox),
        cell_m=cell_m,
        walk_minutes=walk_minutes,
        kind=kind.value if kind else None,
    )
