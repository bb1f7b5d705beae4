"""What the browser tests share: `learncity up` as a user runs it, a web page's own origin, and a fresh headless
Chromium (Debian's, driven by Playwright) that never reaches beyond this machine."""

import os
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, Route, async_playwright

from tests.live import learncity_up
from tests.test_learncity_up import _free_base_port

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
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="session")
def web_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A static web server on an origin of its own (another port is another origin), as a city portal or a
    district's site serves its frontend: yields the origin and the folder it serves."""
    folder = tmp_path_factory.mktemp("web-app")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory, web_app: tuple[str, Path]) -> Iterator[str]:
    """`learncity up` as a user runs it (no demo data: these tests make their own), allowing the web app's
    origin through LEARNCITY_CORS_ORIGINS."""
    with learncity_up(
        tmp_path_factory.mktemp("browser"),
        _free_base_port(),
        {"LEARNCITY_CORS_ORIGINS": web_app[0]},
        arguments=("--no-seed",),
        timeout_s=90,
    ) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)")
    return CHROMIUM


@pytest.fixture(scope="module")
async def browser_page(
    tmp_path_factory: pytest.TempPathFactory, chromium: Path
) -> AsyncIterator[tuple[Page, list[str]]]:
    """A fresh Chromium profile; every URL it requests is recorded, and anything not on this machine is
    refused before it leaves (so the assertion below cannot pass by a network that happened to be down)."""
    requested: list[str] = []
    profile = tmp_path_factory.mktemp("chromium-profile")
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(chromium),
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
