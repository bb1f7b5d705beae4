"""The gateway's combined docs page in a real headless Chromium (Debian's, driven by Playwright): every
service's operations render from assets the system serves itself (no request leaves localhost), and a
person signs in with "Authorize" and runs "Try it out" on `GET /v1/me`."""

import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import LOCAL_HOSTS
from tests.support import PASSWORD, new_email

pytestmark = pytest.mark.system

# Outside the repository: the picture is for people (and CI artefacts), not for version control.
SCREENSHOT = Path(os.environ.get("LEARNCITY_DOCS_SCREENSHOT", Path(tempfile.gettempdir()) / "learncity-docs.png"))
# One operation per service that must render on the combined page (tag, operationId).
EXPECTED_OPERATIONS = {
    "orgs": ("auth", "getMe"),
    "catalog": ("search", "searchSessions"),
    "booking": ("bookings", "createBooking"),
}


async def test_combined_docs_render_every_service_offline_and_try_it_out_works(
    gateway: str, browser_page: tuple[Page, list[str]]
) -> None:
    page, requested = browser_page

    email = new_email("browser")
    async with httpx.AsyncClient(base_url=gateway) as api:
        registered = await api.post(
            "/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "浏览器 Browser"}
        )
        assert registered.status_code == 201, registered.text
        specs = {service: (await api.get(f"/openapi/{service}.json")).json() for service in EXPECTED_OPERATIONS}

    await page.goto(f"{gateway}/docs", wait_until="networkidle")
    await expect(page).to_have_title("Learning City API")
    for service, (tag, operation_id) in EXPECTED_OPERATIONS.items():
        section = page.locator(f"#docs-{service}")
        await expect(section.locator(".info .title")).to_contain_text(f"Learning City: {service}", timeout=20_000)
        await expect(section.locator(f"#operations-{tag}-{operation_id}")).to_be_visible()
        operations = sum(len(item) for item in specs[service]["paths"].values())
        await expect(section.locator(".opblock")).to_have_count(operations)
        await expect(section.locator("section.models")).to_have_count(0)
    await page.screenshot(path=str(SCREENSHOT), full_page=True)

    orgs = page.locator("#docs-orgs")
    await orgs.locator(".auth-wrapper .authorize").click()
    dialog = orgs.locator(".dialog-ux")
    await dialog.locator("input#oauth_username").fill(email)
    await dialog.locator("input#oauth_password").fill(PASSWORD)
    await dialog.locator(".auth-btn-wrapper .authorize").click()
    await expect(dialog.locator(".auth-btn-wrapper")).to_contain_text("Logout", timeout=10_000)
    await dialog.locator(".auth-btn-wrapper .btn-done").click()

    me = orgs.locator("#operations-auth-getMe")
    await me.locator(".opblock-summary").click()
    await me.locator(".try-out__btn").click()
    await me.locator(".execute").click()
    live = me.locator(".live-responses-table .response")
    await expect(live.locator(".response-col_status").first).to_have_text("200", timeout=10_000)
    await expect(live.locator(".response-col_description")).to_contain_text(email)
    await me.screenshot(path=str(SCREENSHOT.with_name(SCREENSHOT.stem + "-me.png")))

    assert requested, "the browser recorded no request"
    outside = [url for url in requested if urlsplit(url).hostname not in LOCAL_HOSTS and not url.startswith("data:")]
    assert outside == [], f"requests left localhost: {outside}"
    hosts = {urlsplit(url).netloc for url in requested}
    assert hosts == {urlsplit(gateway).netloc}, hosts  # everything came through the one gateway
