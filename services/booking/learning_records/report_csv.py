"""The organization report as CSV: one row per member and month, for spreadsheets (Excel, WPS)."""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from services.booking.learning_records.schemas import MemberLearningOut

MEDIA_TYPE = "text/csv"
COLUMNS = (
    "person_id",
    "display_name",
    "role",
    "month",
    "total_minutes",
    "minutes_at_organization",
    "minutes_elsewhere",
    "sessions_attended",
    "no_shows",
)
# A byte order mark, so Excel reads the file as UTF-8 (Chinese names would be mojibake otherwise).
_BOM = "\ufeff"
# A text cell starting with one of these is a formula to a spreadsheet: a name like "=HYPERLINK(...)" would
# run when the admin opens the file (CSV injection), so such cells are prefixed with an apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def rows(members: Iterable[MemberLearningOut]) -> Iterator[tuple[str | int, ...]]:
    """The report flattened: a row per (member, month with activity), or one row with an empty month and
    zeros for a member without any."""
    for member in members:
        who = (str(member.person_id), member.display_name, member.role)
        if not member.months:
            yield (*who, "", 0, 0, 0, 0, 0)
        for month in member.months:
            yield (
                *who,
                month.month,
                month.total_minutes,
                month.minutes_at_organization,
                month.minutes_elsewhere,
                month.sessions_attended,
                month.no_shows,
            )


def neutralize(cell: str | int) -> str | int:
    if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


def render(members: Sequence[MemberLearningOut]) -> str:
    """RFC 4180 (CRLF line ends), a header row, UTF-8 with a byte order mark."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows(tuple(neutralize(cell) for cell in row) for row in rows(members))
    return _BOM + buffer.getvalue()
