"""Walking distance: straight-line distance on the earthdistance sphere at 75 m per minute.

One rule everywhere (sites, search, coverage): a place is within N minutes when
`walk_minutes = ceil(distance_m / 75) <= N`, i.e. when `distance_m <= 75 * N` (inclusive).
`distance_m` is PostgreSQL's `earth_distance`, a great circle on a sphere of radius `earth()` =
6,378,168 m (0.11% above the mean radius a haversine usually takes, well inside the 0.5% tolerance).
"""

import math
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, Double, and_, bindparam, func

from shared.errors import Unprocessable

WALK_METRES_PER_MINUTE = 75
DEFAULT_WALK_MINUTES = 15
MAX_WALK_MINUTES = 120
# earthdistance's `earth()`: the radius of the sphere `earth_distance` measures on.
EARTH_RADIUS_M = 6_378_168.0
METRES_PER_DEGREE_LATITUDE = EARTH_RADIUS_M * math.pi / 180


@dataclass(frozen=True, slots=True)
class GeoPoint:
    lat: float
    lon: float


def walk_radius_m(walk_minutes: int) -> float:
    return float(walk_minutes * WALK_METRES_PER_MINUTE)


def walk_minutes_for(distance_m: float) -> int:
    return math.ceil(distance_m / WALK_METRES_PER_MINUTE)


def earth_point(lat: Any, lon: Any) -> ColumnElement[Any]:
    """`ll_to_earth(lat, lon)`; with the site columns it is exactly the GiST index's expression."""
    return func.ll_to_earth(lat, lon)


def _origin(origin: GeoPoint) -> ColumnElement[Any]:
    # Named parameters: every use in one statement is the same `$n`, so PostgreSQL sees one expression
    # (the distance in ORDER BY is the one already computed for the select list).
    return earth_point(
        bindparam("origin_lat", origin.lat, type_=Double), bindparam("origin_lon", origin.lon, type_=Double)
    )


def _within(origin: ColumnElement[Any], walk_minutes: int, lat: Any, lon: Any) -> ColumnElement[bool]:
    """The bounding cube test lets the GiST index find candidates; the exact distance then decides."""
    radius = bindparam("walk_radius_m", walk_radius_m(walk_minutes), type_=Double)
    box = func.earth_box(origin, radius)
    return and_(box.op("@>")(earth_point(lat, lon)), func.earth_distance(origin, earth_point(lat, lon)) <= radius)


def distance_m(origin: GeoPoint, lat: Any, lon: Any) -> ColumnElement[float]:
    return func.earth_distance(_origin(origin), earth_point(lat, lon), type_=Double)


def within_walk(origin: GeoPoint, walk_minutes: int, lat: Any, lon: Any) -> ColumnElement[bool]:
    """`(lat, lon)` (columns) lies within `walk_minutes` of the point `origin`."""
    return _within(_origin(origin), walk_minutes, lat, lon)


def within_walk_between(origin_lat: Any, origin_lon: Any, walk_minutes: int, lat: Any, lon: Any) -> ColumnElement[bool]:
    """The same test from an origin given as SQL expressions (e.g. a grid cell's centre)."""
    return _within(earth_point(origin_lat, origin_lon), walk_minutes, lat, lon)


def parse_point(raw: str, *, pointer: str) -> GeoPoint:
    """`"30.2590,120.1640"` (lat,lon in degrees) -> GeoPoint; 422 at `pointer` when malformed or off the globe."""
    parts = raw.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise Unprocessable("Expected `lat,lon` in decimal degrees, e.g. 30.2590,120.1640", pointer=pointer) from exc
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise Unprocessable("Latitude must be within -90..90 and longitude within -180..180", pointer=pointer)
    return GeoPoint(lat=lat, lon=lon)


async def _near(
    near: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^-?\d{1,3}(\.\d{1,15})?,-?\d{1,3}(\.\d{1,15})?$",
            description="`lat,lon` in decimal degrees (WGS 84): latitude -90..90, longitude -180..180",
            examples=["30.2590,120.1640"],
        ),
    ] = None,
) -> GeoPoint | None:
    return None if near is None else parse_point(near, pointer="/query/near")


NearDep = Annotated[GeoPoint | None, Depends(_near)]
WalkMinutes = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_WALK_MINUTES,
        description="Walking time in minutes at 75 m per minute (straight line); inclusive",
    ),
]
