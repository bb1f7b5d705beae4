"""A web app on another origin (a city portal, a district's site) uses the API through the base URL in a real
headless Chromium: it signs a person in, finds a session and books a seat (a preflighted request with a
bearer token and an Idempotency-Key), and reads the headers the contract exposes. The same page served from
an origin the system does not allow gets nothing: the browser refuses every answer."""

import json
from pathlib import Path

import httpx
from playwright.async_api import Page

from tests.integration.city import Host, register
from tests.support import PASSWORD

# The page a frontend would be: plain fetch() calls, the base URL and the session from the query string.
WEB_APP = """<!doctype html>
<html><head><meta charset="utf-8"><title>Portal</title></head><body><pre id="result">running</pre><script>
(async () => {
  const params = new URLSearchParams(location.search);
  const api = params.get("api");
  const report = (value) => { document.getElementById("result").textContent = JSON.stringify(value); };
  try {
    const token = await fetch(api + "/v1/auth/token", {
      method: "POST",
      body: new URLSearchParams({username: params.get("email"), password: params.get("password")}),
    });
    const {access_token} = await token.json();
    const found = await fetch(api + "/v1/sessions/" + params.get("session"), {headers: {"Accept-Language": "zh-CN"}});
    const booked = await fetch(api + "/v1/bookings", {
      method: "POST",
      headers: {
        "Authorization": "Bearer " + access_token,
        "Content-Type": "application/json",
        "Idempotency-Key": "portal-" + params.get("session"),
        "Accept-Language": "zh-CN",
      },
      body: JSON.stringify({session_id: params.get("session")}),
    });
    const replayed = await fetch(api + "/v1/bookings", {
      method: "POST",
      headers: {
        "Authorization": "Bearer " + access_token,
        "Content-Type": "application/json",
        "Idempotency-Key": "portal-" + params.get("session"),
      },
      body: JSON.stringify({session_id: params.get("session")}),
    });
    report({
      token: token.status,
      session: found.status,
      booked: booked.status,
      booking: await booked.json(),
      request_id: booked.headers.get("X-Request-ID"),
      replayed: replayed.status,
      idempotent_replayed: replayed.headers.get("Idempotent-Replayed"),
    });
  } catch (error) {
    report({error: String(error)});
  }
})();
</script></body></html>
"""


async def _run_web_app(page: Page, origin: str, folder: Path, query: dict[str, str]) -> dict[str, object]:
    (folder / "portal.html").write_text(WEB_APP)
    await page.goto(f"{origin}/portal.html?{httpx.QueryParams(query)}")
    result = page.locator("#result")
    await result.filter(has_not_text="running").wait_for(timeout=20_000)
    outcome: dict[str, object] = json.loads(await result.inner_text())
    return outcome


async def test_a_web_app_on_an_allowed_origin_books_a_seat_through_the_base_url(
    gateway: str, web_app: tuple[str, Path], browser_page: tuple[Page, list[str]]
) -> None:
    page, _ = browser_page
    origin, folder = web_app
    with httpx.Client(base_url=gateway, timeout=30) as api:
        session = Host.open(api).session(api, capacity=5)
        citizen = register(api, "portal")
    query = {"api": gateway, "email": citizen.email, "password": PASSWORD, "session": session["id"]}

    outcome = await _run_web_app(page, origin, folder, query)

    assert outcome.get("error") is None, outcome
    assert (outcome["token"], outcome["session"], outcome["booked"], outcome["replayed"]) == (200, 200, 201, 201)
    booking = outcome["booking"]
    assert isinstance(booking, dict) and booking["status"] == "confirmed" and booking["person_id"] == citizen.id
    assert outcome["request_id"], "X-Request-ID is exposed to the page"
    assert outcome["idempotent_replayed"] == "true"
    with httpx.Client(base_url=gateway, timeout=30) as api:
        held = api.get(f"/v1/bookings/{booking['id']}", headers=citizen.headers)
    assert held.status_code == 200 and held.json()["status"] == "confirmed"


async def test_the_same_page_on_another_origin_gets_nothing(
    gateway: str, web_app: tuple[str, Path], browser_page: tuple[Page, list[str]]
) -> None:
    page, _ = browser_page
    origin, folder = web_app
    # The same server by another name: `localhost` is another origin than `127.0.0.1`, and not allowed.
    other_origin = origin.replace("127.0.0.1", "localhost")
    with httpx.Client(base_url=gateway, timeout=30) as api:
        session = Host.open(api).session(api, capacity=5)
        citizen = register(api, "portal-other")
    query = {"api": gateway, "email": citizen.email, "password": PASSWORD, "session": session["id"]}

    outcome = await _run_web_app(page, other_origin, folder, query)

    assert "Failed to fetch" in str(outcome.get("error")), outcome
    with httpx.Client(base_url=gateway, timeout=30) as api:
        mine = api.get("/v1/bookings", headers=citizen.headers)
    assert mine.status_code == 200 and mine.json()["items"] == []
