"""A small generic repository: repositories add and flush, the request's unit of work commits."""

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute

from shared.pagination import PageParams, decode_cursor, encode_cursor

ModelT = TypeVar("ModelT", bound=DeclarativeBase)
RowT = TypeVar("RowT")


class Repository(Generic[ModelT]):
    model: type[ModelT]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id_: UUID, *, for_update: bool = False) -> ModelT | None:
        return await self.session.get(self.model, id_, with_for_update=for_update)

    async def add(self, instance: ModelT) -> ModelT:
        self.session.add(instance)
        await self.session.flush()
        return instance

    async def delete(self, instance: ModelT) -> None:
        await self.session.delete(instance)
        await self.session.flush()


async def paginate(
    session: AsyncSession,
    statement: Select[*tuple[Any, ...]],
    *,
    keyset: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]],
    key_of: Callable[[Any], Sequence[Any]],
    page: PageParams,
    descending: bool = False,
    scalars: bool = True,
) -> tuple[list[Any], str | None]:
    """Keyset pagination over `keyset` columns (unique together, all in one direction).

    A cursor holds the last row's key, so pages never repeat or skip rows while data changes.
    """
    key = tuple_(*keyset)
    if page.cursor is not None:
        after = decode_cursor(page.cursor, arity=len(keyset), types=[column.type.python_type for column in keyset])
        statement = statement.where(key < tuple_(*after) if descending else key > tuple_(*after))
    order = [column.desc() for column in keyset] if descending else list(keyset)
    statement = statement.order_by(*order).limit(page.limit + 1)
    result = await session.execute(statement)
    rows: list[Any] = list(result.scalars().all() if scalars else result.all())
    next_cursor = encode_cursor(key_of(rows[page.limit - 1])) if len(rows) > page.limit else None
    return rows[: page.limit], next_cursor


__all__ = ["Repository", "paginate", "select"]
