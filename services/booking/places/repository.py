"""Booking's copy of the catalog's sites (`booking.site_places`): kind and geography, nothing personal."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.models import SitePlace, table_of
from shared.events.schemas import SiteSnapshot

site_places = table_of(SitePlace)


class PlaceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def store_many(self, snapshots: Sequence[SiteSnapshot], now: datetime) -> None:
        """Insert or replace each site's row (at most one snapshot per site: one statement cannot change a
        row twice), in site order so two deliveries lock rows in the same order."""
        if not snapshots:
            return
        ordered = sorted(snapshots, key=lambda snapshot: snapshot.site_id)
        statement = insert(site_places).values(
            [
                {
                    "site_id": s.site_id,
                    "owner_org_id": s.owner_org_id,
                    "kind": s.kind,
                    "name": s.name,
                    "district_id": s.district_id,
                    "district_name": s.district_name,
                    "urban": s.urban,
                    "updated_at": now,
                }
                for s in ordered
            ]
        )
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[site_places.c.site_id],
            set_={
                column: excluded[column]
                for column in ("owner_org_id", "kind", "name", "district_id", "district_name", "urban", "updated_at")
            },
        )
        await self.session.execute(statement)
