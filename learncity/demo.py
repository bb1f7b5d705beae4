"""The Hangzhou demo city, seeded by each service's own code: orgs (the demo account and the organizations),
then the catalog (sites, series, activities, sessions). The runner is the one place that knows both."""

import asyncio
from datetime import date

from services.catalog.demo.seed import load_demo_data, seed_catalog
from services.orgs.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_organizations

__all__ = ["DEMO_EMAIL", "DEMO_PASSWORD", "seed_demo"]


async def seed_demo(
    database_url: str, *, today: date | None = None, subscriptions: dict[str, list[str]] | None = None
) -> dict[str, int]:
    """Load the demo city (idempotent); returns how many rows of each kind were added."""
    data = await asyncio.to_thread(load_demo_data)
    organizations = await seed_organizations(database_url, data["organizations"])
    return organizations | await seed_catalog(database_url, data, today=today, subscriptions=subscriptions)
