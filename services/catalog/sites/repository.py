from typing import Any

from sqlalchemy import ColumnElement, Select, select

from services.catalog.geo import GeoPoint, distance_m, within_walk
from services.catalog.models import Site
from services.catalog.schemas import Keyset
from services.catalog.search.text import matches, similarity
from shared.repository import Repository


def _filtered(
    statement: Select[*tuple[Any, ...]], *, kind: str | None, q: str | None, accessibility: tuple[str, ...]
) -> Select[*tuple[Any, ...]]:
    """`q` matches a name in any language (services/catalog/search/text.py; GIN trigram index)."""
    if kind is not None:
        statement = statement.where(Site.kind == kind)
    if q is not None:
        statement = statement.where(matches(Site.search_name, q))
    if accessibility:
        statement = statement.where(Site.accessibility.contains(list(accessibility)))
    return statement


class SiteRepository(Repository[Site]):
    model = Site

    def nearby(
        self, origin: GeoPoint, walk_minutes: int, *, kind: str | None, q: str | None, accessibility: tuple[str, ...]
    ) -> tuple[Select[Site, float], Keyset]:
        """Sites within `walk_minutes` of `origin` with their distance; keyset (distance, id), nearest first."""
        distance = distance_m(origin, Site.lat, Site.lon)
        statement = select(Site, distance).where(within_walk(origin, walk_minutes, Site.lat, Site.lon))
        return _filtered(statement, kind=kind, q=q, accessibility=accessibility), [distance, Site.id]

    def listing(self, *, kind: str | None, accessibility: tuple[str, ...]) -> Select[Site]:
        return _filtered(select(Site), kind=kind, q=None, accessibility=accessibility)

    def ranked(self, q: str, *, kind: str | None, accessibility: tuple[str, ...]) -> tuple[Select[Site, float], Keyset]:
        """Sites whose name matches `q`, most similar first: keyset (-word similarity, id)."""
        unlikeness: ColumnElement[float] = -similarity(Site.search_name, q)
        statement = select(Site, unlikeness)
        return _filtered(statement, kind=kind, q=q, accessibility=accessibility), [unlikeness, Site.id]
