import math

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.coverage.repository import Grid, cell_coverage
from services.catalog.coverage.schemas import MAX_CELLS, CellCentre, CoverageOut
from services.catalog.geo import METRES_PER_DEGREE_LATITUDE
from shared.errors import Unprocessable

BBOX_POINTER = "/query/bbox"
# A box that is an exact multiple of the cell size must not gain a sliver row from rounding.
_ROUNDING_SLACK = 1e-9


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    """`min_lon,min_lat,max_lon,max_lat` in degrees; 422 unless well-formed, on the globe, and min < max."""
    parts = raw.split(",")
    try:
        if len(parts) != 4:
            raise ValueError
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in parts)
    except ValueError as exc:
        raise Unprocessable(
            "Expected `min_lon,min_lat,max_lon,max_lat` in decimal degrees", pointer=BBOX_POINTER
        ) from exc
    if not all(math.isfinite(v) for v in (min_lon, min_lat, max_lon, max_lat)):
        raise Unprocessable("Coordinates must be finite numbers", pointer=BBOX_POINTER)
    if not (-90 <= min_lat < max_lat <= 90):
        raise Unprocessable("Latitudes must satisfy -90 <= min_lat < max_lat <= 90", pointer=BBOX_POINTER)
    if not (-180 <= min_lon < max_lon <= 180):
        raise Unprocessable("Longitudes must satisfy -180 <= min_lon < max_lon <= 180", pointer=BBOX_POINTER)
    return min_lon, min_lat, max_lon, max_lat


def grid_for(bbox: tuple[float, float, float, float], cell_m: int) -> Grid:
    """ceil(height / cell_m) rows and ceil(width / cell_m) columns of equal cells (each at most cell_m on a
    side), width measured at the box's middle latitude; 422 beyond 40,000 cells."""
    min_lon, min_lat, max_lon, max_lat = bbox
    height_m = (max_lat - min_lat) * METRES_PER_DEGREE_LATITUDE
    width_m = (max_lon - min_lon) * METRES_PER_DEGREE_LATITUDE * math.cos(math.radians((min_lat + max_lat) / 2))
    rows = max(1, math.ceil(height_m / cell_m - _ROUNDING_SLACK))
    cols = max(1, math.ceil(width_m / cell_m - _ROUNDING_SLACK))
    if rows * cols > MAX_CELLS:
        raise Unprocessable(
            f"The box holds {rows * cols} cells of {cell_m} m; at most {MAX_CELLS}: use a larger cell_m or a "
            "smaller bbox",
            pointer="/query/cell_m",
        )
    return Grid(
        min_lat=min_lat,
        min_lon=min_lon,
        lat_step=(max_lat - min_lat) / rows,
        lon_step=(max_lon - min_lon) / cols,
        rows=rows,
        cols=cols,
    )


async def coverage(
    db: AsyncSession, bbox: tuple[float, float, float, float], *, cell_m: int, walk_minutes: int, kind: str | None
) -> CoverageOut:
    grid = grid_for(bbox, cell_m)
    cells = await cell_coverage(db, grid, walk_minutes=walk_minutes, kind=kind)
    uncovered = [CellCentre(lat=round(lat, 7), lon=round(lon, 7)) for lat, lon, covered in cells if not covered]
    total = len(cells)
    return CoverageOut(
        cells_total=total,
        cells_covered=total - len(uncovered),
        share_covered=(total - len(uncovered)) / total,
        rows=grid.rows,
        cols=grid.cols,
        uncovered=uncovered,
    )
