"""`GET /v1/search/sessions`: walking-time boundaries, distances, order, pagination, filters, errors."""

import math
from typing import Any
from uuid import UUID

import httpx
from pydantic import TypeAdapter

from services.catalog.geo import EARTH_RADIUS_M
from services.catalog.search.schemas import SearchItem
from shared.pagination import Page, encode_cursor
from tests.catalog.conftest import HUBIN, Catalog, SendAvailability, iso, later, pointers
from tests.catalog.test_sites import haversine_m, north_of

NEAR = f"{HUBIN[0]},{HUBIN[1]}"
MEAN_RADIUS_M = 6_371_008.8


def toward(origin: tuple[float, float], metres: float, bearing_deg: float) -> tuple[float, float]:
    """The point `metres` from `origin` at `bearing_deg` on the mean-radius sphere (haversine's)."""
    lat1, lon1, bearing = math.radians(origin[0]), math.radians(origin[1]), math.radians(bearing_deg)
    angle = metres / MEAN_RADIUS_M
    lat2 = math.asin(math.sin(lat1) * math.cos(angle) + math.cos(lat1) * math.sin(angle) * math.cos(bearing))
    lon2 = lon1 + math.atan2(
        math.sin(bearing) * math.sin(angle) * math.cos(lat1), math.cos(angle) - math.sin(lat1) * math.sin(lat2)
    )
    return math.degrees(lat2), math.degrees(lon2)


async def _search(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/search/sessions", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _all_pages(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await _search(client, **params, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_walking_time_boundaries_at_14_15_16_minutes(client: httpx.AsyncClient, catalog: Catalog) -> None:
    # Half a metre either side of each minute boundary, measured on earth_distance's own sphere: the
    # documented rule is ceil(distance_m / 75) <= walk_minutes with distance_m = earth_distance.
    exact = {
        f"north_{d}": (north_of(HUBIN, d, EARTH_RADIUS_M), d) for d in (1049.5, 1050.5, 1124.5, 1125.5, 1199.5, 1200.5)
    }
    # Far (>= 0.4%) from any boundary, in several directions: the same minutes whichever sphere.
    far = {f"{b}deg_{d}": (toward(HUBIN, d, b), None) for d, b in ((1000, 45), (1100, 200), (1150, 300), (1300, 90))}
    sessions: dict[str, str] = {}
    for name, ((lat, lon), _) in (exact | far).items():
        activity = await catalog.activity((await catalog.site(lat=lat, lon=lon))["id"])
        sessions[(await catalog.session(activity["id"]))["id"]] = name
    points = exact | far

    def minutes(name: str) -> int:
        point, sphere_distance = points[name]
        return math.ceil((sphere_distance or haversine_m(HUBIN, point)) / 75)

    assert sorted(minutes(n) for n in points) == [14, 14, 15, 15, 15, 16, 16, 16, 17, 18]
    for walk in (14, 15, 16):
        items = (await _search(client, near=NEAR, walk_minutes=walk, limit=100))["items"]
        found = [sessions[item["session"]["id"]] for item in items]
        assert set(found) == {name for name in points if minutes(name) <= walk}, walk
        distances = [item["distance_m"] for item in items]
        assert distances == sorted(distances)  # nearest first
        for item, name in zip(items, found, strict=True):
            assert item["walk_minutes"] == minutes(name) == math.ceil(item["distance_m"] / 75)
            reference = haversine_m(HUBIN, points[name][0])
            assert abs(item["distance_m"] - reference) <= 0.005 * reference
            assert abs(item["distance_m"] - reference) > 0  # a different sphere, really measured


async def test_items_carry_session_activity_site_and_localized_text(
    client: httpx.AsyncClient, catalog: Catalog
) -> None:
    site = await catalog.site()
    activity = await catalog.activity(site["id"], price_cents=2000)
    session = await catalog.session(activity["id"], capacity=30)
    (item,) = (
        await client.get("/v1/search/sessions", params={"near": NEAR}, headers={"Accept-Language": "zh-CN"})
    ).json()["items"]
    assert item["session"]["id"] == session["id"] and item["session"]["capacity"] == 30
    assert item["session"]["status"] == "scheduled" and item["session"]["site_id"] == site["id"]
    assert item["activity"]["id"] == activity["id"] and item["activity"]["price_cents"] == 2000
    assert item["activity"]["title_display"] == "宋词夜读" and item["site"]["name_display"] == "湖滨图书室"
    assert item["site"]["id"] == site["id"] and item["seats_available"] == 30
    assert item["distance_m"] == 0 and item["walk_minutes"] == 0
    # The whole session, and summaries that agree with the single-resource endpoints.
    zh = {"Accept-Language": "zh-CN"}
    assert item["session"] == (await client.get(f"/v1/sessions/{session['id']}")).json()
    full_activity = (await client.get(f"/v1/activities/{activity['id']}", headers=zh)).json()
    assert item["activity"] == {key: full_activity[key] for key in item["activity"]}
    assert "description" not in item["activity"] and {"title_display", "kind", "price_cents"} <= set(item["activity"])
    full_site = (await client.get(f"/v1/sites/{site['id']}", headers=zh)).json()
    assert item["site"] == {key: full_site[key] for key in item["site"]}
    assert {"name_display", "location", "address", "accessibility"} <= set(item["site"])
    english = (await client.get("/v1/search/sessions", headers={"Accept-Language": "en"})).json()["items"][0]
    assert english["activity"]["title_display"] == "Song Poetry Night Reading"
    assert english["distance_m"] is None and english["walk_minutes"] is None


async def test_pages_are_exactly_what_the_page_schema_writes(client: httpx.AsyncClient, catalog: Catalog) -> None:
    # Search serializes its rows without validating them: re-validated against `Page[SearchItem]` and
    # written again, every page must come out byte for byte the same (fields, order, formats, nulls).
    page_schema = TypeAdapter(Page[SearchItem])
    site = await catalog.site()
    activity = await catalog.activity(site["id"], price_cents=2000)
    for _ in range(3):
        await catalog.session(activity["id"], capacity=30)
    await catalog.session((await catalog.activity(None))["id"])  # online: no site
    queries: list[dict[str, str | int]] = [{"near": NEAR, "limit": 2}, {"limit": 2}, {"q": "宋词", "sort": "starts_at"}]
    for params in queries:
        response = await client.get("/v1/search/sessions", params=params, headers={"Accept-Language": "en"})
        assert response.status_code == 200 and response.json()["items"], params
        assert page_schema.dump_json(page_schema.validate_json(response.content)) == response.content, params


async def test_only_upcoming_scheduled_sessions_in_the_window(client: httpx.AsyncClient, catalog: Catalog) -> None:
    site = await catalog.site()
    activity = await catalog.activity(site["id"])
    past = await catalog.session(activity["id"], starts_at=later(hours=-3))
    soon = await catalog.session(activity["id"], starts_at=later(days=1))
    next_month = await catalog.session(activity["id"], starts_at=later(days=30))
    cancelled = await catalog.session(activity["id"], starts_at=later(days=2))
    response = await client.post(
        f"/v1/sessions/{cancelled['id']}/cancel", json={}, headers=catalog.team["owner"].headers
    )
    assert response.status_code == 200
    ids = [item["session"]["id"] for item in (await _search(client))["items"]]
    assert ids == [soon["id"], next_month["id"]]  # by start time without `near`
    week = await _search(client, to=iso(later(days=7)))
    assert [item["session"]["id"] for item in week["items"]] == [soon["id"]]
    from_past = await _search(client, **{"from": iso(later(hours=-4)), "to": iso(later(hours=30))})
    assert [item["session"]["id"] for item in from_past["items"]] == [past["id"], soon["id"]]


async def test_filters(client: httpx.AsyncClient, catalog: Catalog, send_availability: SendAvailability) -> None:
    site = await catalog.site()
    festival = await catalog.series()
    poetry = await catalog.activity(site["id"], series_id=festival["id"])
    film = await catalog.activity(
        site["id"],
        title={"zh-CN": "纪录片放映：良渚古城", "en": "Documentary Screening: Liangzhu Ancient City"},
        description={"en": "A film about 5,000 years of history (100% true)."},
        kind="screening",
        topics=["film", "history"],
        audience=["families", "seniors"],
    )
    digital = await catalog.activity(
        None,
        title={"zh-CN": "老年人智能手机课", "en": "Smartphones for Seniors"},
        description={"zh-CN": "学习使用微信和地图。"},
        kind="course",
        topics=["digital_skills"],
        audience=["seniors"],
    )
    poetry_session = await catalog.session(poetry["id"])
    film_session = await catalog.session(film["id"])
    digital_session = await catalog.session(digital["id"])

    async def found(**params: Any) -> set[str]:
        return {item["session"]["id"] for item in await _all_pages(client, **params)}

    assert await found() == {poetry_session["id"], film_session["id"], digital_session["id"]}
    # Digital has no site: with `near` it follows the walkable ones, unless in person only is asked for.
    near = await _all_pages(client, near=NEAR)
    assert [item["session"]["id"] for item in near][-1] == digital_session["id"] and near[-1]["distance_m"] is None
    assert await found(near=NEAR, mode="in_person") == {poetry_session["id"], film_session["id"]}
    assert await found(kind="screening") == {film_session["id"]}
    assert await found(audience="seniors") == {film_session["id"], digital_session["id"]}
    assert await found(topic="history") == {film_session["id"]}
    assert await found(series_id=festival["id"]) == {poetry_session["id"]}
    assert await found(q="西湖") == {poetry_session["id"]}  # a Chinese substring of the description
    assert await found(q="良渚古") == {film_session["id"]}
    assert await found(q="POETRY") == {poetry_session["id"]}  # an English word, any case
    assert await found(q="smartphones for") == {digital_session["id"]}
    assert await found(q="100%") == {film_session["id"]}
    assert await found(q="%") == {film_session["id"]}  # a literal percent sign, not a wildcard
    assert await found(q="_") == set()
    assert await found(q="opera") == set()
    assert await found(audience="seniors", kind="course", q="手机") == {digital_session["id"]}
    # Booking reports the film session full: `available=true` leaves it out.
    assert await send_availability(film_session["id"], capacity=20, confirmed=20) == "applied"
    assert await found(available="true") == {poetry_session["id"], digital_session["id"]}
    assert await found(available="false") == {poetry_session["id"], film_session["id"], digital_session["id"]}
    film_item = next(i for i in (await _search(client))["items"] if i["session"]["id"] == film_session["id"])
    assert film_item["seats_available"] == 0 and film_item["session"]["seats_available"] == 0
    assert film_item["session"] == (await client.get(f"/v1/sessions/{film_session['id']}")).json()


async def test_pages_never_repeat_or_skip_while_sessions_are_added(client: httpx.AsyncClient, catalog: Catalog) -> None:
    activity_at = {}
    for index in range(4):
        site = await catalog.site(lat=HUBIN[0] + index * 0.002, lon=HUBIN[1])
        activity_at[index] = (await catalog.activity(site["id"]))["id"]
    original: list[str] = []
    for index in range(4):  # three sessions per site: ties on distance, broken by session id
        for day in (1, 2, 3):
            original.append((await catalog.session(activity_at[index], starts_at=later(days=day, hours=index)))["id"])
    for sort in ("distance", "starts_at"):
        seen: list[str] = []
        cursor = None
        while True:
            params = {"near": NEAR, "sort": sort, "limit": 5} | ({"cursor": cursor} if cursor else {})
            page = await _search(client, **params)
            seen += [item["session"]["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
            # Between pages, sessions appear nearest/earliest (before the cursor) and furthest/latest.
            await catalog.session(activity_at[0], starts_at=later(hours=20))
            await catalog.session(activity_at[3], starts_at=later(days=6))
        assert len(seen) == len(set(seen)), sort
        assert set(original) <= set(seen), sort
    full = await _all_pages(client, near=NEAR, limit=7)
    keys = [(item["distance_m"], item["session"]["starts_at"], item["session"]["id"]) for item in full]
    assert keys == sorted(keys)
    by_time = await _all_pages(client, near=NEAR, sort="starts_at", limit=7)
    time_keys = [(item["session"]["starts_at"], item["session"]["id"]) for item in by_time]
    assert time_keys == sorted(time_keys)


async def test_bad_queries_are_422(client: httpx.AsyncClient) -> None:
    now = later()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"near": "30.25"}, "/query/near"),
        ({"near": "30.25;120.1"}, "/query/near"),
        ({"near": "-91,120"}, "/query/near"),
        ({"near": "inf,120"}, "/query/near"),
        ({"near": NEAR, "walk_minutes": 0}, "/query/walk_minutes"),
        ({"near": NEAR, "walk_minutes": 121}, "/query/walk_minutes"),
        ({"q": ""}, "/query/q"),
        ({"q": "x" * 101}, "/query/q"),
        ({"kind": "party"}, "/query/kind"),
        ({"audience": "Senior Citizens"}, "/query/audience"),
        ({"series_id": "festival"}, "/query/series_id"),
        ({"from": "2027-03-01T10:00:00"}, "/query/from"),
        ({"from": "yesterday"}, "/query/from"),
        ({"from": "1800000000"}, "/query/from"),  # not Unix seconds
        ({"to": "0.5"}, "/query/to"),
        ({"from": iso(now), "to": iso(now)}, "/query/to"),
        ({"from": iso(now), "to": iso(later(days=367))}, "/query/to"),
        ({"to": iso(later(days=-1))}, "/query/to"),
        ({"sort": "distance"}, "/query/sort"),
        ({"sort": "price"}, "/query/sort"),
        ({"available": "maybe"}, "/query/available"),
        ({"limit": 0}, "/query/limit"),
        ({"limit": 101}, "/query/limit"),
        ({"cursor": "!!"}, "/query/cursor"),
        ({"near": NEAR, "cursor": encode_cursor(["2027-01-01", UUID(int=1)])}, "/query/cursor"),
        ({"cursor": encode_cursor([1.5, UUID(int=1)])}, "/query/cursor"),
        ({"cursor": encode_cursor([1, 0.0, later(), UUID(int=1)])}, "/query/cursor"),  # online tier without near
        ({"cursor": encode_cursor([7, 0.0, later(), UUID(int=1)])}, "/query/cursor"),
        ({"sort": "relevance"}, "/query/sort"),
        ({"q": "   "}, "/query/q"),
        ({"mode": "remote"}, "/query/mode"),
        ({"free": "perhaps"}, "/query/free"),
        ({"accessibility": "step_free,lift"}, "/query/accessibility"),
        ({"accessibility": "step_free,"}, "/query/accessibility"),
        ({"accessibility": "x" * 300}, "/query/accessibility"),
    ]
    for params, pointer in cases:
        assert pointer in pointers(await client.get("/v1/search/sessions", params=params)), params
