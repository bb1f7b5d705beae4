"""`GET /v1/coverage`: a 3 x 3 grid around one site, worked out by hand; bounds and errors."""

import math
from typing import Any

import httpx

from tests.catalog.conftest import Catalog, pointers
from tests.support import assert_problem

SITE = (30.25, 120.15)
# earthdistance's sphere (radius 6,378,168 m), which the service measures on.
METRES_PER_DEGREE = 6_378_168 * math.pi / 180
SIDE_M = 1490  # three cells of 496.7 m: ceil(1490 / 500) = 3 rows and 3 columns
HALF_LAT = SIDE_M / 2 / METRES_PER_DEGREE
HALF_LON = SIDE_M / 2 / (METRES_PER_DEGREE * math.cos(math.radians(SITE[0])))
BBOX = f"{SITE[1] - HALF_LON},{SITE[0] - HALF_LAT},{SITE[1] + HALF_LON},{SITE[0] + HALF_LAT}"


def _centre(row: int, col: int) -> tuple[float, float]:
    return SITE[0] + (row - 1) * 2 * HALF_LAT / 3, SITE[1] + (col - 1) * 2 * HALF_LON / 3


async def _coverage(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    query: dict[str, Any] = {"bbox": BBOX, "cell_m": 500} | params
    response = await client.get("/v1/coverage", params=query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _cells(body: dict[str, Any]) -> list[tuple[float, float]]:
    return [(cell["lat"], cell["lon"]) for cell in body["uncovered"]]


def _close(found: list[tuple[float, float]], expected: list[tuple[float, float]]) -> bool:
    return len(found) == len(expected) and all(
        math.isclose(a[0], b[0], abs_tol=1e-6) and math.isclose(a[1], b[1], abs_tol=1e-6)
        for a, b in zip(found, expected, strict=True)
    )


async def test_a_three_by_three_grid_around_one_site(client: httpx.AsyncClient, catalog: Catalog) -> None:
    await catalog.site(lat=SITE[0], lon=SITE[1], kind="library")
    # The middle cell's centre is the site; its four edge neighbours are 496.7 m away, the corners 702 m.
    corners = [_centre(0, 0), _centre(0, 2), _centre(2, 0), _centre(2, 2)]
    seven = await _coverage(client, walk_minutes=7)  # 525 m
    assert (seven["rows"], seven["cols"], seven["cells_total"], seven["cells_covered"]) == (3, 3, 9, 5)
    assert seven["share_covered"] == 5 / 9
    assert _close(_cells(seven), corners)  # ordered by lat, then lon
    six = await _coverage(client, walk_minutes=6)  # 450 m: only the middle cell
    assert six["cells_covered"] == 1
    assert _close(_cells(six), [_centre(r, c) for r in range(3) for c in range(3) if (r, c) != (1, 1)])
    ten = await _coverage(client, walk_minutes=10)  # 750 m: all
    assert (ten["cells_covered"], ten["share_covered"], ten["uncovered"]) == (9, 1.0, [])
    default = await _coverage(client)  # 15 minutes
    assert default["cells_covered"] == 9
    museums = await _coverage(client, kind="museum")
    assert (museums["cells_covered"], museums["share_covered"]) == (0, 0.0)
    assert _close(_cells(museums), [_centre(r, c) for r in range(3) for c in range(3)])


async def test_online_sites_count_only_when_asked_for(client: httpx.AsyncClient, catalog: Catalog) -> None:
    await catalog.site(lat=SITE[0], lon=SITE[1], kind="online")
    assert (await _coverage(client))["cells_covered"] == 0
    assert (await _coverage(client, kind="online"))["cells_covered"] == 9


async def test_at_most_40000_cells(client: httpx.AsyncClient, catalog: Catalog) -> None:
    await catalog.site(lat=SITE[0], lon=SITE[1])
    south, west = SITE[0] - 0.05, SITE[1] - 0.05

    def bbox(width_m: float, height_m: float) -> str:
        north = south + height_m / METRES_PER_DEGREE
        east = west + width_m / (METRES_PER_DEGREE * math.cos(math.radians((south + north) / 2)))
        return f"{west},{south},{east},{north}"

    largest = await _coverage(client, bbox=bbox(20_000, 20_000), cell_m=100)
    assert (largest["rows"], largest["cols"], largest["cells_total"]) == (200, 200, 40_000)
    # A 15-minute circle of 1125 m holds about pi * 11.25^2 = 398 cells of 100 m.
    assert 380 <= largest["cells_covered"] <= 415
    assert len(largest["uncovered"]) == 40_000 - largest["cells_covered"]
    lat_lon = [(c["lat"], c["lon"]) for c in largest["uncovered"]]
    assert lat_lon == sorted(lat_lon)
    too_many = await client.get("/v1/coverage", params={"bbox": bbox(20_050, 20_000), "cell_m": 100})
    assert pointers(too_many) == ["/query/cell_m"]


async def test_bad_queries_are_422(client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"bbox": "120,30,121"}, "/query/bbox"),
        ({"bbox": "120,30,121,31,5"}, "/query/bbox"),
        ({"bbox": "a,b,c,d"}, "/query/bbox"),
        ({"bbox": "121,30,120,31"}, "/query/bbox"),
        ({"bbox": "120,31,121,31"}, "/query/bbox"),
        ({"bbox": "120,-91,121,31"}, "/query/bbox"),
        ({"bbox": "-181,30,121,31"}, "/query/bbox"),
        ({"bbox": "120,30,nan,31"}, "/query/bbox"),
        ({"bbox": "120,30,121,inf"}, "/query/bbox"),
        ({"cell_m": 99}, "/query/cell_m"),
        ({"cell_m": "wide"}, "/query/cell_m"),
        ({"walk_minutes": 0}, "/query/walk_minutes"),
        ({"walk_minutes": 121}, "/query/walk_minutes"),
        ({"kind": "stadium"}, "/query/kind"),
        ({"bbox": "-180,-90,180,90", "cell_m": 100}, "/query/cell_m"),
    ]
    for change, pointer in cases:
        params: dict[str, Any] = {"bbox": BBOX, "cell_m": 500} | change
        assert pointer in pointers(await client.get("/v1/coverage", params=params)), change
    for missing in ("bbox", "cell_m"):
        params = {"bbox": BBOX, "cell_m": 500}
        del params[missing]
        assert_problem(await client.get("/v1/coverage", params=params), 422)
