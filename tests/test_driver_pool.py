"""The plain asyncpg pool of the hot paths (`shared.driver`): a connection the server dropped is a 503 at
most once, never handed to the next request, and the pool heals by itself."""

import asyncpg

from shared.db import driver_url
from shared.driver import DriverPool
from shared.errors import ServiceUnavailable
from shared.settings import ServiceSettings


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
