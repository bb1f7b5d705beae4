"""`GET /v1/coverage/districts`: the figures (computed once) and their JSON form; render.py draws the rest."""

from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.districts.coverage import Cells, Lattice, district_cells, lattice_for, nearest_sites
from services.catalog.districts.geometry import DistrictShape, FloatArray, IntArray
from services.catalog.districts.repository import DistrictRepository, SitePointRepository
from services.catalog.districts.service import district_shape
from services.catalog.geo import WALK_METRES_PER_MINUTE, walk_radius_m
from services.catalog.models import District
from shared.schemas import pick_language


@dataclass(frozen=True, slots=True)
class CountedSite:
    id: UUID
    lat: float
    lon: float
    kind: str
    name: dict[str, str]


@dataclass(frozen=True, slots=True)
class Report:
    walk_minutes: int
    kind: str | None
    lattice: Lattice | None
    districts: list[District]
    shapes: list[DistrictShape]
    cells: Cells | None
    covered: Any  # bool array, one per cell
    nearest: IntArray
    nearest_m: FloatArray
    sites: list[CountedSite]

    def district_totals(self) -> list[tuple[int, int]]:
        """(cells_total, cells_covered) of each district."""
        if self.cells is None:
            return [(0, 0) for _ in self.districts]
        count = len(self.districts)
        totals = np.bincount(self.cells.district, minlength=count)
        covered = np.bincount(self.cells.district, weights=self.covered, minlength=count)
        return [(int(t), int(c)) for t, c in zip(totals.tolist(), covered.tolist(), strict=True)]

    def city_share(self) -> tuple[float | None, Literal["population", "cells"], int, int]:
        totals = self.district_totals()
        cells_total = sum(t for t, _ in totals)
        cells_covered = sum(c for _, c in totals)
        with_cells = [(d, c / t) for d, (t, c) in zip(self.districts, totals, strict=True) if t]
        if self.districts and all(d.population is not None for d in self.districts):
            population = sum(d.population or 0 for d, _ in with_cells)
            if population > 0:
                weighted = sum((d.population or 0) * share for d, share in with_cells) / population
                return weighted, "population", cells_total, cells_covered
        return (cells_covered / cells_total if cells_total else None), "cells", cells_total, cells_covered


async def build_report(
    db: AsyncSession, *, walk_minutes: int, cell_m: int, kind: str | None, codes: list[str] | None
) -> Report:
    districts = await DistrictRepository(db).everything()
    all_shapes = [district_shape(district) for district in districts]
    counted = [CountedSite(*row) for row in await SitePointRepository(db).counted_sites(kind)]
    # The lattice comes from every loaded district, so cells do not move when `code` narrows the answer.
    lattice = lattice_for(all_shapes, cell_m) if all_shapes else None
    if codes:
        wanted = set(codes)
        chosen = [(d, s) for d, s in zip(districts, all_shapes, strict=True) if d.code in wanted]
        districts, shapes = [d for d, _ in chosen], [s for _, s in chosen]
    else:
        shapes = all_shapes
    empty_int = np.empty(0, dtype=np.int64)
    if lattice is None or not shapes:
        return Report(
            walk_minutes, kind, lattice, districts, shapes, None, np.empty(0, bool), empty_int, np.empty(0), counted
        )
    cells = district_cells(shapes, lattice)
    site_lat = np.fromiter((s.lat for s in counted), dtype=np.float64, count=len(counted))
    site_lon = np.fromiter((s.lon for s in counted), dtype=np.float64, count=len(counted))
    radius = walk_radius_m(walk_minutes)
    nearest, nearest_m = nearest_sites(cells.lat, cells.lon, site_lat, site_lon, radius)
    covered = nearest_m <= radius
    return Report(walk_minutes, kind, lattice, districts, shapes, cells, covered, nearest, nearest_m, counted)


def report_json(report: Report, accept_language: str | None) -> dict[str, Any]:
    """The `application/json` answer (DistrictsCoverageOut), built as plain data: tens of thousands of cells
    serialize far faster this way than as pydantic models."""
    share, basis, cells_total, cells_covered = report.city_share()
    lattice = report.lattice
    items = []
    uncovered_by_district: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(report.districts))}
    if report.cells is not None and len(report.cells.lat):
        cells = report.cells
        uncovered = np.flatnonzero(~report.covered)
        metres = report.nearest_m[uncovered]
        has_site = np.isfinite(metres)
        lats = np.round(cells.lat[uncovered], 7).tolist()
        lons = np.round(cells.lon[uncovered], 7).tolist()
        distances = np.round(np.where(has_site, metres, 0.0), 1).tolist()
        # walk_minutes_for (ceil(distance_m / 75)), vectorized.
        minutes = np.ceil(np.where(has_site, metres, 0.0) / WALK_METRES_PER_MINUTE).astype(np.int64).tolist()
        nearest = report.nearest[uncovered].tolist()
        owners = cells.district[uncovered].tolist()
        site_ids = [str(site.id) for site in report.sites]
        for lat, lon, distance, walk, site_index, owner in zip(
            lats, lons, distances, minutes, nearest, owners, strict=True
        ):
            nearest_site = (
                None
                if site_index < 0
                else {
                    "site_id": site_ids[site_index],
                    "distance_m": distance,
                    "walk_minutes": walk,
                }
            )
            uncovered_by_district[owner].append({"lat": lat, "lon": lon, "nearest_site": nearest_site})
    for index, (district, (total, covered)) in enumerate(zip(report.districts, report.district_totals(), strict=True)):
        items.append(
            {
                "district_id": str(district.id),
                "code": district.code,
                "name": district.name,
                "name_display": pick_language(district.name, accept_language) or district.code,
                "urban": district.urban,
                "population": district.population,
                "area_m2": round(district.area_m2, 1),
                "cells_total": total,
                "cells_covered": covered,
                "share_covered": covered / total if total else None,
                "uncovered": uncovered_by_district[index],
            }
        )
    return {
        "walk_minutes": report.walk_minutes,
        "kind": report.kind,
        "grid": None
        if lattice is None
        else {
            "cell_m": lattice.cell_m,
            "lat_step": lattice.lat_step,
            "lon_step": lattice.lon_step,
            "ref_lat": lattice.ref_lat,
        },
        "cells_total": cells_total,
        "cells_covered": cells_covered,
        "share_covered": share,
        "share_basis": basis,
        "items": items,
        "sites": [
            {"site_id": str(site.id), "name": site.name, "kind": site.kind, "lat": site.lat, "lon": site.lon}
            for site in report.sites
        ],
    }
