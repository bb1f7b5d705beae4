"""A generated year of participation history at city scale, written set-based into booking's schema.

A bench tool (like the tests): it writes the booking schema directly with `INSERT ... SELECT
generate_series(...)`, which no service does. Sites: booking's copy (`booking.site_places`) of every site the
catalog has (as `site.changed` would bring them), topped up with generated sites spread over the catalog's
districts up to `sites`. Then `sessions` sessions over the last 365 days (one in 20 online without a site,
one in 33 cancelled), each with bookings for 25-85% of its seats (every tenth for 2 seats): 7% cancelled by
their person, 10% no-shows, the rest confirmed and checked in with the session's minutes
credited; the sessions' seat counters are set from the bookings, as booking keeps them.
"""

import asyncpg

from services.catalog.models import ACTIVITY_KINDS
from services.catalog.models import SITE_KINDS as CATALOG_SITE_KINDS

# The generated sites are places (not `online`): sessions there are counted by district and site kind.
SITE_KINDS = tuple(kind for kind in CATALOG_SITE_KINDS if kind != "online")
PEOPLE = 80_000

# Booking's copy of the catalog's sites (what `site.changed` brings; kept if already there).
_CATALOG_SITES = """
INSERT INTO booking.site_places (site_id, owner_org_id, kind, name, district_id, district_name, urban, updated_at)
SELECT s.id, s.owner_org_id, s.kind, s.name, d.id, d.name, d.urban, now()
FROM catalog.sites AS s LEFT JOIN catalog.districts AS d ON d.id = s.district_id
ON CONFLICT (site_id) DO NOTHING
"""
# Generated sites up to $1, over the catalog's districts in turn (none when no district is loaded).
_MORE_SITES = """
WITH d AS (SELECT id, name, urban, row_number() OVER (ORDER BY code) - 1 AS n, count(*) OVER () AS total
           FROM catalog.districts),
missing AS (SELECT g FROM generate_series(1, $1 - (SELECT count(*) FROM booking.site_places)) AS g)
INSERT INTO booking.site_places (site_id, owner_org_id, kind, name, district_id, district_name, urban, updated_at)
SELECT gen_random_uuid(), md5('bench-org-' || g)::uuid, ($2::text[])[1 + g % cardinality($2::text[])],
       jsonb_build_object('en', 'Bench site ' || g, 'zh-CN', '测试场馆 ' || g), d.id, d.name, d.urban, now()
FROM missing LEFT JOIN d ON d.n = g % d.total
"""
_SESSIONS = """
CREATE TEMP TABLE bench_sites AS
SELECT site_id, owner_org_id, row_number() OVER (ORDER BY site_id) - 1 AS n FROM booking.site_places;
CREATE TEMP TABLE bench_sessions AS
SELECT g, gen_random_uuid() AS session_id,
       CASE WHEN g % 20 = 0 THEN NULL ELSE s.site_id END AS site_id,
       coalesce(s.owner_org_id, md5('bench-online-host-' || g % 50)::uuid) AS host_org_id,
       date_trunc('day', now()) - make_interval(days => 1 + g % 365, hours => -(1 + (g * 7) % 12)) AS starts_at,
       60 + 30 * (g % 3) AS minutes,
       20 + (g * 13) % 41 AS capacity,
       CASE WHEN g % 33 = 0 THEN 'cancelled' ELSE 'scheduled' END AS status,
       (ARRAY[{activity_kinds}])[1 + (g / 7) % {activity_kind_count}] AS kind
FROM generate_series(1, {sessions}) AS g
JOIN bench_sites AS s ON s.n = g % (SELECT count(*) FROM bench_sites);
INSERT INTO booking.inventory (session_id, activity_id, host_org_id, site_id, title, kind, starts_at, ends_at,
    status, capacity, mode)
SELECT session_id, md5('bench-activity-' || g % 3000)::uuid, host_org_id, site_id,
       '{{"en": "Bench session", "zh-CN": "测试活动"}}'::jsonb, kind, starts_at,
       starts_at + make_interval(mins => minutes), status, capacity,
       CASE WHEN site_id IS NULL THEN 'online' ELSE 'in_person' END
FROM bench_sessions
"""
# Each booking: n-th of its session; h decides its fate.
_BOOKINGS = """
CREATE TEMP TABLE bench_bookings AS
SELECT gen_random_uuid() AS id, s.session_id, s.status AS session_status, s.starts_at, s.minutes,
       s.host_org_id, s.kind, md5('bench-person-' || (s.g * 101 + n) % {people})::uuid AS person_id,
       CASE WHEN n % 10 = 0 THEN 2 ELSE 1 END AS seats,
       (n * 31 + s.g * 7) % 100 AS h
FROM bench_sessions AS s, generate_series(1, s.capacity * (25 + (s.g * 17) % 61) / 100) AS n;
INSERT INTO booking.bookings (id, session_id, person_id, seats, status, session_ends_at, checkin_code,
    confirmed_at, cancelled_at, cancel_reason, created_at)
SELECT id, session_id, person_id, seats,
       CASE WHEN session_status = 'cancelled' OR h < 7 THEN 'cancelled' WHEN h < 17 THEN 'no_show'
            ELSE 'confirmed' END,
       starts_at + make_interval(mins => minutes),
       CASE WHEN session_status = 'scheduled' AND h >= 17 THEN md5(id::text) END,
       starts_at - interval '3 days',
       CASE WHEN session_status = 'cancelled' THEN starts_at - interval '1 day'
            WHEN h < 7 THEN starts_at - interval '2 days' END,
       CASE WHEN session_status = 'cancelled' THEN 'session_cancelled' WHEN h < 7 THEN 'person' END,
       starts_at - interval '3 days'
FROM bench_bookings;
INSERT INTO booking.checkins (booking_id, person_id, session_id, host_org_id, title, kind, starts_at, minutes,
    checked_in_at, checked_in_by)
SELECT id, person_id, session_id, host_org_id, '{{"en": "Bench session", "zh-CN": "测试活动"}}'::jsonb, kind,
       starts_at, minutes, starts_at + interval '5 minutes', md5('bench-staff')::uuid
FROM bench_bookings WHERE session_status = 'scheduled' AND h >= 17;
UPDATE booking.inventory AS i SET confirmed_seats = held.seats
FROM (SELECT session_id, sum(seats) AS seats FROM bench_bookings
      WHERE session_status = 'scheduled' AND h >= 7 GROUP BY session_id) AS held
WHERE i.session_id = held.session_id;
DROP TABLE bench_bookings, bench_sessions, bench_sites
"""


async def generate_history(dsn: str, *, sites: int, sessions: int) -> dict[str, int]:
    """Write the history; returns how many rows of each kind booking now holds."""
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.execute(_CATALOG_SITES)
            await connection.execute(_MORE_SITES, sites, list(SITE_KINDS))
            kinds = ", ".join(f"'{kind}'" for kind in ACTIVITY_KINDS)
            await connection.execute(
                _SESSIONS.format(activity_kinds=kinds, activity_kind_count=len(ACTIVITY_KINDS), sessions=sessions)
            )
            await connection.execute(_BOOKINGS.format(people=PEOPLE))
        for table in ("site_places", "inventory", "bookings", "checkins"):
            await connection.execute(f"VACUUM ANALYZE booking.{table}")
        counts = {}
        for table in ("site_places", "inventory", "bookings", "checkins"):
            counts[table] = int(await connection.fetchval(f"SELECT count(*) FROM booking.{table}"))
        return counts
    finally:
        await connection.close()
