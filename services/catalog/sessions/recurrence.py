"""RFC 5545 recurrence rules, expanded with python-dateutil in a wall-clock time zone.

Bounded on every axis, because a rule is attacker-controlled input to a CPU-bound loop: at most 500
occurrences, an explicit end (COUNT or UNTIL), at most five years, a subset of rule parts whose
impossible combinations are refused up front (dateutil would otherwise search to the year 9999 for a
30th of February), and a time budget on the expansion itself.
"""

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from services.catalog.sessions.schemas import MAX_OCCURRENCES, RecurrenceIn
from shared.errors import Unprocessable

HORIZON = timedelta(days=5 * 366)
EXPANSION_BUDGET_S = 2.0
POINTER = "/body/recurrence/rrule"

_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "WKST")
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_RULE_CHARACTERS = re.compile(r"^[A-Za-z0-9=;,+-]+$")
_BYDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_LONGEST_MONTH = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}


def _invalid(detail: str, pointer: str = POINTER) -> Unprocessable:
    return Unprocessable(detail, pointer=pointer)


@dataclass(frozen=True)
class Rule:
    """A checked rule: the parts dateutil expands, and the bounds we apply ourselves."""

    body: str
    count: int | None
    until: datetime | None


def _integers(name: str, value: str, low: int, high: int, *, signed: bool = False) -> list[int]:
    try:
        numbers = [int(item) for item in value.split(",")]
    except ValueError as exc:
        raise _invalid(f"{name} takes integers") from exc
    for number in numbers:
        if not (low <= abs(number) <= high if signed else low <= number <= high):
            raise _invalid(f"{name} value {number} is out of range")
    return numbers


def _until(value: str, zone: ZoneInfo) -> datetime:
    """UNTIL as UTC (`...Z`), as wall time in `zone`, or as a date (through the end of that day)."""
    for layout, tz in (("%Y%m%dT%H%M%SZ", UTC), ("%Y%m%dT%H%M%S", zone)):
        try:
            return datetime.strptime(value, layout).replace(tzinfo=tz)
        except ValueError:
            continue
    try:
        day = datetime.strptime(value, "%Y%m%d").date()
    except ValueError as exc:
        raise _invalid("UNTIL must look like 20270630, 20270630T235959 or 20270630T155959Z") from exc
    return datetime.combine(day, time.max, tzinfo=zone)


def _check_byday(value: str, frequency: str, *, within_month: bool) -> None:
    for item in value.split(","):
        match = _BYDAY.match(item)
        if match is None:
            raise _invalid(f"BYDAY value {item!r} is not a weekday such as MO or -1FR")
        if match.group(1) is None:
            continue
        ordinal = int(match.group(1))
        if frequency in ("DAILY", "WEEKLY"):
            raise _invalid("BYDAY ordinals (like 2MO) need FREQ=MONTHLY or FREQ=YEARLY")
        limit = 5 if frequency == "MONTHLY" or within_month else 53
        if not 1 <= abs(ordinal) <= limit:
            raise _invalid(f"BYDAY ordinal {ordinal} can never occur")


def _check_month_days(month_days: list[int], months: list[int]) -> None:
    if not any(abs(day) <= _LONGEST_MONTH[month] for day in month_days for month in months):
        raise _invalid("BYMONTHDAY never falls in the months of BYMONTH")


def parse_rule(text: str, zone: ZoneInfo) -> Rule:
    raw = text.strip()
    if raw.upper().startswith("RRULE:"):
        raw = raw[len("RRULE:") :]
    if not _RULE_CHARACTERS.match(raw):
        raise _invalid("An RRULE is NAME=VALUE parts separated by `;`, e.g. FREQ=WEEKLY;BYDAY=TU;COUNT=10")
    parts: dict[str, str] = {}
    for part in filter(None, raw.split(";")):
        name, separator, value = part.partition("=")
        name = name.upper()
        if not separator or not value:
            raise _invalid(f"{part!r} is not NAME=VALUE")
        if name not in _PARTS:
            raise _invalid(f"{name} is not supported; use {', '.join(_PARTS)}")
        if name in parts:
            raise _invalid(f"{name} is given twice")
        parts[name] = value.upper()
    frequency = parts.get("FREQ")
    if frequency not in _FREQUENCIES:
        raise _invalid(f"FREQ must be one of {', '.join(_FREQUENCIES)}")
    if "INTERVAL" in parts:
        _integers("INTERVAL", parts["INTERVAL"], 1, 366)
    if "WKST" in parts and parts["WKST"] not in _WEEKDAYS:
        raise _invalid("WKST must be a weekday such as MO")
    months = _integers("BYMONTH", parts["BYMONTH"], 1, 12) if "BYMONTH" in parts else list(range(1, 13))
    if "BYMONTHDAY" in parts:
        _check_month_days(_integers("BYMONTHDAY", parts["BYMONTHDAY"], 1, 31, signed=True), months)
    if "BYDAY" in parts:
        _check_byday(parts["BYDAY"], frequency, within_month="BYMONTH" in parts)
    count = _integers("COUNT", parts.pop("COUNT"), 1, MAX_OCCURRENCES)[0] if "COUNT" in parts else None
    until = _until(parts.pop("UNTIL"), zone) if "UNTIL" in parts else None
    return Rule(body=";".join(f"{name}={value}" for name, value in parts.items()), count=count, until=until)


def _expand(body: str, dtstart: datetime, until: datetime, limit: int) -> list[datetime]:
    rule = rrulestr(body, dtstart=dtstart)
    assert isinstance(rule, rrule)  # one RRULE line, no RDATE/EXDATE: never a set
    return list(islice(rule.replace(until=until), limit))


def _earliest(*values: datetime | None) -> datetime | None:
    given = [value for value in values if value is not None]
    return min(given) if given else None


def _smallest(*values: int | None) -> int | None:
    given = [value for value in values if value is not None]
    return min(given) if given else None


async def expand_starts(starts_at: datetime, recurrence: RecurrenceIn, *, default_zone: str) -> list[datetime]:
    """Start times (UTC) of every occurrence; 422 for a rule that is malformed, unbounded, over 500
    occurrences, longer than five years, or too expensive to expand."""
    zone = ZoneInfo(recurrence.timezone or default_zone)
    rule = parse_rule(recurrence.rrule, zone)
    count = _smallest(rule.count, recurrence.count)
    until = _earliest(rule.until, recurrence.until)
    if count is None and until is None:
        raise _invalid("The rule never ends: give COUNT or UNTIL (at most 500 sessions per request)")
    dtstart = starts_at.astimezone(zone)
    if until is not None and until > dtstart + HORIZON:
        raise _invalid("UNTIL may be at most five years after starts_at")
    limit = count if count is not None else MAX_OCCURRENCES + 1
    try:
        starts = await asyncio.wait_for(
            asyncio.to_thread(_expand, rule.body, dtstart, until or dtstart + HORIZON, limit),
            timeout=EXPANSION_BUDGET_S,
        )
    except TimeoutError as exc:
        raise _invalid("The rule is too expensive to expand; simplify it") from exc
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise _invalid(f"Invalid RRULE: {exc}") from exc
    if not starts:
        raise _invalid("The rule produces no session from starts_at on")
    if len(starts) > MAX_OCCURRENCES:
        raise _invalid("The rule produces more than 500 sessions; at most 500 per request")
    if count is not None and until is None and len(starts) < count:
        raise _invalid("The rule does not produce COUNT sessions within five years")
    return [start.astimezone(UTC) for start in starts]
