"""Statements that scale with the people a change touches (a cancelled festival session may have
thousands of holders): PostgreSQL takes at most 32767 parameters per statement."""

from collections.abc import Collection, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ARRAY, ColumnElement, any_, literal

Row = TypeVar("Row")
# Rows per multi-row INSERT: at most 12 columns each stays far below the parameter limit.
_ROWS_PER_INSERT = 1000


def any_of(column: ColumnElement[Any], values: Collection[Any]) -> ColumnElement[bool]:
    """`column = ANY(:values)`: one array parameter, however many values (an IN list takes one each)."""
    return column == any_(literal(list(values), ARRAY(column.type)))


def in_chunks(rows: Sequence[Row]) -> Iterator[Sequence[Row]]:
    """`rows` in slices small enough for one multi-row INSERT each."""
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        yield rows[start : start + _ROWS_PER_INSERT]
