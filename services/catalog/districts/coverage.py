"""Coverage per district, vectorized (numpy and shapely's C routines): no SQL round trip per cell.

The grid: one lattice for every district, so neighbouring districts share cell edges. Cell (i, j) is centred
at ((i + 0.5) * lat_step, (j + 0.5) * lon_step) with lat_step = cell_m / 111,319 m and lon_step = lat_step /
cos(ref_lat), ref_lat the middle latitude of every loaded district together (cells are `cell_m` wide there).
A cell belongs to the district whose polygon covers its centre (the boundary rule: the smallest code on a
tie). It is covered when the nearest counted site is within `walk_minutes`, i.e. distance_m <= 75 *
walk_minutes, distance_m measured exactly as PostgreSQL's earthdistance does (services/catalog/geo.py: the
chord between `ll_to_earth` points on the sphere of radius `earth()`, turned into the great circle), so this
agrees with `GET /v1/coverage` and the walking-distance search.

The nearest site: by brute force (a pass over every cell per site: on the sphere the nearest point is the one
of largest dot product) while there are few sites; beyond, an STRtree of the sites in an
azimuthal equidistant plane proposes candidates that provably contain the nearest site (see `_nearest_by_tree`),
and the exact distance decides among them wherever a cell could be covered (far from every site, the
plane's nearest site is reported: within 0.02% of the nearest distance).

Why not one SQL statement, as `GET /v1/coverage` does: a whole city at 500 m is about 70,000 cells; an
index probe per cell (EXISTS, then a KNN probe for the nearest site of each uncovered one) costs about a
second, and the point-in-polygon test needs shapely anyway. Reading the sites once and working on arrays
answers the demo city in tens of milliseconds.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from services.catalog.districts.geometry import DistrictShape, FloatArray, IntArray
from services.catalog.geo import EARTH_RADIUS_M, METRES_PER_DEGREE_LATITUDE
from shared.errors import Unprocessable

# Cells of every district's bounding box together (a rural county at 100 m would otherwise be millions).
MAX_GRID_CELLS = 600_000
# Sites up to which the nearest one is found by brute force (a pass over every cell per site).
BRUTE_FORCE_SITES = 256


@dataclass(frozen=True, slots=True)
class Lattice:
    cell_m: int
    lat_step: float
    lon_step: float
    ref_lat: float


def lattice_for(shapes: Sequence[DistrictShape], cell_m: int) -> Lattice:
    min_lat = min(shape.geometry.bounds[1] for shape in shapes)
    max_lat = max(shape.geometry.bounds[3] for shape in shapes)
    ref_lat = (min_lat + max_lat) / 2
    lat_step = cell_m / METRES_PER_DEGREE_LATITUDE
    lon_step = lat_step / max(math.cos(math.radians(ref_lat)), 1e-6)
    return Lattice(cell_m=cell_m, lat_step=lat_step, lon_step=lon_step, ref_lat=ref_lat)


def _index_range(low: float, high: float, step: float) -> tuple[int, int]:
    """Indices i with low <= (i + 0.5) * step <= high (first, last + 1)."""
    first = math.ceil(low / step - 0.5)
    last = math.floor(high / step - 0.5)
    return first, max(first, last + 1)


@dataclass(frozen=True, slots=True)
class Cells:
    """Cell centres inside districts, ordered by district, then lat, then lon."""

    rows: IntArray
    cols: IntArray
    lat: FloatArray
    lon: FloatArray
    district: IntArray  # index into the shapes


def district_cells(shapes: Sequence[DistrictShape], lattice: Lattice) -> Cells:
    """Every lattice cell whose centre a district covers, each in one district only (the boundary rule)."""
    ranges = []
    total = 0
    for shape in shapes:
        min_lon, min_lat, max_lon, max_lat = shape.geometry.bounds
        rows = _index_range(min_lat, max_lat, lattice.lat_step)
        cols = _index_range(min_lon, max_lon, lattice.lon_step)
        ranges.append((rows, cols))
        total += (rows[1] - rows[0]) * (cols[1] - cols[0])
    if total > MAX_GRID_CELLS:
        raise Unprocessable(
            f"The districts span {total} cells of {lattice.cell_m} m; at most {MAX_GRID_CELLS}: use a larger cell_m",
            pointer="/query/cell_m",
        )
    parts: list[tuple[IntArray, IntArray, IntArray]] = []
    for index, (shape, (rows, cols)) in enumerate(zip(shapes, ranges, strict=True)):
        grid_r, grid_c = np.meshgrid(np.arange(*rows, dtype=np.int64), np.arange(*cols, dtype=np.int64), indexing="ij")
        r: IntArray = grid_r.ravel()
        c: IntArray = grid_c.ravel()
        inside = shapely.intersects_xy(shape.geometry, (c + 0.5) * lattice.lon_step, (r + 0.5) * lattice.lat_step)
        parts.append((r[inside], c[inside], np.full(int(inside.sum()), index, dtype=np.int64)))
    rows_all = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
    cols_all = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.int64)
    owner = np.concatenate([p[2] for p in parts]) if parts else np.empty(0, np.int64)
    # A centre two districts cover goes to the smallest code: sort by (cell, code) and keep the first.
    codes = np.array([shape.code for shape in shapes], dtype=object)
    code_rank = np.empty(len(shapes), dtype=np.int64)
    code_rank[sorted(range(len(shapes)), key=lambda i: codes[i])] = np.arange(len(shapes))
    order = np.lexsort((code_rank[owner], cols_all, rows_all))
    rows_all, cols_all, owner = rows_all[order], cols_all[order], owner[order]
    if len(rows_all):
        first = np.ones(len(rows_all), dtype=bool)
        first[1:] = (rows_all[1:] != rows_all[:-1]) | (cols_all[1:] != cols_all[:-1])
        rows_all, cols_all, owner = rows_all[first], cols_all[first], owner[first]
    order = np.lexsort((cols_all, rows_all, owner))
    rows_all, cols_all, owner = rows_all[order], cols_all[order], owner[order]
    lat = ((rows_all + 0.5) * lattice.lat_step).astype(np.float64)
    lon = ((cols_all + 0.5) * lattice.lon_step).astype(np.float64)
    return Cells(rows=rows_all, cols=cols_all, lat=lat, lon=lon, district=owner)


def _unit_vectors(lat: FloatArray, lon: FloatArray) -> FloatArray:
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)))


def earth_distance_m(lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray) -> FloatArray:
    """earthdistance's `earth_distance(ll_to_earth(lat1, lon1), ll_to_earth(lat2, lon2))`, elementwise."""
    chord = np.linalg.norm(_unit_vectors(lat1, lon1) - _unit_vectors(lat2, lon2), axis=1)
    result: FloatArray = 2 * EARTH_RADIUS_M * np.arcsin(np.clip(chord / 2, 0.0, 1.0))
    return result


def nearest_sites(
    cell_lat: FloatArray, cell_lon: FloatArray, site_lat: FloatArray, site_lon: FloatArray, exact_within_m: float
) -> tuple[IntArray, FloatArray]:
    """For each cell, the index of the nearest site (the lowest index on an exact tie) and its exact distance
    in metres; (-1, inf) when there is no site. With many sites, a cell farther than `exact_within_m` from
    every site may get one within 0.02% of the nearest distance instead (see `_nearest_by_tree`)."""
    n = len(cell_lat)
    if len(site_lat) == 0 or n == 0:
        return np.full(n, -1, dtype=np.int64), np.full(n, np.inf)
    if len(site_lat) > BRUTE_FORCE_SITES:
        found = _nearest_by_tree(cell_lat, cell_lon, site_lat, site_lon, exact_within_m)
        if found is not None:
            return found
    return _nearest_by_brute_force(cell_lat, cell_lon, site_lat, site_lon)


def _nearest_by_brute_force(
    cell_lat: FloatArray, cell_lon: FloatArray, site_lat: FloatArray, site_lon: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Site by site over every cell at once, keeping the largest dot product (on the sphere, the nearest);
    a later site replaces the best only when strictly nearer, so the lowest index wins a tie."""
    cells = _unit_vectors(cell_lat, cell_lon)
    x, y, z = (np.ascontiguousarray(cells[:, axis]) for axis in range(3))
    sites = _unit_vectors(site_lat, site_lon)
    best = np.full(len(cell_lat), -2.0)
    index = np.zeros(len(cell_lat), dtype=np.int64)
    dot = np.empty(len(cell_lat))
    scratch = np.empty(len(cell_lat))
    for site_index, (sx, sy, sz) in enumerate(sites.tolist()):
        np.multiply(x, sx, out=dot)
        np.multiply(y, sy, out=scratch)
        dot += scratch
        np.multiply(z, sz, out=scratch)
        dot += scratch
        nearer = dot > best
        best[nearer] = dot[nearer]
        index[nearer] = site_index
    return index, earth_distance_m(cell_lat, cell_lon, site_lat[index], site_lon[index])


def _azimuthal_equidistant(
    lat: FloatArray, lon: FloatArray, centre_lat: float, centre_lon: float
) -> npt.NDArray[np.object_]:
    """Points of the azimuthal equidistant projection about the centre (metres on the sphere of `earth()`)."""
    phi, dlam = np.radians(lat), np.radians(lon - centre_lon)
    phi1 = math.radians(centre_lat)
    arc = earth_distance_m(np.full_like(lat, centre_lat), np.full_like(lon, centre_lon), lat, lon) / EARTH_RADIUS_M
    stretch = np.where(arc < 1e-12, 1.0, arc / np.sin(np.maximum(arc, 1e-12)))
    x = EARTH_RADIUS_M * stretch * np.cos(phi) * np.sin(dlam)
    y = EARTH_RADIUS_M * stretch * (math.cos(phi1) * np.sin(phi) - math.sin(phi1) * np.cos(phi) * np.cos(dlam))
    points: npt.NDArray[np.object_] = shapely.points(x, y)
    return points


def _nearest_by_tree(
    cell_lat: FloatArray, cell_lon: FloatArray, site_lat: FloatArray, site_lon: FloatArray, exact_within_m: float
) -> tuple[IntArray, FloatArray] | None:
    """An STRtree of the sites in the azimuthal equidistant projection about the cells' middle. That
    projection keeps distances from its centre and only stretches across, by at most k = (rho / R) /
    sin(rho / R) within rho of the centre, so for any two points gc <= planar <= k * gc (gc: the great
    circle distance), with rho covering every great circle considered (k is about 1.0002 for a city 100 km
    across). The plane's nearest site p of a cell is therefore within a factor k of the true nearest
    distance (gc(p) <= planar(p) <= planar(true) <= k * gc(true)); its exact distance is what is reported.
    Exact where it matters: every cell whose planar nearest is within k * `exact_within_m` (the walk radius:
    every cell that could be covered) gets all sites within planar k * gc(p), which holds the true nearest,
    and the exact distance picks it (the lowest index on a tie). None (brute force instead) when rho reaches
    a quarter of the globe."""
    centre_lat = (float(cell_lat.min()) + float(cell_lat.max())) / 2
    centre_lon = (float(cell_lon.min()) + float(cell_lon.max())) / 2
    cells = _azimuthal_equidistant(cell_lat, cell_lon, centre_lat, centre_lon)
    tree = shapely.STRtree(_azimuthal_equidistant(site_lat, site_lon, centre_lat, centre_lon))
    proposed = tree.query_nearest(cells, all_matches=False)
    nearest = np.full(len(cell_lat), -1, dtype=np.int64)
    nearest[proposed[0]] = proposed[1]
    nearest_m = earth_distance_m(cell_lat, cell_lon, site_lat[nearest], site_lon[nearest])
    centres = np.full_like(cell_lat, centre_lat), np.full_like(cell_lon, centre_lon)
    rho = float((earth_distance_m(*centres, cell_lat, cell_lon) + nearest_m).max()) / EARTH_RADIUS_M
    if not rho < math.pi / 2:
        return None
    k = rho / math.sin(rho) if rho > 1e-9 else 1.0
    planar = shapely.distance(cells, tree.geometries.take(nearest))
    near = np.flatnonzero(planar <= k * exact_within_m * (1 + 1e-9) + 1e-3)
    if len(near) == 0:
        return nearest, nearest_m
    pairs = tree.query(cells[near], predicate="dwithin", distance=nearest_m[near] * k * (1 + 1e-9) + 1e-3)
    cell_index, site_index = near[pairs[0]], pairs[1]
    distance = earth_distance_m(cell_lat[cell_index], cell_lon[cell_index], site_lat[site_index], site_lon[site_index])
    order = np.lexsort((site_index, distance, cell_index))
    cell_index, site_index, distance = cell_index[order], site_index[order], distance[order]
    first = np.ones(len(cell_index), dtype=bool)
    first[1:] = cell_index[1:] != cell_index[:-1]
    nearest[cell_index[first]] = site_index[first]
    nearest_m[cell_index[first]] = distance[first]
    return nearest, nearest_m
