"""Activities and series: creation, references, multilingual text, edits that reach booking."""

from typing import Any

import httpx

from tests.catalog.conftest import HUBIN, Catalog, OutboxRows, Team, later, pointers
from tests.support import assert_problem

UNKNOWN_ID = "0190a000-0000-7000-8000-000000000000"


async def test_create_and_read_an_activity(client: httpx.AsyncClient, catalog: Catalog, team: Team) -> None:
    site = await catalog.site()
    festival = await catalog.series()
    activity = await catalog.activity(
        site["id"],
        series_id=festival["id"],
        topics=["literature", "local_history", "literature"],
        audience=["adults", "seniors"],
        language="zh-CN,en",
        price_cents=1500,
    )
    assert activity["host_org_id"] == team.organization_id and activity["site_id"] == site["id"]
    assert activity["series_id"] == festival["id"] and activity["kind"] == "reading"
    assert activity["topics"] == ["literature", "local_history"] and activity["audience"] == ["adults", "seniors"]
    assert activity["language"] == "zh-CN,en" and activity["price_cents"] == 1500
    url = f"/v1/activities/{activity['id']}"
    chinese = (await client.get(url, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})).json()
    assert chinese["title_display"] == "宋词夜读" and chinese["description_display"] == "一起朗读苏轼的西湖诗词。"
    fallback = (await client.get(url, headers={"Accept-Language": "fr-FR"})).json()
    assert fallback["title_display"] == "Song Poetry Night Reading"
    free = await catalog.activity(None, title="Open mic")
    assert free["price_cents"] == 0 and free["site_id"] is None and free["topics"] == ["literature"]
    assert free["title"] == {"und": "Open mic"}
    assert_problem(await client.get(f"/v1/activities/{UNKNOWN_ID}"), 404)


async def test_invalid_activities_are_422(client: httpx.AsyncClient, team: Team) -> None:
    valid = {"title": "Talk", "kind": "lecture", "host_org_id": team.organization_id}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "party"}, "/body/kind"),
        ({"title": ""}, "/body/title/und"),
        ({"title": {"zh-CN": "x" * 201}}, "/body/title/zh-CN"),
        ({"title": {"not a tag": "x"}}, "/body/title/not a tag/[key]"),
        ({"description": {"en": "x" * 5001}}, "/body/description/en"),
        ({"topics": ["Local History"]}, "/body/topics/0"),
        ({"topics": [f"t{i}" for i in range(21)]}, "/body/topics"),
        ({"audience": ["a" * 41]}, "/body/audience/0"),
        ({"language": "chinese!"}, "/body/language"),
        ({"price_cents": -1}, "/body/price_cents"),
        ({"price_cents": 10_000_001}, "/body/price_cents"),
        ({"site_id": UNKNOWN_ID}, "/body/site_id"),
        ({"series_id": UNKNOWN_ID}, "/body/series_id"),
        ({"host_org_id": UNKNOWN_ID}, "/body/host_org_id"),
        ({"search_text": "x"}, "/body/search_text"),
    ]
    operator = team["operator"]  # passes every role check, so each case reaches its own validation
    for change, pointer in cases:
        assert pointer in pointers(
            await client.post("/v1/activities", json=valid | change, headers=operator.headers)
        ), change


async def test_patch_an_activity(client: httpx.AsyncClient, catalog: Catalog) -> None:
    activity = await catalog.activity(None)
    url = f"/v1/activities/{activity['id']}"
    headers = catalog.team["admin"].headers
    patched = await client.patch(
        url,
        json={"title": {"en": "Ci Poetry Evening", "zh-CN": "宋词之夜"}, "price_cents": 800, "language": None},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["title"] == {"en": "Ci Poetry Evening", "zh-CN": "宋词之夜"} and body["price_cents"] == 800
    assert body["description"] == activity["description"] and body["language"] is None
    assert body["updated_at"] >= activity["updated_at"]
    await catalog.session(activity["id"])
    found = (await client.get("/v1/search/sessions", params={"q": "ci poetry"})).json()["items"]
    assert [item["activity"]["id"] for item in found] == [activity["id"]]
    assert (await client.get("/v1/search/sessions", params={"q": "宋词夜读"})).json()["items"] == []
    for change, pointer in [
        ({"title": None}, "/body/title"),
        ({"kind": None}, "/body/kind"),
        ({"topics": None}, "/body/topics"),
        ({"price_cents": None}, "/body/price_cents"),
        ({"site_id": UNKNOWN_ID}, "/body/site_id"),
        ({"host_org_id": UNKNOWN_ID}, "/body/host_org_id"),
    ]:
        assert pointer in pointers(await client.patch(url, json=change, headers=headers)), change
    assert_problem(await client.patch(f"/v1/activities/{UNKNOWN_ID}", json={}, headers=headers), 404)


async def test_title_and_site_changes_reach_upcoming_sessions(
    client: httpx.AsyncClient, catalog: Catalog, outbox_rows: OutboxRows
) -> None:
    old_site = await catalog.site()
    new_site = await catalog.site(lat=HUBIN[0] + 0.01, lon=HUBIN[1], name="Second Hall")
    activity = await catalog.activity(old_site["id"])
    past = await catalog.session(activity["id"], starts_at=later(days=-2))
    upcoming = await catalog.sessions(activity["id"], recurrence={"rrule": "FREQ=WEEKLY;COUNT=2"})
    cancelled = await catalog.session(activity["id"], starts_at=later(days=4))
    headers = catalog.team["owner"].headers
    assert (await client.post(f"/v1/sessions/{cancelled['id']}/cancel", headers=headers)).status_code == 200
    url = f"/v1/activities/{activity['id']}"
    assert (await client.patch(url, json={"price_cents": 100}, headers=headers)).status_code == 200
    assert all(row.type != "session.updated" for row in await outbox_rows())  # price is not in the snapshot
    moved = await client.patch(url, json={"site_id": new_site["id"], "title": "Moved"}, headers=headers)
    assert moved.status_code == 200 and moved.json()["site_id"] == new_site["id"]
    updated = [row for row in await outbox_rows() if row.type == "session.updated"]
    assert sorted(str(row.aggregate_id) for row in updated) == sorted(item["id"] for item in upcoming)
    assert all(row.payload["site_id"] == new_site["id"] and row.payload["title"] == {"und": "Moved"} for row in updated)
    for item in upcoming:
        assert (await client.get(f"/v1/sessions/{item['id']}")).json()["site_id"] == new_site["id"]
    assert (await client.get(f"/v1/sessions/{past['id']}")).json()["site_id"] == old_site["id"]
    assert (await client.get(f"/v1/sessions/{cancelled['id']}")).json()["site_id"] == old_site["id"]


async def test_series(client: httpx.AsyncClient, catalog: Catalog, team: Team) -> None:
    festival = await catalog.series(description={"en": "Three weeks of reading by the lake."})
    assert festival["kind"] == "festival" and festival["organizer_org_id"] == team.organization_id
    assert (festival["starts_on"], festival["ends_on"]) == ("2027-04-01", "2027-04-21")
    url = f"/v1/series/{festival['id']}"
    assert (await client.get(url, headers={"Accept-Language": "zh-CN"})).json()["name_display"] == "西湖读书节"
    assert (await client.get(url)).json()["description_display"] == "Three weeks of reading by the lake."
    assert_problem(await client.get(f"/v1/series/{UNKNOWN_ID}"), 404)
    valid = {
        "name": "Lantern Walks",
        "kind": "programme",
        "starts_on": "2027-02-01",
        "ends_on": "2027-02-01",
        "organizer_org_id": team.organization_id,
    }
    headers = team["operator"].headers
    assert (await client.post("/v1/series", json=valid, headers=headers)).status_code == 201
    for change, pointer in [
        ({"ends_on": "2027-01-31"}, "/body"),
        ({"ends_on": "2040-01-01"}, "/body"),
        ({"kind": "party"}, "/body/kind"),
        ({"starts_on": "soon"}, "/body/starts_on"),
        ({"organizer_org_id": UNKNOWN_ID}, "/body/organizer_org_id"),
    ]:
        assert pointer in pointers(await client.post("/v1/series", json=valid | change, headers=headers)), change
