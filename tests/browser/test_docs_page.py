"""The gateway's combined docs page in a real headless Chromium (Debian's, driven by Playwright): every
service's operations render from assets the system serves itself (no request leaves localhost), and a
person signs in with "Authorize" and runs "Try it out" on `GET /v1/me`."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support import PASSWORD, new_email
from tests.test_learncity_up import _free_base_port, _wait_healthy

pytestmark = pytest.mark.system

CHROMIUM = Path(os.environ.get("LEARNCITY_CHROMIUM", "/usr/bin/chromium"))
# As the machine's closed network needs: no background fetches, no sandbox as root, no GPU.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Outside the repository: the picture is for people (and CI artefacts), not for version control.
SCREENSHOT = Path(os.environ.get("LEARNCITY_DOCS_SCREENSHOT", Path(tempfile.gettempdir()) / "learncity-docs.png"))
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
# One operation per service that must render on the combined page (tag, operationId).
EXPECTED_OPERATIONS = {
    "orgs": ("auth", "getMe"),
    "catalog": ("search", "searchSessions"),
    "booking": ("bookings", "createBooking"),
}

pytest.importorskip("playwright.async_api", reason="Playwright for Python is not installed")
from playwright.async_api import Page, Route, async_playwright, expect  # noqa: E402 - after the skip

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`learncity up` as a user runs it (no demo data: the docs do not need it)."""
    port = _free_base_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["LEARNCITY_DATA_DIR"] = str(tmp_path_factory.mktemp("browser") / "data")
    process = subprocess.Popen(
        [sys.executable, "-m", "learncity", "up", "--port", str(port), "--no-seed"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base_url, process, timeout_s=90)
        yield base_url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(30)


@pytest.fixture(scope="module")
async def browser_page(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Page, list[str]]]:
    """A fresh Chromium profile; every URL it requests is recorded, and anything not on this machine is
    refused before it leaves (so the assertion below cannot pass by a network that happened to be down)."""
    requested: list[str] = []
    profile = tmp_path_factory.mktemp("chromium-profile")
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
            locale="zh-CN",
        )

        async def guard(route: Route) -> None:
            requested.append(route.request.url)
            if urlsplit(route.request.url).hostname in LOCAL_HOSTS or route.request.url.startswith("data:"):
                await route.continue_()
            else:
                await route.abort()

        await context.route("**/*", guard)
        try:
            yield context.pages[0] if context.pages else await context.new_page(), requested
        finally:
            await context.close()
            shutil.rmtree(profile, ignore_errors=True)


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
