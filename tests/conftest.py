"""Real PostgreSQL for every test: the embedded server (or TEST_DATABASE_URL), built by `alembic upgrade head`
once per run; every table emptied after each test."""

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from learncity.postgres import ensure_database, start_embedded
from services.booking.app import create_app as create_booking_app
from services.booking.settings import BookingSettings
from services.catalog.app import create_app as create_catalog_app
from services.catalog.settings import CatalogSettings
from services.notify.app import create_app as create_notify_app
from services.notify.settings import NotifySettings
from services.orgs.app import create_app as create_orgs_app
from services.orgs.settings import OrgsSettings
from shared.db import driver_url
from shared.migrations import upgrade_to_head
from shared.topology import SERVICES
from tests.live import LiveSystem
from tests.support import InProcessTransport, internal_url

TEST_DATABASE = "learncity_test"
# Fixtures that run real service processes, whose relays deliver every pending outbox row of the shared
# database: tests using them run last, so they never race the hand-driven relays of in-process tests.
_PROCESS_FIXTURES = {"live_system", "private_system"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    live = [item for item in items if _PROCESS_FIXTURES & set(getattr(item, "fixturenames", ()))]
    items[:] = [item for item in items if item not in live] + live


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("TEST_DATABASE_URL")
    handle = None
    if configured:
        server_url = configured
    else:
        handle = start_embedded(tmp_path_factory.mktemp("pg") / "data", cleanup_mode="delete")
        server_url = handle.get_uri()
    url, _ = asyncio.run(ensure_database(server_url, TEST_DATABASE, recreate=True))
    for service in SERVICES:
        upgrade_to_head(service, url)
    yield url
    if handle is not None:
        handle.cleanup()


EMPTYING_ATTEMPTS = 12
# Foreign keys between the services' tables: children are emptied before their parents.
_FOREIGN_KEYS = """
    SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
    WHERE c.contype = 'f' AND n.nspname = ANY($1::text[])"""


@pytest.fixture(autouse=True)
async def _empty_tables(database_url: str) -> AsyncIterator[None]:
    yield
    connection = await asyncpg.connect(driver_url(database_url))
    try:
        tables = await connection.fetch(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[])"
            " AND tablename <> 'alembic_version'",
            list(SERVICES),
        )
        order: TopologicalSorter[str] = TopologicalSorter({f"{t['schemaname']}.{t['tablename']}": () for t in tables})
        for key in await connection.fetch(_FOREIGN_KEYS, list(SERVICES)):
            if key["child"] != key["parent"]:
                order.add(key["child"], key["parent"])
        # DELETE, not TRUNCATE: TRUNCATE's ACCESS EXCLUSIVE locks conflict with every read of the live processes
        # (the live system, `learncity up`), which then deadlock with it or queue behind it, and one of them may
        # wait on another process's HTTP request that waits in that queue (a cycle PostgreSQL cannot see).
        # DELETE's ROW EXCLUSIVE lock blocks no reader. One statement list: one transaction.
        deletes = "; ".join(f"DELETE FROM {table}" for table in reversed(list(order.static_order())))
        await connection.execute("SET lock_timeout = '5s'")
        for attempt in range(EMPTYING_ATTEMPTS):
            try:
                await connection.execute(deletes)
                break
            except (asyncpg.DeadlockDetectedError, asyncpg.LockNotAvailableError):
                if attempt == EMPTYING_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await connection.close()


# The one browser origin the in-process services allow (tests/test_cors.py).
CORS_ORIGIN = "https://portal.learncity.example"


def _common_settings(database_url: str) -> dict[str, Any]:
    return {
        "environment": "test",
        "database_url": database_url,
        "orgs_url": internal_url("orgs"),
        "log_json": True,
        "log_level": "WARNING",
        "db_pool_size": 5,
        "db_max_overflow": 10,
        # Tests deliver events by hand (`deliver_events`), so every step is deterministic.
        "relay_enabled": False,
        # Tests refresh the revoked-token lists by hand too (`app.state.revocation.refresh()`).
        "revocation_refresh_s": 0,
        "cors_origins": [CORS_ORIGIN],
    }


@pytest.fixture(scope="session")
def jwt_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys") / "orgs-ed25519.pem"


@pytest.fixture(scope="session")
async def apps(database_url: str, jwt_key_file: Path) -> AsyncIterator[dict[str, FastAPI]]:
    """Every service in-process; service-to-service calls and event deliveries go through
    `InProcessTransport`, so they cross the real HTTP layer of the other app."""
    common = _common_settings(database_url)
    built: dict[str, FastAPI] = {}
    transport = InProcessTransport(built)
    built["orgs"] = create_orgs_app(
        OrgsSettings(
            **common,
            jwt_key_file=jwt_key_file,
            booking_url=internal_url("booking"),
            notify_url=internal_url("notify"),
        ),
        http_transport=transport,
    )
    built["catalog"] = create_catalog_app(
        CatalogSettings(**common, booking_url=internal_url("booking"), notify_url=internal_url("notify")),
        http_transport=transport,
    )
    built["booking"] = create_booking_app(
        BookingSettings(
            **common,
            catalog_url=internal_url("catalog"),
            notify_url=internal_url("notify"),
            # Tests sweep no-shows by hand (`NoShowSweep.run_once`), like they deliver events.
            no_show_sweep_interval_s=0,
            # ... and tally finished sessions by hand (`tally_all`).
            tally_interval_s=0,
        ),
        http_transport=transport,
    )
    built["notify"] = create_notify_app(
        NotifySettings(
            **common, catalog_url=internal_url("catalog"), booking_url=internal_url("booking"), workers_enabled=False
        ),
        http_transport=transport,
    )
    async with AsyncExitStack() as stack:
        for app in built.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield built


@pytest.fixture
async def client(apps: dict[str, FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    """One base URL over every service, as the gateway gives frontends."""
    async with httpx.AsyncClient(transport=InProcessTransport(apps), base_url="http://gateway.test") as client:
        yield client


@pytest.fixture
def deliver_events(apps: dict[str, FastAPI]) -> Callable[[], Awaitable[int]]:
    """Run every service's relay until no event is pending anywhere; returns how many were delivered."""

    async def deliver() -> int:
        delivered = 0
        for _ in range(20):
            round_total = 0
            for app in apps.values():
                relay = getattr(app.state, "relay", None)
                if relay is not None:
                    round_total += await relay.run_once()
            delivered += round_total
            if round_total == 0:
                return delivered
        raise AssertionError("events still pending after 20 relay rounds")

    return deliver


@pytest.fixture(scope="session")
def live_system(database_url: str, jwt_key_file: Path) -> Iterator[LiveSystem]:
    """The three services as real `learncity serve` processes on free ports (relays running), for tests
    that need real parallel HTTP. Started once per run, on the same database as everything else."""
    with LiveSystem.start(database_url, jwt_key_file) as system:
        yield system
