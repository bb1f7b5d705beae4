"""Cursors checked against the value types of a list's keyset: one made for another sort, or forged, is a
422, never a database type error."""

from typing import Any

from shared.pagination import PageParams, decode_cursor


def require_cursor_types(page: PageParams, *types: type) -> tuple[Any, ...] | None:
    """The cursor's values (None without a cursor); 422 unless it holds one value of each of `types`."""
    if page.cursor is None:
        return None
    return decode_cursor(page.cursor, arity=len(types), types=types)
