"""Paging on top of `shared.pagination`: the same parameters resolved on the event loop, and cursors checked
against the value types of a list's keyset (one made for another sort, or forged, is a 422)."""

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, get_args

from fastapi import Depends

from shared import pagination
from shared.pagination import PageParams, decode_cursor


def _on_event_loop(dependency: Callable[..., Any]) -> Callable[..., Any]:
    """The same dependency (same query parameters, same validation) as an `async def`: FastAPI runs a
    plain `def` dependency in a worker thread, which costs more than parsing two parameters."""
    if inspect.iscoroutinefunction(dependency):
        return dependency

    @functools.wraps(dependency)
    async def resolve(*args: Any, **kwargs: Any) -> PageParams:
        params: PageParams = dependency(*args, **kwargs)
        return params

    return resolve


PageDep = Annotated[PageParams, Depends(_on_event_loop(get_args(pagination.PageDep)[1].dependency))]


def require_cursor_types(page: PageParams, *types: type) -> tuple[Any, ...] | None:
    """The cursor's values (None without a cursor); 422 unless it holds one value of each of `types`."""
    if page.cursor is None:
        return None
    return decode_cursor(page.cursor, arity=len(types), types=types)
