"""Cursor pagination: `?limit=` (1..100, default 20) and an opaque `?cursor=` over a keyset."""

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from shared.errors import Unprocessable

MAX_PAGE_SIZE = 100

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to fetch the next page; null on the last page",
        examples=["W3sidCI6ICIyMDI3LTAzLTAyVDE5OjAwOjAwKzA4OjAwIn1d"],
    )


class PageParams(BaseModel):
    limit: int
    cursor: str | None


async def _page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size (1..100)")] = 20,
    cursor: Annotated[
        str | None, Query(max_length=512, pattern=r"^[A-Za-z0-9_-]+$", description="Opaque cursor from `next_cursor`")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(_page_params)]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, UUID):
        return {"u": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "t" in value:
            return datetime.fromisoformat(value["t"])
        if "u" in value:
            return UUID(value["u"])
    return value


def encode_cursor(key: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _fits(value: Any, expected: type) -> bool:
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is datetime:
        return isinstance(value, datetime) and value.tzinfo is not None
    return isinstance(value, expected) and not (isinstance(value, bool) and expected is not bool)


def decode_cursor(cursor: str, *, arity: int, types: Sequence[type] | None = None) -> tuple[Any, ...]:
    """Decode a cursor made by `encode_cursor` for a keyset of `arity` columns (of `types`, when given: a
    forged cursor must be a 422, never a database type error); 422 when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError("wrong arity")
        decoded = tuple(_decode_value(v) for v in values)
        if types is not None and not all(_fits(v, t) for v, t in zip(decoded, types, strict=True)):
            raise ValueError("wrong types")
        return decoded
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise Unprocessable("The cursor is not valid for this list", pointer="/query/cursor") from exc
