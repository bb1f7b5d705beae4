from dataclasses import dataclass

from sqlalchemy import Double, exists, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.geo import within_walk_between
from services.catalog.models import Site


@dataclass(frozen=True, slots=True)
class Grid:
    """`rows` x `cols` equal cells tiling a bounding box; cell (r, c) has its centre at
    (min_lat + (r + 0.5) * lat_step, min_lon + (c + 0.5) * lon_step)."""

    min_lat: float
    min_lon: float
    lat_step: float
    lon_step: float
    rows: int
    cols: int


async def cell_coverage(
    db: AsyncSession, grid: Grid, *, walk_minutes: int, kind: str | None
) -> list[tuple[float, float, bool]]:
    """(lat, lon, covered) of every cell centre, ordered by lat, lon: one statement, each cell an indexed
    EXISTS (earth_box on the sites' GiST index, then the exact distance)."""
    rows = func.generate_series(0, grid.rows - 1).table_valued("r").render_derived()
    cols = func.generate_series(0, grid.cols - 1).table_valued("c").render_derived()
    row, col = rows.c.r, cols.c.c
    cells = (
        select(
            row.label("r"),
            col.label("c"),
            (literal(grid.min_lat, Double) + (row + 0.5) * literal(grid.lat_step, Double)).label("lat"),
            (literal(grid.min_lon, Double) + (col + 0.5) * literal(grid.lon_step, Double)).label("lon"),
        )
        .select_from(rows.join(cols, true()))  # every row with every column: the grid
        .cte("cells")
    )
    site_kind = Site.kind == kind if kind is not None else Site.kind != "online"
    covered = exists().where(within_walk_between(cells.c.lat, cells.c.lon, walk_minutes, Site.lat, Site.lon), site_kind)
    statement = select(cells.c.lat, cells.c.lon, covered.label("covered")).order_by(cells.c.r, cells.c.c)
    result = await db.execute(statement)
    return [(lat, lon, is_covered) for lat, lon, is_covered in result]
