"""The plain asyncpg pool of the hot paths (`shared.driver`): a connection the server dropped is a 503 at
most once, never handed to the next request, and the pool heals by itself."""

import asyncio

import asyncpg
import pytest

from shared.db import driver_url
from shared.driver import DriverPool
from shared.errors import ServiceUnavailable
from shared.settings import ServiceSettings
from tests.live import free_port


async def _pool_of_one(database_url: str) -> DriverPool:
    pool = DriverPool(ServiceSettings(database_url=database_url, db_pool_size=1), application_name="test-driver")
    await pool.open()
    return pool


async def test_a_terminated_connection_is_a_503_then_heals(database_url: str) -> None:
    pool = await _pool_of_one(database_url)
    admin = await asyncpg.connect(driver_url(database_url))
    try:
        backend = (await pool.fetch("SELECT pg_backend_pid() AS pid", []))[0]["pid"]
        await admin.execute("SELECT pg_terminate_backend($1)", backend)
        answers = []
        for _ in range(3):  # the pool's only connection is gone: at most one 503, then a fresh connection
            try:
                answers.append((await pool.fetch("SELECT 1 AS one", []))[0]["one"])
            except ServiceUnavailable:
                answers.append("503")
        assert answers in ([1, 1, 1], ["503", 1, 1])
    finally:
        await admin.close()
        await pool.close()


async def test_a_connection_terminated_mid_statement_is_a_503_then_heals(database_url: str) -> None:
    """The server's FATAL under a running statement: the pool has already let the dead connection go when
    the driver discards it, and the request still gets its 503 (not the pool's "released" InterfaceError)."""
    pool = await _pool_of_one(database_url)
    admin = await asyncpg.connect(driver_url(database_url))
    try:
        backend = (await pool.fetch("SELECT pg_backend_pid() AS pid", []))[0]["pid"]
        sleeping = asyncio.create_task(pool.fetch("SELECT pg_sleep(30)", []))
        for _ in range(200):
            if await admin.fetchval("SELECT state = 'active' FROM pg_stat_activity WHERE pid = $1", backend):
                break
            await asyncio.sleep(0.01)
        await admin.execute("SELECT pg_terminate_backend($1)", backend)
        with pytest.raises(ServiceUnavailable) as unavailable:
            await sleeping
        assert unavailable.value.headers["Retry-After"] == "2"
        assert isinstance(unavailable.value.__cause__, asyncpg.PostgresError)
        assert (await pool.fetch("SELECT 1 AS one", []))[0]["one"] == 1
    finally:
        await admin.close()
        await pool.close()


async def test_an_unreachable_database_is_a_503(database_url: str) -> None:
    refused = database_url.rsplit("@", 1)[0] + f"@127.0.0.1:{free_port()}/nowhere"
    pool = await _pool_of_one(refused)
    try:
        with pytest.raises(ServiceUnavailable):
            await pool.fetch("SELECT 1", [])
    finally:
        await pool.close()


async def test_bad_input_and_refused_statements_are_not_503s(database_url: str) -> None:
    """Classified by cause: asyncpg's DataError is an InterfaceError, but of the input, not the connection."""
    pool = await _pool_of_one(database_url)
    try:
        with pytest.raises(asyncpg.exceptions.DataError):
            await pool.fetch("SELECT $1::int AS n", ["not a number"])
        with pytest.raises(asyncpg.PostgresSyntaxError):
            await pool.fetch("SELEC 1", [])
        assert (await pool.fetch("SELECT 1 AS one", []))[0]["one"] == 1  # the connection was fine all along
    finally:
        await pool.close()
