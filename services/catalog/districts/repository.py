from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.models import District, Site
from shared.repository import Repository

# Serializes district loads with each other and with site creation (which takes it shared), so a site
# created during a load is assigned by the districts that load commits.
_DISTRICTS_LOCK = 0x1EA4_D157


@dataclass(frozen=True, slots=True)
class SitePoint:
    id: UUID
    lat: float
    lon: float
    kind: str
    name: dict[str, str]
    owner_org_id: UUID
    district_id: UUID | None


class DistrictRepository(Repository[District]):
    model = District

    async def lock_for_load(self) -> None:
        await self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DISTRICTS_LOCK})

    async def lock_for_site(self) -> None:
        await self.session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": _DISTRICTS_LOCK})

    async def by_codes(self, codes: Sequence[str]) -> dict[str, District]:
        rows = await self.session.scalars(select(District).where(District.code.in_(list(codes))))
        return {row.code: row for row in rows}

    async def everything(self) -> list[District]:
        return list(await self.session.scalars(select(District).order_by(District.code)))

    async def around(self, lat: float, lon: float) -> list[District]:
        """The districts whose bounding box holds the point (the exact test is shapely's)."""
        statement = (
            select(District)
            .where(District.min_lat <= lat, District.max_lat >= lat, District.min_lon <= lon, District.max_lon >= lon)
            .order_by(District.code)
        )
        return list(await self.session.scalars(statement))


class SitePointRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def every_site(self) -> list[SitePoint]:
        statement = select(
            Site.id, Site.lat, Site.lon, Site.kind, Site.name, Site.owner_org_id, Site.district_id
        ).order_by(Site.id)
        return [SitePoint(*row) for row in await self.session.execute(statement)]

    async def counted_sites(self, kind: str | None) -> list[tuple[UUID, float, float, str, dict[str, str]]]:
        """The sites coverage counts (of `kind`, else every site but online ones), by id."""
        where = Site.kind == kind if kind is not None else Site.kind != "online"
        statement = select(Site.id, Site.lat, Site.lon, Site.kind, Site.name).where(where).order_by(Site.id)
        return [(row[0], row[1], row[2], row[3], row[4]) for row in await self.session.execute(statement)]

    async def set_districts(self, changes: Sequence[tuple[UUID, UUID | None]]) -> None:
        if not changes:
            return
        table: Any = Site.__table__
        statement = (
            update(table)
            .where(table.c.id == bindparam("site_id"))
            .values(district_id=bindparam("new_district_id"))
            .execution_options(synchronize_session=False)
        )
        params = [{"site_id": site_id, "new_district_id": district_id} for site_id, district_id in changes]
        await self.session.execute(statement, params)

    async def count(self) -> int:
        return int((await self.session.execute(select(func.count()).select_from(Site))).scalar_one())
