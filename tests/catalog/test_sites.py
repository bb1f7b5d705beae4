"""Sites: creation, validation, reads, and the walking-distance listing."""

import math
from typing import Any
from uuid import UUID

import httpx

from shared.pagination import encode_cursor
from tests.catalog.conftest import HUBIN, Catalog, Team, pointers
from tests.support import assert_problem

UNKNOWN_ID = "0190a000-0000-7000-8000-000000000000"


async def test_create_and_read_a_site(client: httpx.AsyncClient, catalog: Catalog, team: Team) -> None:
    site = await catalog.site(
        district="上城区 Shangcheng",
        accessibility=["step_free", "hearing_loop", "step_free"],
        opening_hours="Tu-Su 09:00-17:00",
    )
    assert site["name"] == {"zh-CN": "湖滨图书室", "en": "Hubin Reading Room"}
    assert site["kind"] == "library"
    assert site["location"] == {"lat": HUBIN[0], "lon": HUBIN[1]}
    assert site["owner_org_id"] == team.organization_id
    assert site["accessibility"] == ["step_free", "hearing_loop"]
    assert site["opening_hours"] == "Tu-Su 09:00-17:00"
    url = f"/v1/sites/{site['id']}"
    assert (await client.get(url, headers={"Accept-Language": "zh-CN"})).json()["name_display"] == "湖滨图书室"
    read = (await client.get(url, headers={"Accept-Language": "en-US,en;q=0.9"})).json()
    assert read["name_display"] == "Hubin Reading Room"
    assert {k: v for k, v in read.items() if k != "name_display"} == {
        k: v for k, v in site.items() if k != "name_display"
    }
    plain = await catalog.site(name="Riverside Hall", kind="cultural_hall")
    assert plain["name"] == {"und": "Riverside Hall"} and plain["name_display"] == "Riverside Hall"


async def test_reading_unknown_or_malformed_sites(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"/v1/sites/{UNKNOWN_ID}"), 404)
    assert_problem(await client.get("/v1/sites/not-a-uuid"), 422)


async def test_invalid_sites_are_422_and_store_nothing(client: httpx.AsyncClient, team: Team) -> None:
    owner = team["owner"]
    valid = {
        "name": "Hall",
        "kind": "library",
        "location": {"lat": 30.0, "lon": 120.0},
        "address": "1 Road",
        "owner_org_id": team.organization_id,
    }
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "stadium"}, "/body/kind"),
        ({"location": {"lat": 91, "lon": 120}}, "/body/location/lat"),
        ({"location": {"lat": 30, "lon": -180.5}}, "/body/location/lon"),
        ({"location": {"lat": 30}}, "/body/location/lon"),
        ({"location": {"lat": "NaN", "lon": 120}}, "/body/location/lat"),
        ({"address": ""}, "/body/address"),
        ({"address": "x" * 301}, "/body/address"),
        ({"name": {"zh-CN": ""}}, "/body/name/zh-CN"),
        ({"accessibility": ["teleporter"]}, "/body/accessibility/0"),
        ({"opening_hours": "x" * 201}, "/body/opening_hours"),
        ({"owner_org_id": "nope"}, "/body/owner_org_id"),
        ({"id": UNKNOWN_ID}, "/body/id"),
    ]
    for change, pointer in cases:
        assert pointer in pointers(await client.post("/v1/sites", json=valid | change, headers=owner.headers)), change
    unknown_owner = valid | {"owner_org_id": UNKNOWN_ID}
    assert pointers(await client.post("/v1/sites", json=unknown_owner, headers=team["operator"].headers)) == [
        "/body/owner_org_id"
    ]
    nul = await client.post("/v1/sites", json=valid | {"address": "a\x00b"}, headers=owner.headers)
    assert_problem(nul, 422)
    assert (await client.get("/v1/sites")).json()["items"] == []


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance on the mean earth radius (6,371,008.8 m): the reference the tests check against."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def north_of(origin: tuple[float, float], metres: float, radius_m: float) -> tuple[float, float]:
    """The point `metres` due north of `origin` on a sphere of `radius_m`."""
    return origin[0] + math.degrees(metres / radius_m), origin[1]


async def test_sites_near_a_point_nearest_first_with_distances(client: httpx.AsyncClient, catalog: Catalog) -> None:
    # Well inside or outside 15 minutes (1125 m) whichever sphere is used (they differ by 0.11%).
    spots = {
        "here": HUBIN,
        "east_580m": (HUBIN[0], HUBIN[1] + 580 / (111_195 * math.cos(math.radians(HUBIN[0])))),
        "north_1000m": north_of(HUBIN, 1000, 6_371_008.8),
        "south_1300m": north_of(HUBIN, -1300, 6_371_008.8),
    }
    ids = {
        name: (await catalog.site(lat=lat, lon=lon, kind="museum" if "east" in name else "library"))["id"]
        for name, (lat, lon) in spots.items()
    }
    near = f"{HUBIN[0]},{HUBIN[1]}"
    listed = (await client.get("/v1/sites", params={"near": near})).json()["items"]
    assert [item["id"] for item in listed] == [ids["here"], ids["east_580m"], ids["north_1000m"]]
    for item in listed:
        name = next(n for n, i in ids.items() if i == item["id"])
        expected = haversine_m(HUBIN, spots[name])
        assert abs(item["distance_m"] - expected) <= max(0.005 * expected, 0.01), (name, item["distance_m"])
        assert item["walk_minutes"] == math.ceil(item["distance_m"] / 75)
    assert [item["walk_minutes"] for item in listed] == [0, 8, 14]
    wider = (await client.get("/v1/sites", params={"near": near, "walk_minutes": 20})).json()["items"]
    assert [item["id"] for item in wider][-1] == ids["south_1300m"]
    museums = (await client.get("/v1/sites", params={"near": near, "kind": "museum"})).json()["items"]
    assert [item["id"] for item in museums] == [ids["east_580m"]]
    everything = (await client.get("/v1/sites")).json()["items"]
    assert {item["id"] for item in everything} == set(ids.values())
    assert all(item["distance_m"] is None and item["walk_minutes"] is None for item in everything)


async def test_site_listing_pages_never_repeat_or_skip(client: httpx.AsyncClient, catalog: Catalog) -> None:
    created = [(await catalog.site(lat=HUBIN[0] + i * 0.0005, lon=HUBIN[1]))["id"] for i in range(7)]
    for params in ({"near": f"{HUBIN[0]},{HUBIN[1]}"}, {}):
        seen: list[str] = []
        cursor = None
        while True:
            page = (
                await client.get("/v1/sites", params=params | {"limit": 3} | ({"cursor": cursor} if cursor else {}))
            ).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(created) and len(seen) == 7
        if params:
            assert seen == created  # nearest first: each site is 55 m further north


async def test_site_listing_rejects_bad_queries(client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"near": "30.2"}, "/query/near"),
        ({"near": "abc,120"}, "/query/near"),
        ({"near": "91,120"}, "/query/near"),
        ({"near": "30,181"}, "/query/near"),
        ({"near": "nan,120"}, "/query/near"),
        ({"near": "30,120,5"}, "/query/near"),
        ({"near": "30,120", "walk_minutes": 0}, "/query/walk_minutes"),
        ({"near": "30,120", "walk_minutes": 121}, "/query/walk_minutes"),
        ({"kind": "stadium"}, "/query/kind"),
        ({"limit": 101}, "/query/limit"),
    ]
    for params, pointer in cases:
        assert pointer in pointers(await client.get("/v1/sites", params=params)), params
    # A cursor from the plain listing does not fit the distance-ordered one.
    plain_cursor = encode_cursor([UUID(UNKNOWN_ID)])
    assert_problem(await client.get("/v1/sites", params={"near": "30,120", "cursor": plain_cursor}), 422)
    assert (await client.get("/v1/sites", params={"cursor": plain_cursor})).status_code == 200
