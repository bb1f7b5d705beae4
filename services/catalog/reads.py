"""A plain asyncpg pool for the catalog's hottest read, the session search.

Search is one SELECT: it needs no unit of work, no ORM and no transaction. Through the shared engine each
request would also pay the unit of work's BEGIN and COMMIT round trips and SQLAlchemy's per-statement work;
here a request is one prepared-statement round trip.
"""

import json
from collections.abc import Sequence
from typing import Annotated, Any

import asyncpg
import structlog
from fastapi import Depends, Request

from shared.errors import ServiceUnavailable
from shared.settings import ServiceSettings

logger = structlog.get_logger(__name__)

# Connection-level failures (the database restarting or unreachable): the client should retry.
_UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
)


async def _init_connection(connection: asyncpg.Connection) -> None:
    # JSON columns as Python values, like the shared engine's connections.
    for name in ("json", "jsonb"):
        await connection.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session_state(_: asyncpg.Connection) -> None:
    """No reset when a connection returns to the pool: reads change no session state, and asyncpg's
    default reset is one more round trip (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) per request."""


class ReadPool:
    def __init__(self, settings: ServiceSettings) -> None:
        self._dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._size = settings.db_pool_size
        self._timeout_s = settings.db_pool_timeout_s
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        # min_size=0: the service starts (and answers /readyz) even while the database is still coming up.
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=0,
            max_size=self._size,
            init=_init_connection,
            reset=_keep_session_state,
            server_settings={"application_name": "learncity-catalog-reads"},
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def fetch(self, sql: str, arguments: Sequence[Any]) -> list[asyncpg.Record]:
        assert self._pool is not None, "the read pool is opened in the app's lifespan"
        try:
            async with self._pool.acquire(timeout=self._timeout_s) as connection:
                rows: list[asyncpg.Record] = await connection.fetch(sql, *arguments)
                return rows
        except (*_UNAVAILABLE, TimeoutError) as exc:
            logger.warning("read_pool_unavailable", error=repr(exc))
            raise ServiceUnavailable("The database is unavailable; try again shortly", retry_after_s=2) from exc


async def _read_pool(request: Request) -> ReadPool:  # async: FastAPI runs sync dependencies in threads
    pool: ReadPool = request.app.state.read_pool
    return pool


ReadPoolDep = Annotated[ReadPool, Depends(_read_pool)]
