"""The Hangzhou demo city: what the issue asks of it, and a second run adding nothing."""

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from learncity.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
from tests.catalog.conftest import OutboxRows

TODAY = date(2027, 3, 1)
SHANGHAI = ZoneInfo("Asia/Shanghai")
WEST_LAKE = "30.2590,120.1640"


async def _everything(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = (await client.get(path, params=params | {"limit": 100} | ({"cursor": cursor} if cursor else {}))).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_the_demo_city_and_a_second_run(
    client: httpx.AsyncClient, database_url: str, outbox_rows: OutboxRows
) -> None:
    added = await seed_demo(database_url, today=TODAY)
    assert added["people"] == 1
    assert added["organizations"] >= 12 and added["memberships"] == added["organizations"]
    assert added["sites"] >= 40 and added["activities"] >= 60 and added["series"] >= 1
    assert added["sessions"] >= 200
    assert await seed_demo(database_url, today=TODAY) == dict.fromkeys(added, 0)

    sites = await _everything(client, "/v1/sites")
    assert len(sites) == added["sites"]
    assert {"library", "museum", "theatre", "cinema", "cultural_hall"} <= {site["kind"] for site in sites}
    assert all(29.0 < s["location"]["lat"] < 30.7 and 118.8 < s["location"]["lon"] < 120.8 for s in sites)  # Hangzhou
    rural = [site for site in sites if site["kind"] == "cultural_hall"]
    assert len({site["district"] for site in rural}) >= 3

    sessions = await _everything(
        client,
        "/v1/search/sessions",
        **{"from": f"{TODAY}T00:00:00+08:00", "to": f"{TODAY + timedelta(weeks=8)}T00:00:00+08:00"},
    )
    assert len(sessions) == added["sessions"]
    local_days = {datetime.fromisoformat(item["session"]["starts_at"]).astimezone(SHANGHAI).date() for item in sessions}
    assert min(local_days) >= TODAY and max(local_days) < TODAY + timedelta(weeks=8)
    activities = {item["activity"]["id"]: item["activity"] for item in sessions}
    assert len(activities) >= 60
    # Online sessions (no site), hybrid ones with online seats, and accessible seats at some sites.
    assert any(item["session"]["mode"] == "online" and item["site"] is None for item in sessions)
    assert any(item["session"]["mode"] == "hybrid" and item["session"]["online_capacity"] > 0 for item in sessions)
    assert any(item["session"]["accessible_seats"] > 0 for item in sessions)
    assert all({"zh-CN", "en"} <= set(activity["title"]) for activity in activities.values())
    festival_ids = {activity["series_id"] for activity in activities.values() if activity["series_id"]}
    names = [(await client.get(f"/v1/series/{series_id}")).json()["name"] for series_id in festival_ids]
    assert {"zh-CN": "西湖读书节", "en": "West Lake Reading Festival"} in names

    nearby = (
        await client.get("/v1/search/sessions", params={"near": WEST_LAKE, "from": f"{TODAY}T00:00:00+08:00"})
    ).json()
    assert nearby["items"] and all(item["walk_minutes"] <= 15 for item in nearby["items"])
    reading = (
        await client.get("/v1/search/sessions", params={"q": "读书节", "from": f"{TODAY}T00:00:00+08:00"})
    ).json()
    assert reading["items"]

    scheduled = [row for row in await outbox_rows() if row.type == "session.scheduled"]
    assert len(scheduled) == added["sessions"] + added["past_sessions"]  # the past ones too (booking learns them)
    # Their join links travel to booking (for confirmed holders), never into the catalog's answers.
    links = {row.payload["join_url"] for row in scheduled if row.payload["mode"] != "in_person"}
    assert links and all(link.startswith("https://meet.learncity.example/") for link in links)

    token = await client.post("/v1/auth/token", data={"username": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert token.status_code == 200, token.text
    me = (await client.get("/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})).json()
    assert len(me["memberships"]) == added["organizations"]
    assert {membership["role"] for membership in me["memberships"]} == {"owner"}
