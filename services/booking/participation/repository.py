"""Participation figures in one statement: the sessions that started in a range (a range scan of the
`starts_at` index), each with its figures (a finished session's tally, or summed live from its bookings and
check-ins: see figures.py and tallies.py), summed per group.

Every figure is over booking's own rows: `inventory` (booking's copy of each session), `bookings`, `checkins`
(the learning records) and `site_places` (booking's copy of each site's kind and district, from
`site.changed`)."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.participation.figures import BOOKING_FIGURES, CHECKIN_FIGURES


class GroupBy(StrEnum):
    district = "district"
    urban = "urban"
    site_kind = "site_kind"
    activity_kind = "activity_kind"
    month = "month"


# Where a session took place when booking cannot say which district or site kind: no site (online, or an
# in-person session the host gave no site), or a site booking has not heard of yet (no `site.changed` yet).
ONLINE = "online"
NO_SITE = "no_site"
UNKNOWN_SITE = "unknown_site"
# A site outside every district the operators loaded (or before any were loaded).
NO_DISTRICT = "no_district"

_PLACE_UNKNOWN = f"""CASE WHEN s.site_id IS NULL THEN CASE WHEN s.online THEN '{ONLINE}' ELSE '{NO_SITE}' END
        WHEN p.site_id IS NULL THEN '{UNKNOWN_SITE}'"""
# The group of each session, in two steps: `_BASES` per session (what the site does not tell), then `_KEYS`
# per (site, online, base). Fixed SQL per `GroupBy`: nothing a request sends is spliced in.
_BASES: dict[GroupBy, str] = {
    GroupBy.district: "''",
    GroupBy.urban: "''",
    GroupBy.site_kind: "''",
    GroupBy.activity_kind: "i.kind",
    GroupBy.month: "date_trunc('month', timezone(:zone, i.starts_at))",
}
_KEYS: dict[GroupBy, str] = {
    GroupBy.district: f"""{_PLACE_UNKNOWN}
        WHEN p.district_id IS NULL THEN '{NO_DISTRICT}' ELSE CAST(p.district_id AS text) END""",
    GroupBy.urban: f"""{_PLACE_UNKNOWN}
        WHEN p.urban IS NULL THEN '{NO_DISTRICT}' WHEN p.urban THEN 'urban' ELSE 'rural' END""",
    GroupBy.site_kind: f"{_PLACE_UNKNOWN} ELSE p.kind END",
    GroupBy.activity_kind: "s.base",
    GroupBy.month: "to_char(s.base, 'YYYY-MM')",
}

_STATEMENT = """
WITH f AS (
    -- Each session that started in the range, with a valid tally's figures or else the live ones (the
    -- lateral scans run only for sessions without one: the recent and the unfinished).
    SELECT i.site_id, i.mode = 'online' AS online, {base} AS base, i.status = 'scheduled' AS scheduled,
        i.starts_at <= :now AS past, i.capacity + i.online_capacity AS offered,
        coalesce(t.bookings, h.bookings) AS bookings, coalesce(t.seats, h.seats) AS seats,
        coalesce(t.no_shows, h.no_shows) AS no_shows, coalesce(t.checkins, a.checkins) AS checkins,
        coalesce(t.minutes, a.minutes) AS minutes
    FROM booking.inventory AS i
    LEFT JOIN booking.session_tallies AS t ON t.session_id = i.session_id AND t.session_updated_at = i.updated_at
    LEFT JOIN LATERAL ({bookings} AND t.session_id IS NULL) AS h ON true
    LEFT JOIN LATERAL ({checkins} AND t.session_id IS NULL) AS a ON true
    WHERE i.starts_at >= :from_ AND i.starts_at < :to
),
per_site AS (
    SELECT f.site_id, f.online, f.base,
        count(*) FILTER (WHERE f.scheduled) AS sessions,
        coalesce(sum(f.offered) FILTER (WHERE f.scheduled), 0) AS seats_offered,
        sum(f.bookings) AS bookings, sum(f.seats) AS seats_booked, sum(f.checkins) AS checkins,
        sum(f.minutes) AS learning_minutes, sum(f.no_shows) AS no_shows,
        coalesce(sum(f.offered) FILTER (WHERE f.scheduled AND f.past), 0) AS past_offered,
        coalesce(sum(f.seats) FILTER (WHERE f.scheduled AND f.past), 0) AS past_booked
    FROM f
    GROUP BY f.site_id, f.online, f.base
),
g AS (
    SELECT {key} AS key,
        sum(s.sessions) AS sessions, sum(s.seats_offered) AS seats_offered, sum(s.bookings) AS bookings,
        sum(s.seats_booked) AS seats_booked, sum(s.checkins) AS checkins,
        sum(s.learning_minutes) AS learning_minutes, sum(s.no_shows) AS no_shows,
        sum(s.past_offered) AS past_offered, sum(s.past_booked) AS past_booked
    FROM per_site AS s
    LEFT JOIN booking.site_places AS p ON p.site_id = s.site_id
    GROUP BY 1
)
SELECT g.*, {name} AS name FROM g ORDER BY g.key
"""
# The district's name as booking heard it last (its sites' snapshots may disagree for a moment).
_DISTRICT_NAME = """(SELECT d.district_name FROM booking.site_places AS d
    WHERE CAST(d.district_id AS text) = g.key ORDER BY d.updated_at DESC LIMIT 1)"""


@dataclass(frozen=True, slots=True)
class GroupFigures:
    key: str
    name: dict[str, str] | None
    sessions: int
    seats_offered: int
    bookings: int
    seats_booked: int
    checkins: int
    learning_minutes: int
    no_shows: int
    past_offered: int
    past_booked: int


def participation_statement(by: GroupBy) -> str:
    name = _DISTRICT_NAME if by == GroupBy.district else "CAST(NULL AS jsonb)"
    return _STATEMENT.format(
        key=_KEYS[by],
        base=_BASES[by],
        name=name,
        bookings=BOOKING_FIGURES.format(session="i.session_id"),
        checkins=CHECKIN_FIGURES.format(session="i.session_id"),
    )


class ParticipationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def groups(self, by: GroupBy, from_: datetime, to: datetime, now: datetime, zone: str) -> list[GroupFigures]:
        """The figures of the sessions that started in `[from_, to)`, one entry per group, ordered by key."""
        params: dict[str, Any] = {"from_": from_, "to": to, "now": now}
        if by == GroupBy.month:
            params["zone"] = zone
        rows = (await self.session.execute(text(participation_statement(by)), params)).all()
        return [
            GroupFigures(
                key=row.key,
                name=row.name,
                sessions=int(row.sessions),
                seats_offered=int(row.seats_offered),
                bookings=int(row.bookings),
                seats_booked=int(row.seats_booked),
                checkins=int(row.checkins),
                learning_minutes=int(row.learning_minutes),
                no_shows=int(row.no_shows),
                past_offered=int(row.past_offered),
                past_booked=int(row.past_booked),
            )
            for row in rows
        ]
