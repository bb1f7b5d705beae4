"""Annotated dependencies of the booking service, each resolved in one place."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.settings import BookingSettings
from shared.auth import CurrentPerson, Principal
from shared.authz import OrgsMemberships, orgs_client
from shared.clients import ServiceClient
from shared.db import Database, SessionDep
from shared.events.outbox import Outbox

# Dependencies here are `async def`: FastAPI runs a plain `def` dependency in a worker thread, a hop
# that costs more than the booking's whole database round trip.


@dataclass(frozen=True, slots=True)
class Collaborators:
    """What the booking logic of one request talks to: its unit of work, the outbox, the catalog, orgs."""

    principal: Principal
    session: AsyncSession
    database: Database
    outbox: Outbox
    catalog: ServiceClient
    memberships: OrgsMemberships
    settings: BookingSettings
    entered: Counter  # learncity_bookings_total{status}


def collaborators(request: Request, principal: Principal, session: AsyncSession) -> Collaborators:
    state = request.app.state
    settings: BookingSettings = state.settings
    return Collaborators(
        principal=principal,
        session=session,
        database=state.database,
        outbox=state.outbox,
        # The catalog's internal API (session snapshots on a miss): timeouts, bounded retries, 503 when down.
        catalog=ServiceClient("catalog", settings.catalog_url, settings, state.http),
        memberships=OrgsMemberships(orgs_client(request.app)),
        settings=settings,
        entered=state.bookings_entered,
    )


async def _collaborators(request: Request, principal: CurrentPerson, session: SessionDep) -> Collaborators:
    return collaborators(request, principal, session)


# A signed-in person's request with everything booking needs (401 without a valid token).
CollaboratorsDep = Annotated[Collaborators, Depends(_collaborators)]
