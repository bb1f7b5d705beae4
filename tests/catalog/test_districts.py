"""Districts as shapes: loading them (operators only, all or nothing), the district of every site (the boundary
rule: covers, smallest code on a tie), `site.changed` for booking, and coverage per district checked against
a brute-force count over the same grid, as JSON, GeoJSON (validated against the official schema) and SVG."""

import json
import math
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import jsonschema  # type: ignore[import-untyped]
import numpy as np
import pytest
import shapely
from fastapi import FastAPI
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from sqlalchemy import select

from services.catalog.demo.districts import DISTRICTS_FILE
from services.catalog.demo.seed import load_demo_data
from services.catalog.districts.coverage import _nearest_by_brute_force, _nearest_by_tree, earth_distance_m
from services.catalog.districts.geometry import area_m2
from services.catalog.models import District, Site
from services.catalog.sites.schemas import LocationIn, SiteCreate
from services.catalog.sites.service import add_site
from shared.ids import new_id
from tests.catalog.conftest import Catalog, OutboxRows, pointers
from tests.support import assert_problem

SCHEMA = json.loads((Path(__file__).with_name("geojson") / "FeatureCollection.json").read_text())
EARTH_M = 6_378_168.0  # earthdistance's earth(): the sphere the service measures on
URL = "/v1/coverage/districts"


def box(west: float, south: float, east: float, north: float) -> list[list[list[float]]]:
    return [[[west, south], [east, south], [east, north], [west, north], [west, south]]]


def feature(code: str, coordinates: Any, *, kind: str = "Polygon", **properties: Any) -> dict[str, Any]:
    names = {"zh-CN": f"{code}区", "en": f"District {code}"}
    return {
        "type": "Feature",
        "properties": {"code": code, "name": names, "urban": True} | properties,
        "geometry": {"type": kind, "coordinates": coordinates},
    }


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


async def load(client: httpx.AsyncClient, catalog: Catalog, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(URL, json=body, headers=catalog.team["operator"].headers)
    assert response.status_code == 200, response.text
    loaded: dict[str, Any] = response.json()
    return loaded


async def district_of(client: httpx.AsyncClient, site: dict[str, Any]) -> str | None:
    district_id: str | None = (await client.get(f"/v1/sites/{site['id']}")).json()["district_id"]
    return district_id


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_M * math.asin(math.sqrt(a))


async def test_a_polygon_assigns_sites_and_a_site_on_the_shared_edge_goes_to_the_smallest_code(
    client: httpx.AsyncClient, catalog: Catalog, outbox_rows: OutboxRows
) -> None:
    west_site = await catalog.site(lat=30.25, lon=120.12)
    east_site = await catalog.site(lat=30.25, lon=120.18)
    edge_site = await catalog.site(lat=30.25, lon=120.15)  # exactly on the line both polygons share
    outside = await catalog.site(lat=30.40, lon=120.15)
    assert {await district_of(client, s) for s in (west_site, east_site, edge_site, outside)} == {None}
    # Every site create tells booking (its kind, and no district yet).
    created = await outbox_rows(west_site["id"])
    assert [row.type for row in created] == ["site.changed"]
    assert created[0].payload | {"name": None} == {
        "site_id": west_site["id"],
        "owner_org_id": catalog.team.organization_id,
        "kind": "library",
        "name": None,
        "district_id": None,
        "district_name": None,
        "urban": None,
    }

    # "B-west" comes first in the body, but "A-east" is the smaller code: the edge site is A-east's.
    loaded = await load(
        client,
        catalog,
        collection(
            feature("B-west", box(120.10, 30.20, 120.15, 30.30), urban=False),
            feature("A-east", box(120.15, 30.20, 120.20, 30.30)),
        ),
    )
    east_id, west_id = (item["id"] for item in loaded["items"])  # by code
    assert [item["code"] for item in loaded["items"]] == ["A-east", "B-west"]
    assert loaded["sites_changed"] == 3
    area = loaded["items"][0]["area_m2"]
    assert area == pytest.approx(4.8e3 * 11.1e3, rel=0.01)  # 0.05 deg of longitude x 0.1 deg of latitude
    assert await district_of(client, west_site) == west_id
    assert await district_of(client, east_site) == east_id
    assert await district_of(client, edge_site) == east_id
    assert await district_of(client, outside) is None
    moved = (await outbox_rows(edge_site["id"]))[-1]
    assert (moved.type, moved.sequence) == ("site.changed", 2)
    assert moved.payload["district_id"] == east_id and moved.payload["urban"] is True
    assert moved.payload["district_name"] == {"zh-CN": "A-east区", "en": "District A-east"}
    assert (await outbox_rows(west_site["id"]))[-1].payload["urban"] is False
    assert len(await outbox_rows(outside["id"])) == 1  # only its creation

    # The same collection again changes nothing and tells nobody.
    before = len(await outbox_rows())
    again = await load(
        client,
        catalog,
        collection(
            feature("B-west", box(120.10, 30.20, 120.15, 30.30), urban=False),
            feature("A-east", box(120.15, 30.20, 120.20, 30.30)),
        ),
    )
    assert again["sites_changed"] == 0 and len(await outbox_rows()) == before
    # A new name for A-east reaches booking's copy of its sites; B-west's site is not told again.
    renamed = await load(client, catalog, collection(feature("A-east", box(120.15, 30.20, 120.20, 30.30), name="东区")))
    assert renamed["sites_changed"] == 2
    assert (await outbox_rows(east_site["id"]))[-1].payload["district_name"] == {"und": "东区"}
    assert len(await outbox_rows()) == before + 2
    # The operator's loads are in the catalog's audit trail: two districts created, one renamed (the
    # identical reload recorded nothing).
    operator = catalog.team["operator"]
    trail = await client.get("/v1/activities/audit", params={"entity_type": "district"}, headers=operator.headers)
    assert trail.status_code == 200, trail.text
    entries = trail.json()["items"]
    assert (entries[0]["action"], entries[0]["after"]["code"]) == ("district.updated", "A-east")
    assert sorted((e["action"], e["after"]["code"]) for e in entries[1:]) == [
        ("district.created", "A-east"),
        ("district.created", "B-west"),
    ]
    renaming = entries[0]
    assert renaming["actor_id"] == str(operator.id) and renaming["actor_is_operator"] is True
    assert renaming["before"]["name"] == {"zh-CN": "A-east区", "en": "District A-east"}
    assert renaming["after"]["name"] == {"und": "东区"} and renaming["after"]["boundary_changed"] is False

    # A site created now is created in its district (and booking hears of it).
    later_site = await catalog.site(lat=30.22, lon=120.11)
    assert later_site["district_id"] == west_id
    assert (await outbox_rows(later_site["id"]))[0].payload["district_id"] == west_id
    on_edge = await catalog.site(lat=30.21, lon=120.15)
    assert on_edge["district_id"] == east_id


async def test_only_operators_load_districts_and_a_bad_collection_changes_nothing(
    client: httpx.AsyncClient, catalog: Catalog, outbox_rows: OutboxRows
) -> None:
    site = await catalog.site(lat=30.25, lon=120.12)
    good = collection(feature("330106", box(120.10, 30.20, 120.15, 30.30)))
    assert_problem(await client.post(URL, json=good), 401)
    for role in ("owner", "admin", "stranger"):
        assert_problem(await client.post(URL, json=good, headers=catalog.team[role].headers), 403)

    bowtie = [[[120.0, 30.0], [120.1, 30.1], [120.1, 30.0], [120.0, 30.1], [120.0, 30.0]]]
    unclosed = [[[120.0, 30.0], [120.1, 30.0], [120.1, 30.1], [120.0, 30.1]]]
    off_globe = box(120.0, 89.5, 120.1, 91.0)
    many = [feature(f"D{i}", box(120.0 + i * 0.001, 30.0, 120.0005 + i * 0.001, 30.1)) for i in range(201)]
    ring = [[120.0 + 0.1 * math.cos(t / 3000), 30.0 + 0.1 * math.sin(t / 3000)] for t in range(19_000)]
    huge = [[*ring, ring[0]], [*ring[:1500], ring[0]]]
    point = {"type": "Feature", "properties": {"code": "P", "name": "P", "urban": True},
             "geometry": {"type": "Point", "coordinates": [120.0, 30.0]}}  # fmt: skip
    bad_bodies: list[tuple[dict[str, Any], str]] = [
        (collection(feature("330106", box(120.10, 30.20, 120.15, 30.30)), feature("bad", bowtie)),
         "/body/features/1/geometry"),
        (collection(feature("bad", unclosed)), "/body/features/0/geometry"),
        (collection(feature("bad", off_globe)), "/body/features/0/geometry"),
        (collection(feature("330106", box(120.10, 30.20, 120.15, 30.30)), feature("330106", box(121, 30, 122, 31))),
         "/body/features/1/properties/code"),
        (collection(*many), "/body/features"),
        (collection(feature("bad", huge)), "/body/features/0/geometry"),
        (collection(point), "/body/features/0/geometry"),
        (collection(feature("bad code!", box(120.10, 30.20, 120.15, 30.30))), "/body/features/0/properties/code"),
        ({"type": "Feature", "features": []}, "/body/type"),
    ]  # fmt: skip
    operator = catalog.team["operator"].headers
    before = len(await outbox_rows())
    for body, pointer in bad_bodies:
        response = await client.post(URL, json=body, headers=operator)
        found = pointers(response)
        assert any(p.startswith(pointer) for p in found), (pointer, found)
    assert (await client.get(URL)).json()["items"] == []
    assert await district_of(client, site) is None
    assert len(await outbox_rows()) == before


def brute_force(
    districts: list[tuple[str, Polygon | MultiPolygon]],
    sites: list[tuple[str, float, float]],
    lat_step: float,
    lon_step: float,
    walk_m: float,
) -> dict[str, dict[str, Any]]:
    """Every lattice cell whose centre a district covers (the smallest code on a tie), covered when a site is
    within `walk_m` (haversine on earthdistance's sphere); the nearest site of each uncovered cell."""
    seen: set[tuple[int, int]] = set()
    result: dict[str, dict[str, Any]] = {}
    for code, polygon in sorted(districts):
        west, south, east, north = polygon.bounds
        total, covered, uncovered = 0, 0, []
        for i in range(math.floor(south / lat_step) - 1, math.ceil(north / lat_step) + 1):
            for j in range(math.floor(west / lon_step) - 1, math.ceil(east / lon_step) + 1):
                lat, lon = (i + 0.5) * lat_step, (j + 0.5) * lon_step
                if (i, j) in seen or not polygon.covers(Point(lon, lat)):
                    continue
                seen.add((i, j))
                total += 1
                distances = sorted((haversine_m(lat, lon, s_lat, s_lon), site_id) for site_id, s_lat, s_lon in sites)
                if distances and distances[0][0] <= walk_m:
                    covered += 1
                else:
                    uncovered.append((lat, lon, distances[0] if distances else None))
        result[code] = {"total": total, "covered": covered, "uncovered": sorted(uncovered)}
    return result


async def test_coverage_per_district_equals_a_brute_force_count(client: httpx.AsyncClient, catalog: Catalog) -> None:
    # An L-shaped district, a two-part one sharing an edge with it, and a small square one.
    l_shape = [[[120.10, 30.20], [120.16, 30.20], [120.16, 30.23], [120.13, 30.23], [120.13, 30.27],
                [120.10, 30.27], [120.10, 30.20]]]  # fmt: skip
    two_parts = [box(120.16, 30.20, 120.20, 30.24), box(120.21, 30.20, 120.23, 30.22)]
    small = box(120.13, 30.23, 120.15, 30.25)
    body = collection(
        feature("330106", l_shape, population=1_100_000),
        feature("330108", two_parts, kind="MultiPolygon", population=500_000),
        feature("330102", small, population=300_000),
    )
    await load(client, catalog, body)
    places = [
        ("library", 30.215, 120.115),
        ("museum", 30.235, 120.14),
        ("cultural_hall", 30.22, 120.18),
        ("park", 30.16, 120.30),  # outside every district: still the nearest of some cells
        ("online", 30.25, 120.12),  # online sites never count unless asked for
    ]
    sites = {kind: await catalog.site(kind=kind, lat=lat, lon=lon) for kind, lat, lon in places}
    polygons = [(f["properties"]["code"], shape(f["geometry"])) for f in body["features"]]

    cases: list[dict[str, Any]] = [
        {"walk_minutes": 10, "cell_m": 400},
        {"walk_minutes": 15, "cell_m": 500, "kind": "museum"},
    ]
    for params in cases:
        response = await client.get(URL, params=params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        answer = response.json()
        grid = answer["grid"]
        counted = [
            (s["id"], s["location"]["lat"], s["location"]["lon"])
            for kind, s in sites.items()
            if (kind == params["kind"] if "kind" in params else kind != "online")
        ]
        expected = brute_force(polygons, counted, grid["lat_step"], grid["lon_step"], 75.0 * params["walk_minutes"])
        assert grid["lat_step"] == pytest.approx(params["cell_m"] / (EARTH_M * math.pi / 180))
        assert [item["code"] for item in answer["items"]] == ["330102", "330106", "330108"]
        for item in answer["items"]:
            want = expected[item["code"]]
            assert (item["cells_total"], item["cells_covered"]) == (want["total"], want["covered"]), item["code"]
            assert want["total"] > 10 and item["share_covered"] == want["covered"] / want["total"]
            assert len(item["uncovered"]) == len(want["uncovered"])
            for cell, (lat, lon, nearest) in zip(item["uncovered"], want["uncovered"], strict=True):
                assert cell["lat"] == pytest.approx(lat, abs=1e-6) and cell["lon"] == pytest.approx(lon, abs=1e-6)
                assert cell["nearest_site"]["site_id"] == nearest[1]
                assert cell["nearest_site"]["distance_m"] == pytest.approx(nearest[0], abs=0.1)
                assert cell["nearest_site"]["walk_minutes"] == math.ceil(cell["nearest_site"]["distance_m"] / 75)
        assert sum(item["cells_covered"] for item in answer["items"]) > 0
        population = {"330106": 1_100_000, "330108": 500_000, "330102": 300_000}
        weighted = sum(population[i["code"]] * i["share_covered"] for i in answer["items"]) / sum(population.values())
        assert answer["share_basis"] == "population" and answer["share_covered"] == pytest.approx(weighted)

    # Narrowed to one district: the same cells (the lattice does not move), and the city is that district.
    one = (await client.get(URL, params={"code": "330102", "walk_minutes": 10, "cell_m": 400})).json()
    full = (await client.get(URL, params={"walk_minutes": 10, "cell_m": 400})).json()
    assert one["items"] == [item for item in full["items"] if item["code"] == "330102"]
    assert one["share_covered"] == one["items"][0]["share_covered"]
    # Without every population, the city's share is by cells.
    await load(client, catalog, collection(feature("330102", small)))
    by_cells = (await client.get(URL, params={"walk_minutes": 10, "cell_m": 400})).json()
    assert by_cells["share_basis"] == "cells"
    assert by_cells["share_covered"] == by_cells["cells_covered"] / by_cells["cells_total"]
    assert_problem(await client.get(URL, params={"cell_m": 100, "code": "x" * 33}), 422)


async def test_the_geojson_validates_and_round_trips_through_shapely(
    client: httpx.AsyncClient, catalog: Catalog
) -> None:
    clockwise = [[[120.10, 30.20], [120.10, 30.27], [120.16, 30.27], [120.16, 30.20], [120.10, 30.20]]]
    with_hole = [[[120.16, 30.20], [120.20, 30.20], [120.20, 30.26], [120.16, 30.26], [120.16, 30.20]],
                 [[120.17, 30.21], [120.17, 30.23], [120.19, 30.23], [120.19, 30.21], [120.17, 30.21]]]  # fmt: skip
    body = collection(feature("G1", clockwise), feature("G2", [with_hole, box(120.21, 30.2, 120.22, 30.21)[0:1]],
                                                        kind="MultiPolygon"))  # fmt: skip
    await load(client, catalog, body)
    await catalog.site(kind="museum", lat=30.23, lon=120.13)
    await catalog.site(kind="cinema", lat=30.24, lon=120.18)
    response = await client.get(
        URL, params={"cell_m": 500}, headers={"Accept": "application/geo+json", "Accept-Language": "zh-CN"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/geo+json"
    assert "Accept" in response.headers["vary"]
    data = response.json()
    jsonschema.validate(data, SCHEMA)
    kinds = {f["properties"]["feature"] for f in data["features"]}
    assert kinds == {"district", "uncovered_cell", "site"}
    json_answer = (await client.get(URL, params={"cell_m": 500})).json()
    uncovered = sum(len(item["uncovered"]) for item in json_answer["items"])
    assert sum(f["properties"]["feature"] == "uncovered_cell" for f in data["features"]) == uncovered
    for item in data["features"]:
        geometry = shape(item["geometry"])  # round trip: GeoJSON -> shapely -> GeoJSON -> shapely
        assert geometry.is_valid and shape(shapely.geometry.mapping(geometry)).equals(geometry)
        for polygon in getattr(geometry, "geoms", [geometry]):
            if isinstance(polygon, Polygon):  # RFC 7946: exterior counterclockwise, holes clockwise
                assert polygon.exterior.is_ccw and all(not hole.is_ccw for hole in polygon.interiors)
    districts = {f["properties"]["code"]: f for f in data["features"] if f["properties"]["feature"] == "district"}
    assert shape(districts["G1"]["geometry"]).equals(shape(body["features"][0]["geometry"]))
    assert shape(districts["G2"]["geometry"]).equals(shape(body["features"][1]["geometry"]))
    assert districts["G1"]["properties"]["name"] == "G1区"  # Accept-Language: zh-CN
    sites = [f for f in data["features"] if f["properties"]["feature"] == "site"]
    assert {f["properties"]["kind"] for f in sites} == {"museum", "cinema"}
    cell = next(f for f in data["features"] if f["properties"]["feature"] == "uncovered_cell")
    centre = shape(cell["geometry"]).centroid
    assert (centre.y, centre.x) == (pytest.approx(cell["properties"]["lat"]), pytest.approx(cell["properties"]["lon"]))
    assert cell["properties"]["walk_minutes"] > 15

    # Content negotiation: q-values, wildcards, and 406 for what is not offered.
    async def media(accept: str) -> str:
        return (await client.get(URL, headers={"Accept": accept})).headers["content-type"]

    assert await media("*/*") == "application/json"
    assert await media("application/json;q=0.5, image/svg+xml") == "image/svg+xml"
    assert await media("text/html, image/*;q=0.8") == "image/svg+xml"
    assert_problem(await client.get(URL, headers={"Accept": "text/html"}), 406)


async def test_the_svg_map_names_every_district_and_draws_sites_by_kind(
    client: httpx.AsyncClient, catalog: Catalog
) -> None:
    await load(
        client,
        catalog,
        collection(feature("S1", box(120.10, 30.20, 120.15, 30.30)), feature("S2", box(120.15, 30.20, 120.20, 30.30))),
    )
    await catalog.site(kind="library", lat=30.25, lon=120.12)
    await catalog.site(kind="cultural_hall", lat=30.22, lon=120.18)
    response = await client.get(URL, headers={"Accept": "image/svg+xml", "Accept-Language": "en"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    svg = response.text
    root = ET.fromstring(svg)  # noqa: S314 - the service's own answer
    ns = {"svg": "http://www.w3.org/2000/svg"}
    labels = root.findall(".//svg:text[@class='district-name']", ns)
    texts = ["".join(label.itertext()) for label in labels]
    assert len(texts) == 2 and all("District S" in t and "S" in t and "区" in t for t in texts)
    assert {g.get("data-kind") for g in root.findall(".//svg:g[@class='site']", ns)} == {"library", "cultural_hall"}
    assert "href" not in svg and "url(" not in svg  # nothing from elsewhere


async def test_the_demo_districts_hold_every_demo_site_in_its_named_district(
    apps: dict[str, FastAPI], client: httpx.AsyncClient, catalog: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    geojson = json.loads(DISTRICTS_FILE.read_text(encoding="utf-8"))
    assert "hand-made" in geojson["description"].lower()
    loaded = await load(client, catalog, geojson)
    assert len(loaded["items"]) == 13
    by_name = {item["name"]["en"]: item for item in loaded["items"]}
    assert {"Shangcheng", "Gongshu", "Xihu", "Binjiang", "Xiaoshan", "Yuhang", "Linping", "Qiantang", "Fuyang",
            "Lin'an", "Tonglu", "Chun'an", "Jiande"} == set(by_name)  # fmt: skip
    polygons = [shape(f["geometry"]) for f in geojson["features"]]
    for index, polygon in enumerate(polygons):  # hand-made, but a tiling: neighbours share edges, no overlap
        assert all(polygon.intersection(other).area < 1e-12 for other in polygons[index + 1 :])
    assert by_name["Chun'an"]["area_m2"] > by_name["Shangcheng"]["area_m2"] * 10
    assert sum(item["area_m2"] for item in loaded["items"]) == pytest.approx(16.85e9, rel=0.15)  # Hangzhou's area

    # The demo sites, stored through the catalog's own code: each lands in the district its address names.
    catalog_app = apps["catalog"]
    records = load_demo_data()["sites"]
    async with catalog_app.state.database.sessionmaker.begin() as db:
        for record in records:
            body = SiteCreate(
                name=record["name"],
                kind=record["kind"],
                location=LocationIn(lat=record["lat"], lon=record["lon"]),
                address=record["address"],
                district=record.get("district"),
                owner_org_id=new_id(),
            )
            await add_site(db, body, outbox=catalog_app.state.outbox)
    async with catalog_app.state.database.sessionmaker() as db:
        names = {row.id: row.name["en"] for row in (await db.execute(select(District.id, District.name))).all()}
        stored = (await db.execute(select(Site.district, Site.district_id))).all()
    assert len(stored) == len(records)
    for free_text, district_id in stored:
        assert district_id is not None and names[UUID(str(district_id))] == free_text.split(" ", 1)[1], free_text

    timings = {}
    for accept in ("application/json", "application/geo+json", "image/svg+xml"):
        await client.get(URL, headers={"Accept": accept})  # warm
        started = time.perf_counter()
        response = await client.get(URL, headers={"Accept": accept})
        timings[accept] = (time.perf_counter() - started, len(response.content))
        assert response.status_code == 200
    answer = (await client.get(URL)).json()
    assert answer["cells_total"] > 50_000 and 0 < answer["share_covered"] < 0.2
    assert answer["share_basis"] == "population"
    with capsys.disabled():
        for accept, (seconds, size) in timings.items():
            print(f"\ndemo city, 500 m cells, {accept}: {seconds * 1000:.0f} ms, {size / 1e6:.1f} MB")
    assert timings["application/json"][0] < 3.0  # generous: shared CI machines


def test_the_nearest_site_by_tree_agrees_with_brute_force() -> None:
    """Many sites (a dense centre, a scattered countryside, two far away): exact for every cell within the
    walk radius of a site; elsewhere a site within 0.02% of the nearest distance, its distance exact."""
    rng = np.random.default_rng(16)
    cell_lat, cell_lon = rng.uniform(29.2, 30.6, 20_000), rng.uniform(118.4, 120.7, 20_000)
    site_lat = np.concatenate([rng.uniform(30.1, 30.4, 3000), rng.uniform(29.0, 31.0, 200), [45.0, -10.0]])
    site_lon = np.concatenate([rng.uniform(120.0, 120.4, 3000), rng.uniform(118.0, 121.0, 200), [100.0, 160.0]])
    found = _nearest_by_tree(cell_lat, cell_lon, site_lat, site_lon, 1125.0)
    assert found is not None
    brute = _nearest_by_brute_force(cell_lat, cell_lon, site_lat, site_lon)
    near = brute[1] <= 1125.0
    assert near.sum() > 500 and np.array_equal(found[0][near], brute[0][near])
    assert np.all(found[1] >= brute[1] - 1e-6) and np.all(found[1] <= brute[1] * 1.0002 + 1e-6)
    exact = earth_distance_m(cell_lat, cell_lon, site_lat[found[0]], site_lon[found[0]])
    assert np.allclose(found[1], exact, atol=1e-6)
    # Exactly earthdistance's measure: haversine on its sphere agrees to a millimetre.
    sample = [haversine_m(cell_lat[i], cell_lon[i], site_lat[brute[0][i]], site_lon[brute[0][i]]) for i in range(50)]
    assert np.allclose(sample, brute[1][:50], atol=1e-3)
    assert earth_distance_m(np.array([30.0]), np.array([120.0]), np.array([30.0]), np.array([120.0]))[0] == 0.0
    # Area of a 0.1 x 0.1 degree square at 30 N: about 11.1 km x 9.6 km.
    assert area_m2(Polygon(box(120.0, 30.0, 120.1, 30.1)[0])) == pytest.approx(11.12e3 * 9.63e3, rel=0.005)
