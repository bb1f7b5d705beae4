from sqlalchemy import Select, select

from services.catalog.geo import GeoPoint, distance_m, within_walk
from services.catalog.models import Site
from services.catalog.schemas import Keyset
from shared.repository import Repository


class SiteRepository(Repository[Site]):
    model = Site

    def nearby(self, origin: GeoPoint, walk_minutes: int, *, kind: str | None) -> tuple[Select[Site, float], Keyset]:
        """Sites within `walk_minutes` of `origin` with their distance; keyset (distance, id), nearest first."""
        distance = distance_m(origin, Site.lat, Site.lon)
        statement = select(Site, distance).where(within_walk(origin, walk_minutes, Site.lat, Site.lon))
        if kind is not None:
            statement = statement.where(Site.kind == kind)
        return statement, [distance, Site.id]

    def listing(self, *, kind: str | None) -> Select[Site]:
        statement = select(Site)
        if kind is not None:
            statement = statement.where(Site.kind == kind)
        return statement
