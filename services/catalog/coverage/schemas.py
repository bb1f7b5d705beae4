from pydantic import Field

from shared.schemas import Output

MAX_CELLS = 40_000


class CellCentre(Output):
    lat: float
    lon: float


class CoverageOut(Output):
    cells_total: int
    cells_covered: int
    share_covered: float = Field(description="cells_covered / cells_total")
    rows: int = Field(description="Grid rows (south to north)")
    cols: int = Field(description="Grid columns (west to east)")
    uncovered: list[CellCentre] = Field(description="Centres of the cells not covered, ordered by lat, lon")
