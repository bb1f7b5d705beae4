"""District polygons with shapely: validation of an operator's GeoJSON geometry, bounding box and area, a
cache of prepared geometries, and the boundary rule (see the package docstring) for one point or many.

Area: the polygon is projected with Lambert's cylindrical equal-area projection whose standard parallel is
the district's middle latitude (x = R * lon * cos(lat0), y = R * sin(lat) / cos(lat0), radians) on a sphere
of the authalic radius R = 6,371,007.2 m; that projection preserves areas on the sphere exactly, so the only
approximations are the sphere itself (within about 0.3% of the WGS 84 ellipsoid at Hangzhou's latitude) and
edges drawn straight in the projection rather than along great circles (negligible at district scale).
"""

import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.polygon import orient

from shared.errors import Unprocessable

AUTHALIC_RADIUS_M = 6_371_007.2
MAX_VERTICES_PER_DISTRICT = 20_000
MAX_RINGS_PER_DISTRICT = 500

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class CleanGeometry:
    """A validated district boundary: the GeoJSON geometry to store (exterior rings counterclockwise, holes
    clockwise, as RFC 7946 asks; no altitude), its bbox and area."""

    geojson: dict[str, Any]
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    area_m2: float


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return list(geometry["coordinates"])
    return [ring for polygon in geometry["coordinates"] for ring in polygon]


def clean_geometry(geometry: dict[str, Any], *, pointer: str) -> CleanGeometry:
    """Check an (already shape-checked) Polygon or MultiPolygon: positions on the globe, closed rings of at
    least four positions, at most 20,000 vertices, a valid area (OGC rules: no self-intersection, holes
    inside); 422 at `pointer` otherwise."""
    rings = _rings(geometry)
    if len(rings) > MAX_RINGS_PER_DISTRICT:
        raise Unprocessable(f"At most {MAX_RINGS_PER_DISTRICT} rings per district", pointer=pointer)
    vertices = sum(len(ring) for ring in rings)
    if vertices > MAX_VERTICES_PER_DISTRICT:
        raise Unprocessable(
            f"The boundary has {vertices} vertices; at most {MAX_VERTICES_PER_DISTRICT} per district (simplify it)",
            pointer=pointer,
        )
    for ring in rings:
        if len(ring) < 4:
            raise Unprocessable("A linear ring needs at least four positions", pointer=pointer)
        if list(ring[0][:2]) != list(ring[-1][:2]):
            raise Unprocessable("A linear ring must end at its first position (RFC 7946 3.1.6)", pointer=pointer)
        for position in ring:
            lon, lat = position[0], position[1]
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):  # also refuses NaN and infinities
                raise Unprocessable(
                    "Positions are [longitude, latitude]: longitude -180..180, latitude -90..90", pointer=pointer
                )
    two_d = {"type": geometry["type"], "coordinates": _strip_altitude(geometry["coordinates"])}
    parsed = shape(two_d)
    if parsed.is_empty or not parsed.is_valid:
        reason = "empty" if parsed.is_empty else shapely.is_valid_reason(parsed)
        raise Unprocessable(f"Not a valid polygon: {reason}", pointer=pointer)
    oriented = _oriented(parsed)
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in oriented.bounds)
    area = area_m2(oriented)
    if area <= 0:
        raise Unprocessable("The polygon has no area", pointer=pointer)
    return CleanGeometry(_as_lists(mapping(oriented)), min_lon, min_lat, max_lon, max_lat, area)


def _strip_altitude(coordinates: Any) -> Any:
    if coordinates and isinstance(coordinates[0], int | float):
        return [float(coordinates[0]), float(coordinates[1])]
    return [_strip_altitude(item) for item in coordinates]


def _as_lists(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_as_lists(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_lists(item) for key, item in value.items()}
    return value


def _oriented(geometry: Any) -> Polygon | MultiPolygon:
    """RFC 7946's right-hand rule: exterior rings counterclockwise, holes clockwise."""
    if isinstance(geometry, Polygon):
        return orient(geometry, sign=1.0)
    assert isinstance(geometry, MultiPolygon)
    return MultiPolygon([orient(part, sign=1.0) for part in geometry.geoms])


def area_m2(geometry: Polygon | MultiPolygon) -> float:
    """Square metres (see the module docstring: Lambert cylindrical equal-area about the middle latitude)."""
    min_lat, max_lat = geometry.bounds[1], geometry.bounds[3]
    cos0 = math.cos(math.radians((min_lat + max_lat) / 2))

    def project(coords: FloatArray) -> FloatArray:
        lon, lat = np.radians(coords[:, 0]), np.radians(coords[:, 1])
        return np.column_stack((AUTHALIC_RADIUS_M * lon * cos0, AUTHALIC_RADIUS_M * np.sin(lat) / cos0))

    return float(shapely.transform(geometry, project).area)


@dataclass(frozen=True, slots=True)
class DistrictShape:
    """A district's prepared polygon (point tests in C, no re-parsing per request) and what rules need."""

    id: UUID
    code: str
    geometry: Polygon | MultiPolygon


# (district id, updated_at) -> its prepared shape. A load changes updated_at (and clears the cache), so a
# stale entry is never used; bounded, oldest evicted first.
_CACHE_SIZE = 1024
_shapes: OrderedDict[tuple[UUID, datetime], DistrictShape] = OrderedDict()


def shape_of(district_id: UUID, code: str, updated_at: datetime, boundary: dict[str, Any]) -> DistrictShape:
    key = (district_id, updated_at)
    cached = _shapes.get(key)
    if cached is not None and cached.code == code:
        _shapes.move_to_end(key)
        return cached
    geometry = shape(boundary)
    shapely.prepare(geometry)
    made = DistrictShape(district_id, code, geometry)
    _shapes[key] = made
    while len(_shapes) > _CACHE_SIZE:
        _shapes.popitem(last=False)
    return made


def forget_shapes() -> None:
    """Drop every cached shape (after a load, so memory holds no replaced boundary)."""
    _shapes.clear()


def by_rule(shapes: list[DistrictShape]) -> list[DistrictShape]:
    """The order the boundary rule tries districts in: smallest code first."""
    return sorted(shapes, key=lambda s: s.code)


def district_of_point(shapes: list[DistrictShape], lat: float, lon: float) -> DistrictShape | None:
    """The district whose polygon covers (lon, lat), boundary included; the smallest code on a tie."""
    for candidate in by_rule(shapes):
        if shapely.intersects_xy(candidate.geometry, lon, lat):
            return candidate
    return None


def districts_of_points(shapes: list[DistrictShape], lats: FloatArray, lons: FloatArray) -> IntArray:
    """For each point, the index (into `shapes`) of its district by the boundary rule, or -1."""
    found = np.full(lats.shape, -1, dtype=np.int64)
    order = sorted(range(len(shapes)), key=lambda index: shapes[index].code, reverse=True)
    # Largest code first, so the smallest code covering a point writes last and wins.
    for index in order:
        geometry = shapes[index].geometry
        min_lon, min_lat, max_lon, max_lat = geometry.bounds
        near = (lats >= min_lat) & (lats <= max_lat) & (lons >= min_lon) & (lons <= max_lon)
        if not near.any():
            continue
        candidates = np.flatnonzero(near)
        inside = shapely.intersects_xy(geometry, lons[candidates], lats[candidates])
        found[candidates[inside]] = index
    return found
