"""Real PostgreSQL for every test: the embedded server (or TEST_DATABASE_URL), built by `alembic upgrade head`
once per run; every table emptied after each test."""

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from learncity.postgres import ensure_database, start_embedded
from services.orgs.app import create_app as create_orgs_app
from services.orgs.settings import OrgsSettings
from shared.migrations import upgrade_to_head
from shared.topology import SERVICES
from tests.support import InProcessTransport, internal_url

TEST_DATABASE = "learncity_test"


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
        if (Path(__file__).parent.parent / "migrations" / service).exists():
            upgrade_to_head(service, url)
    yield url
    if handle is not None:
        handle.cleanup()


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture(autouse=True)
async def _empty_tables(database_url: str) -> AsyncIterator[None]:
    yield
    connection = await asyncpg.connect(_plain(database_url))
    try:
        tables = await connection.fetch(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[])"
            " AND tablename <> 'alembic_version'",
            list(SERVICES),
        )
        if tables:
            names = ", ".join(f'"{t["schemaname"]}"."{t["tablename"]}"' for t in tables)
            await connection.execute(f"TRUNCATE {names} CASCADE")
    finally:
        await connection.close()


def service_settings(database_url: str, tmp_dir: Path) -> dict[str, Any]:
    return {
        "environment": "test",
        "database_url": database_url,
        "orgs_url": internal_url("orgs"),
        "log_json": True,
        "log_level": "WARNING",
        "db_pool_size": 5,
        "db_max_overflow": 10,
    }


@pytest.fixture(scope="session")
async def apps(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, FastAPI]]:
    tmp_dir = tmp_path_factory.mktemp("keys")
    common = service_settings(database_url, tmp_dir)
    built: dict[str, FastAPI] = {}
    transport = InProcessTransport(built)
    built["orgs"] = create_orgs_app(
        OrgsSettings(**common, jwt_key_file=tmp_dir / "orgs.pem", login_max_failures=5), http_transport=transport
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
