"""Input types shared by the catalog's domains."""

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field
from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute

from shared.schemas import Output

_NUMBER = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?")
# Far enough for any real programme, near enough that adding a duration never overflows a datetime.
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)


def _written_time(value: Any) -> Any:
    """Only RFC 3339 text: pydantic would otherwise read a bare number as Unix seconds."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("must be an RFC 3339 date-time with offset, e.g. 2027-03-02T19:00:00+08:00")
    return value


def _supported_time(value: datetime) -> datetime:
    if not EARLIEST_TIME <= value < LATEST_TIME:
        raise ValueError("must be between 2000-01-01 and 2100-01-01")
    return value


CatalogTime = Annotated[
    AwareDatetime,
    BeforeValidator(_written_time),
    AfterValidator(_supported_time),
    Field(
        description="RFC 3339 with offset, e.g. 2027-03-02T19:00:00+08:00; years 2000 to 2099",
        examples=["2027-03-02T19:00:00+08:00"],
        json_schema_extra={"pattern": r"^20\d\d-"},
    ),
]
# Lower-case vocabulary words: topics ("local_history"), audiences ("seniors").
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", examples=["local_history"])]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, examples=[30.259])]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, examples=[120.164])]


def text_example(zh_cn: str, en: str) -> Any:
    """`Field` documenting a multilingual text as the API returns it (and its `*_display` pick)."""
    return Field(examples=[{"zh-CN": zh_cn, "en": en}])


def display_example(text: str) -> Any:
    return Field(examples=[text])


class Location(Output):
    lat: Latitude
    lon: Longitude


def unique(values: list[str]) -> list[str]:
    """Drop repeats, keep the order given."""
    return list(dict.fromkeys(values))


# The columns of a keyset (see `shared.repository.paginate`).
Keyset = Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]]
