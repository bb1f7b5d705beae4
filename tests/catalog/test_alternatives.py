"""`GET /v1/sessions/{id}/alternatives`: which sessions, in which order, from where; and the hint on search
results for a full session."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from services.catalog.geo import EARTH_RADIUS_M
from services.catalog.models import ActivitySession
from shared.ids import new_id
from tests.catalog.conftest import HUBIN, Catalog, SendAvailability, later
from tests.catalog.test_sites import north_of as north_on_sphere
from tests.support import assert_problem


def north_of(origin: tuple[float, float], metres: float) -> tuple[float, float]:
    """Due north on earth_distance's own sphere: `distance_m` comes out as `metres`."""
    return north_on_sphere(origin, metres, EARTH_RADIUS_M)


async def _alternatives(client: httpx.AsyncClient, session_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/sessions/{session_id}/alternatives", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _fill(send_availability: SendAvailability, session: dict[str, Any]) -> None:
    assert await send_availability(session["id"], capacity=session["capacity"], confirmed=session["capacity"])


async def _move(apps: dict[str, FastAPI], session_id: str, **values: Any) -> None:
    """Change a session behind the API's back (the API refuses past times)."""
    async with apps["catalog"].state.database.sessionmaker.begin() as db:
        await db.execute(update(ActivitySession).where(ActivitySession.id == UUID(session_id)).values(**values))


@dataclass
class City:
    full: dict[str, Any]  # the full session, at Hubin
    names: dict[str, str]  # session id -> name


async def _city(catalog: Catalog, send_availability: SendAvailability, apps: dict[str, FastAPI]) -> City:
    """A full poetry reading at Hubin, in a festival, with every kind of neighbour and non-neighbour."""
    names: dict[str, str] = {}

    async def session(activity: dict[str, Any], name: str, **fields: Any) -> dict[str, Any]:
        created = await catalog.session(activity["id"], **fields)
        names[created["id"]] = name
        return created

    async def site_north(metres: float) -> str:
        lat, lon = north_of(HUBIN, metres)
        return str((await catalog.site(lat=lat, lon=lon))["id"])

    festival = await catalog.series()
    poetry = await catalog.activity(await site_north(0), series_id=festival["id"], topics=["literature", "poetry"])
    full = await session(poetry, "full", capacity=5, starts_at=later(days=2))
    await _fill(send_availability, full)
    await session(poetry, "same_later", starts_at=later(days=6))
    await session(poetry, "same_sooner", starts_at=later(days=1))
    await _fill(send_availability, await session(poetry, "same_full", capacity=3, starts_at=later(days=3)))
    cancelled = await session(poetry, "same_cancelled", starts_at=later(days=4))
    await _move(apps, cancelled["id"], status="cancelled", cancelled_at=later())
    past = await session(poetry, "same_past", starts_at=later(days=5))
    await _move(apps, past["id"], starts_at=later(hours=-3), ends_at=later(hours=-1))
    closed = await session(poetry, "same_booking_closed", starts_at=later(days=5))
    await _move(apps, closed["id"], booking_closes_at=later(hours=-1))
    await session(poetry, "same_beyond_4_weeks", starts_at=later(days=30))
    # One seat left of the standard pool: still an alternative.
    nearly = await session(poetry, "same_one_seat_left", capacity=3, starts_at=later(days=7))
    assert await send_availability(nearly["id"], capacity=3, confirmed=2)

    # The same series: a different kind and topic, at 2 km and 500 m, and online.
    far_talk = await catalog.activity(await site_north(2000), series_id=festival["id"], kind="lecture", topics=[])
    await session(far_talk, "series_2km")
    near_film = await catalog.activity(await site_north(500), series_id=festival["id"], kind="screening")
    await session(near_film, "series_500m")
    online = await catalog.activity(None, series_id=festival["id"], mode="online")
    await session(online, "series_online")

    # Similar: a reading sharing `literature` (at 1 km, 300 m); not similar: another kind, or no shared topic.
    await session(await catalog.activity(await site_north(1000), topics=["literature"]), "similar_1km")
    await session(await catalog.activity(await site_north(300), topics=["history", "poetry"]), "similar_300m")
    await session(await catalog.activity(await site_north(100), kind="lecture", topics=["literature"]), "other_kind")
    await session(await catalog.activity(await site_north(100), topics=["film"]), "other_topic")
    return City(full=full, names=names)


async def test_alternatives_ranked_by_relation_then_distance_with_free_seats(
    client: httpx.AsyncClient, catalog: Catalog, send_availability: SendAvailability, apps: dict[str, FastAPI]
) -> None:
    city = await _city(catalog, send_availability, apps)
    items = await _alternatives(client, city.full["id"])
    found = [city.names[item["session"]["id"]] for item in items]
    assert found == [
        # The same activity (one site, distance 0): by start time; full, cancelled, past, closed, too late: out.
        "same_sooner",
        "same_later",
        "same_one_seat_left",
        # The same series: nearest first, online last (no distance).
        "series_500m",
        "series_2km",
        "series_online",
        # The same kind sharing a topic: nearest first.
        "similar_300m",
        "similar_1km",
    ]
    assert [item["match"] for item in items] == ["same_activity"] * 3 + ["same_series"] * 3 + ["similar"] * 2
    assert all(item["seats_available"] > 0 for item in items)
    assert [item["seats_available"] for item in items[:3]] == [20, 20, 1]
    assert all(item["session"]["seats_available"] == item["seats_available"] for item in items)
    in_person = [item for item in items if item["site"] is not None]
    for item in in_person:
        assert item["walk_minutes"] == -(-item["distance_m"] // 75)
    assert [round(item["distance_m"], -1) for item in items[3:5]] == [500, 2000]
    (online,) = [item for item in items if item["site"] is None]
    assert online["distance_m"] is None and online["walk_minutes"] is None
    # Items are search items: the whole session as `GET /v1/sessions/{id}` shows it.
    first = items[0]
    assert first["session"] == (await client.get(f"/v1/sessions/{first['session']['id']}")).json()
    assert first["activity"]["id"] == city.full["activity_id"] and first["site"]["id"] == city.full["site_id"]

    # A longer window takes in the session four weeks on; `limit` keeps the best.
    longer = [city.names[item["session"]["id"]] for item in await _alternatives(client, city.full["id"], weeks=6)]
    assert longer[:4] == ["same_sooner", "same_later", "same_one_seat_left", "same_beyond_4_weeks"]
    assert [city.names[i["session"]["id"]] for i in await _alternatives(client, city.full["id"], limit=2)] == [
        "same_sooner",
        "same_later",
    ]


async def test_near_overrides_the_origin(
    client: httpx.AsyncClient, catalog: Catalog, send_availability: SendAvailability, apps: dict[str, FastAPI]
) -> None:
    city = await _city(catalog, send_availability, apps)
    lat, lon = north_of(HUBIN, 2100)  # beside the 2 km site
    items = await _alternatives(client, city.full["id"], near=f"{lat},{lon}")
    series = [city.names[item["session"]["id"]] for item in items if item["match"] == "same_series"]
    similar = [city.names[item["session"]["id"]] for item in items if item["match"] == "similar"]
    assert series == ["series_2km", "series_500m", "series_online"]
    assert similar == ["similar_1km", "similar_300m"]
    assert round(items[0]["distance_m"], -1) == 2100  # the same activity's site, from `near`


async def test_online_full_session_without_near_has_no_distances(
    client: httpx.AsyncClient, catalog: Catalog, send_availability: SendAvailability
) -> None:
    online = await catalog.activity(None, mode="online")
    full = await catalog.session(online["id"], capacity=2, starts_at=later(days=2))
    await _fill(send_availability, full)
    later_one = await catalog.session(online["id"], starts_at=later(days=3))
    sooner_one = await catalog.session(online["id"], starts_at=later(days=1))
    items = await _alternatives(client, full["id"])
    assert [item["session"]["id"] for item in items] == [sooner_one["id"], later_one["id"]]
    assert all(item["distance_m"] is None and item["site"] is None for item in items)


async def test_unknown_session_and_bounds(client: httpx.AsyncClient, catalog: Catalog) -> None:
    assert_problem(await client.get(f"/v1/sessions/{new_id()}/alternatives"), 404)
    session = await catalog.scheduled_session()
    assert await _alternatives(client, session["id"]) == []  # nothing else: an empty list
    for params in ({"limit": 0}, {"limit": 51}, {"weeks": 0}, {"weeks": 13}, {"near": "91,0"}):
        response = await client.get(f"/v1/sessions/{session['id']}/alternatives", params=params)
        assert_problem(response, 422)


async def test_search_hints_alternatives_for_full_sessions_that_have_some(
    client: httpx.AsyncClient, catalog: Catalog, send_availability: SendAvailability
) -> None:
    site = await catalog.site()
    recurring = await catalog.activity(site["id"], topics=["music"], kind="workshop")
    full_with = await catalog.session(recurring["id"], capacity=2, starts_at=later(days=1))
    await _fill(send_availability, full_with)
    open_one = await catalog.session(recurring["id"], starts_at=later(days=2))
    one_off = await catalog.activity(site["id"], topics=["dance"], kind="performance")
    full_without = await catalog.session(one_off["id"], capacity=2, starts_at=later(days=3))
    await _fill(send_availability, full_without)
    # Its only relative is beyond the alternatives' default window: no hint.
    await catalog.session(one_off["id"], starts_at=later(days=29) + timedelta(hours=1))

    response = await client.get("/v1/search/sessions", params={"to": later(days=5).isoformat()})
    assert response.status_code == 200, response.text
    hints = {item["session"]["id"]: item["alternatives_url"] for item in response.json()["items"]}
    assert hints == {
        full_with["id"]: f"/v1/sessions/{full_with['id']}/alternatives",
        open_one["id"]: None,  # free seats: no hint
        full_without["id"]: None,
    }
    assert await _alternatives(client, full_without["id"]) == []
    assert len(await _alternatives(client, full_with["id"])) == 1
