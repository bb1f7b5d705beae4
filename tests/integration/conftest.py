"""The system as a client sees it: HTTP to one base URL and nothing else (no database, no imports of the
services). `LEARNCITY_BASE_URL` names a running system (e.g. `docker compose up`); without it, the session
starts `learncity up` on free ports with a temporary data folder and stops it at the end."""

import os
from collections.abc import Iterator

import httpx
import pytest

from tests.live import learncity_up, wait_healthy
from tests.test_learncity_up import _free_base_port

START_TIMEOUT_S = 120.0


@pytest.fixture(autouse=True)
def _empty_tables() -> None:
    """Replaces the suite-wide table cleanup: these tests never touch a database directly."""


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("LEARNCITY_BASE_URL")
    if configured:
        wait_healthy(configured.rstrip("/"), START_TIMEOUT_S)
        yield configured.rstrip("/")
        return
    with learncity_up(tmp_path_factory.mktemp("learncity-up"), _free_base_port(), timeout_s=START_TIMEOUT_S) as url:
        yield url


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client
