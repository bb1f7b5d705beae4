"""The catalog's coverage map (`GET /v1/coverage/districts` with `Accept: image/svg+xml`) in a real headless
Chromium: it renders from the file alone (no request leaves localhost), names every district in both
languages, and draws covered and uncovered cells, sites by kind, a legend and a title."""

import json
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from playwright.async_api import Page, expect

from services.catalog.demo.districts import DISTRICTS_FILE
from services.orgs.models import Person as PersonRow
from shared.ids import new_id
from tests.browser.conftest import LOCAL_HOSTS
from tests.support import new_email

SCREENSHOT = Path(
    os.environ.get("LEARNCITY_MAP_SCREENSHOT", Path(tempfile.gettempdir()) / "learncity-coverage-map.png")
)
SITES = [  # kind, lat, lon: a few of the demo city's, in four districts
    ("library", 30.2453, 120.2108),
    ("museum", 30.2533, 120.1459),
    ("theatre", 30.2724, 120.1629),
    ("cinema", 30.2083, 120.2132),
    ("cultural_hall", 29.7547, 119.6457),
    ("community_center", 30.417, 120.3055),
]


async def _operator_headers(apps: dict[str, FastAPI]) -> dict[str, str]:
    person_id = new_id()
    async with apps["orgs"].state.database.sessionmaker.begin() as session:
        session.add(
            PersonRow(id=person_id, email=new_email("map"), display_name="O", password_hash="!", roles=["operator"])
        )
    token, _ = apps["orgs"].state.signing_keys.issue_access_token(person_id, ["operator"])
    return {"Authorization": f"Bearer {token}"}


async def test_the_coverage_map_renders_offline_and_names_every_district(
    apps: dict[str, FastAPI],
    client: httpx.AsyncClient,
    web_app: tuple[str, Path],
    browser_page: tuple[Page, list[str]],
) -> None:
    page, requested = browser_page
    operator = await _operator_headers(apps)
    districts = json.loads(DISTRICTS_FILE.read_text(encoding="utf-8"))
    loaded = await client.post("/v1/coverage/districts", json=districts, headers=operator)
    assert loaded.status_code == 200, loaded.text
    organization = await client.post(
        "/v1/organizations", json={"name": "杭州图书馆 Hangzhou Library", "kind": "library"}, headers=operator
    )
    assert organization.status_code == 201, organization.text
    for index, (kind, lat, lon) in enumerate(SITES):
        body = {
            "name": {"zh-CN": f"场馆{index}", "en": f"Site {index}"},
            "kind": kind,
            "location": {"lat": lat, "lon": lon},
            "address": "杭州 Hangzhou",
            "owner_org_id": organization.json()["id"],
        }
        created = await client.post("/v1/sites", json=body, headers=operator)
        assert created.status_code == 201, created.text

    response = await client.get(
        "/v1/coverage/districts", headers={"Accept": "image/svg+xml", "Accept-Language": "zh-CN"}
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    origin, folder = web_app
    (folder / "coverage-map.svg").write_bytes(response.content)
    requested.clear()

    await page.goto(f"{origin}/coverage-map.svg", wait_until="load")
    svg = page.locator("svg")
    await expect(svg).to_be_visible()
    names = [feature["properties"]["name"] for feature in districts["features"]]
    labels = page.locator("text.district-name")
    await expect(labels).to_have_count(len(names))
    shown = await labels.all_text_contents()
    for name in names:
        assert any(name["zh-CN"] in text and name["en"] in text for text in shown), name
    # Chromium laid every label out with a size (it rendered; nothing is collapsed or hidden).
    boxes = await labels.evaluate_all("els => els.map(e => e.getBBox()).map(b => [b.width, b.height])")
    assert all(width > 0 and height > 0 for width, height in boxes)
    await expect(page.locator("path.district")).to_have_count(len(names))
    for cells in ("path.cells-covered", "path.cells-uncovered"):
        area = await page.locator(cells).evaluate("e => { const b = e.getBBox(); return b.width * b.height }")
        assert area > 0, cells
    await expect(page.locator("g.site")).to_have_count(len(SITES))
    assert {await g.get_attribute("data-kind") for g in await page.locator("g.site").all()} == {k for k, _, _ in SITES}
    await expect(page.locator("g.legend")).to_contain_text("图例 Legend")
    await expect(page.locator("g.legend-site")).to_have_count(len(SITES))
    await expect(page.locator("text.title")).to_contain_text("15-minute learning circle")
    await page.screenshot(path=str(SCREENSHOT), timeout=15_000)
    assert requested and all(urlsplit(url).hostname in LOCAL_HOSTS for url in requested), requested
