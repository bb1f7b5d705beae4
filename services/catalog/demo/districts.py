"""The demo city's districts: hand-made, simplified polygons of Hangzhou's districts and counties
(`hangzhou_districts.geojson`; its `description` member says how they were drawn), loaded through the same
code as `POST /v1/coverage/districts`."""

import json
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.districts.schemas import DistrictCollection
from services.catalog.districts.service import load_districts
from shared import audit
from shared.events.outbox import Outbox

DISTRICTS_FILE = Path(__file__).with_name("hangzhou_districts.geojson")


def demo_districts() -> DistrictCollection:
    return DistrictCollection.model_validate(json.loads(DISTRICTS_FILE.read_text(encoding="utf-8")))


async def seed_districts(db: AsyncSession, outbox: Outbox) -> int:
    """Upsert the demo districts (a second run changes nothing); returns how many there are."""
    loaded = await load_districts(db, outbox, demo_districts(), None, actor=audit.COMMAND_LINE)
    return len(loaded.items)
