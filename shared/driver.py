"""A plain asyncpg pool beside the shared engine, for a service's hottest statement.

The shared engine is the default: a request's unit of work is a SQLAlchemy session. A hot path that is one
statement (the catalog's search, booking's seat-taking) pays more for SQLAlchemy's session, execution
context and parameter processing than for the statement's round trip; here it is one prepared statement
on a pooled connection. Statements are still written with SQLAlchemy, compiled once (`DriverStatement`).
"""

import contextlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
import structlog
from fastapi import Depends, Request
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from shared.db import driver_url, is_database_unavailable
from shared.errors import ServiceUnavailable
from shared.settings import ServiceSettings

logger = structlog.get_logger(__name__)

_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """A SQLAlchemy statement compiled for asyncpg once: `$n` SQL and its parameters' names in order."""

    sql: str
    names: tuple[str, ...]
    constants: dict[str, Any]  # values of the statement's own (constant) parameters

    @classmethod
    def of(cls, statement: ClauseElement) -> "DriverStatement":
        compiled = statement.compile(dialect=_DIALECT)
        assert isinstance(compiled, SQLCompiler)  # a statement, not DDL
        return cls(compiled.string, tuple(compiled.positiontup or ()), dict(compiled.params))

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        merged = {**self.constants, **values}
        return [merged[name] for name in self.names]


async def _init_connection(connection: asyncpg.Connection) -> None:
    # JSON columns as Python values, like the shared engine's connections.
    for name in ("json", "jsonb"):
        await connection.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _end_any_transaction(connection: asyncpg.Connection) -> None:
    """The reset when a connection returns to the pool: the statements here change no session state (their
    advisory locks are transaction-scoped), so asyncpg's default reset (advisory unlock, CLOSE ALL,
    UNLISTEN, RESET ALL) would only cost a round trip per request. A connection whose state is unknown
    never gets here: `DriverPool.connection` terminates it."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


def _discard(connection: asyncpg.Connection) -> None:
    """Close a pooled connection for good. One the server closed has been let go by the pool already (its
    proxy is detached, and says so with an InterfaceError): nothing is left to close then."""
    with contextlib.suppress(asyncpg.InterfaceError):
        connection.terminate()


class DriverPool:
    def __init__(self, settings: ServiceSettings, *, application_name: str) -> None:
        self._dsn = driver_url(settings.database_url)
        self._size = settings.db_pool_size
        self._timeout_s = settings.db_pool_timeout_s
        self._application_name = application_name
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        # min_size=0: the service starts (and answers /readyz) even while the database is still coming up.
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=0,
            max_size=self._size,
            init=_init_connection,
            reset=_end_any_transaction,
            server_settings={"application_name": self._application_name},
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection outside any transaction block: each statement commits on its own.

        The database unreachable (acquiring, connecting, or the connection cut under a statement, however
        asyncpg says it: `shared.db.is_database_unavailable`) raises `ServiceUnavailable`, a 503 to retry."""
        assert self._pool is not None, "the driver pool is opened in the app's lifespan"
        try:
            async with self._pool.acquire(timeout=self._timeout_s) as connection:
                try:
                    yield connection
                except asyncpg.PostgresError as exc:
                    if is_database_unavailable(exc):
                        _discard(connection)
                    raise  # the server refused a statement: the connection itself is fine
                except BaseException:
                    # Cancelled mid-statement, or failed on our side (the server gone, a protocol error): its
                    # state is unknown, so it is closed instead of going back to the pool for the next request.
                    _discard(connection)
                    raise
        except Exception as exc:
            if not is_database_unavailable(exc):
                raise
            logger.warning("driver_pool_unavailable", error=repr(exc))
            raise ServiceUnavailable("The database is unavailable; try again shortly", retry_after_s=2) from exc

    async def fetch(self, sql: str, arguments: Sequence[Any]) -> list[asyncpg.Record]:
        """One statement on its own (no transaction block: a single statement is atomic)."""
        async with self.connection() as connection:
            rows: list[asyncpg.Record] = await connection.fetch(sql, *arguments)
            return rows


async def _driver_pool(request: Request) -> DriverPool:  # async: FastAPI runs sync dependencies in threads
    pool: DriverPool = request.app.state.driver_pool
    return pool


DriverPoolDep = Annotated[DriverPool, Depends(_driver_pool)]


@asynccontextmanager
async def driver_pool(state: Any, settings: ServiceSettings, *, application_name: str) -> AsyncIterator[DriverPool]:
    """Opens the pool as `state.driver_pool` for the app's lifetime."""
    state.driver_pool = pool = DriverPool(settings, application_name=application_name)
    await pool.open()
    try:
        yield pool
    finally:
        await pool.close()
