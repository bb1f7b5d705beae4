"""The Hangzhou demo city, seeded by each service's own code: orgs (the demo account, the organizations and
the demo citizens), then the catalog (sites, series, activities, the coming sessions and the past ones),
then booking (who booked, came to, missed or cancelled each past session). The runner is the one place that
knows every service: it hands each the others' results as plain data (ids, `shared` event payloads), and no
service imports another's package (tests/test_boundaries.py).

The past is relative to `today`, and so is how it went: how full a session was depends on where it took
place (the central libraries, museums and theatres fill up, the rural cultural halls of the outer counties
much less), what it was, and the month (Spring Festival is quiet), with some noise; all of it drawn from
generators seeded by the session's id, so every run plans the same."""

import asyncio
import random
from datetime import date, datetime

from services.booking.demo import PastSessionDemand
from services.booking.demo import seed_history as seed_booking_history
from services.catalog.demo.seed import CITY_ZONE, PastSession, load_demo_data, seed_catalog
from services.catalog.demo.seed import seed_history as seed_catalog_history
from services.orgs.demo import CITIZENS, DEMO_EMAIL, DEMO_PASSWORD, citizen_email, seed_organizations

__all__ = ["CITIZENS", "DEMO_EMAIL", "DEMO_PASSWORD", "citizen_email", "seed_demo"]

# How full a session was, before the district, the month and chance have their say: by the kind of site
# (None: online), then by the kind of activity.
_SITE_FILL = {
    "theatre": 0.85,
    "museum": 0.82,
    "library": 0.74,
    "school": 0.7,
    "park": 0.75,
    "community_center": 0.68,
    "cinema": 0.6,
    "cultural_hall": 0.5,
    None: 0.55,
}
_DEFAULT_SITE_FILL = 0.65
_KIND_FACTOR = {"workshop": 1.1, "course": 1.05, "performance": 1.1, "lecture": 0.9, "screening": 0.85, "forum": 0.8}
# Districts by how far from the centre (the free-text district starts with its Chinese name): the rural
# counties' cultural halls are the ones the city asks about.
_RURAL = ("淳安县", "桐庐县", "建德市", "临安区", "富阳区")
_SUBURBAN = ("萧山区", "余杭区", "临平区", "钱塘区")
_MONTH_FACTOR = {1: 0.85, 2: 0.7, 7: 1.05, 8: 1.05, 10: 0.9}
# Of the confirmed bookings, nobody came: more at free talks and films than at workshops someone waited
# for, fewer in villages (people book what is next door), most online.
_NO_SHOW = {"lecture": 0.14, "screening": 0.15, "forum": 0.12, "workshop": 0.06, "course": 0.08}
_DEFAULT_NO_SHOW = 0.1


def _remoteness(district: str | None) -> str:
    if district is None:
        return "online"
    if district.startswith(_RURAL):
        return "rural"
    return "suburban" if district.startswith(_SUBURBAN) else "urban"


def demand(past: PastSession) -> PastSessionDemand:
    """How the past session went (deterministic: a draw seeded by its id)."""
    snapshot = past.snapshot
    draw = random.Random(f"demand:{snapshot.session_id}")  # noqa: S311 - demo data, not a secret
    remoteness = _remoteness(past.district)
    fill = _SITE_FILL.get(past.site_kind, _DEFAULT_SITE_FILL) * _KIND_FACTOR.get(snapshot.kind, 1.0)
    fill *= {"rural": 0.6, "suburban": 0.85}.get(remoteness, 1.0)
    fill *= _MONTH_FACTOR.get(snapshot.starts_at.astimezone(CITY_ZONE).month, 1.0)
    fill = min(1.0, max(0.03, fill + draw.gauss(0, 0.1)))
    no_show = _NO_SHOW.get(snapshot.kind, _DEFAULT_NO_SHOW) * {"rural": 0.5, "online": 2.0}.get(remoteness, 1.0)
    return PastSessionDemand(snapshot, fill=fill, no_show_rate=no_show)


async def seed_demo(
    database_url: str,
    *,
    today: date | None = None,
    subscriptions: dict[str, list[str]] | None = None,
    booking_subscriptions: dict[str, list[str]] | None = None,
) -> dict[str, int]:
    """Load the demo city (idempotent); returns how many rows of each kind were added. `subscriptions`:
    the catalog's event subscriptions, `booking_subscriptions` booking's (default: each service's settings)."""
    today = today or datetime.now(CITY_ZONE).date()
    data = await asyncio.to_thread(load_demo_data)
    orgs = await seed_organizations(database_url, data["organizations"])
    catalog = await seed_catalog(database_url, data, today=today, subscriptions=subscriptions)
    past = await seed_catalog_history(database_url, data, today=today, subscriptions=subscriptions)
    attendance = await seed_booking_history(
        database_url,
        [demand(session) for session in past.sessions],
        orgs.people.citizen_ids,
        checked_in_by=orgs.people.owner_id,
        subscriptions=booking_subscriptions,
    )
    return orgs.counts | catalog | {"past_sessions": past.added} | attendance
