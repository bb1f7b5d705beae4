"""Annotated dependencies: settings, peer clients, and path ids resolved to rows (404 in one place)."""

from typing import Annotated, TypeVar
from uuid import UUID

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.models import Activity, ActivitySession, CatalogBase, Series, Site
from services.catalog.peers import BookingSeats, OrganizationDirectory, booking_client
from services.catalog.settings import CatalogSettings
from shared.authz import orgs_client
from shared.db import SessionDep
from shared.errors import NotFound


def _settings(request: Request) -> CatalogSettings:
    settings: CatalogSettings = request.app.state.settings
    return settings


def organization_directory(request: Request) -> OrganizationDirectory:
    return OrganizationDirectory(orgs_client(request.app))


def booking_seats(request: Request) -> BookingSeats:
    return BookingSeats(booking_client(request.app))


SettingsDep = Annotated[CatalogSettings, Depends(_settings)]
OrganizationsDep = Annotated[OrganizationDirectory, Depends(organization_directory)]
BookingSeatsDep = Annotated[BookingSeats, Depends(booking_seats)]

# In the catalog "session" is a domain word (a bookable occurrence), so the database session is `db`.


Row = TypeVar("Row", bound=CatalogBase)


async def _found(db: AsyncSession, model: type[Row], row_id: UUID, label: str) -> Row:
    row = await db.get(model, row_id)
    if row is None:
        raise NotFound(f"{label} not found")
    return row


async def _site(site_id: UUID, db: SessionDep) -> Site:
    return await _found(db, Site, site_id, "Site")


async def _series(series_id: UUID, db: SessionDep) -> Series:
    return await _found(db, Series, series_id, "Series")


async def _activity(activity_id: UUID, db: SessionDep) -> Activity:
    return await _found(db, Activity, activity_id, "Activity")


async def _activity_session(session_id: UUID, db: SessionDep) -> ActivitySession:
    return await _found(db, ActivitySession, session_id, "Session")


SiteDep = Annotated[Site, Depends(_site)]
SeriesDep = Annotated[Series, Depends(_series)]
ActivityDep = Annotated[Activity, Depends(_activity)]
ActivitySessionDep = Annotated[ActivitySession, Depends(_activity_session)]
