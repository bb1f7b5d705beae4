"""What the catalog asks other services over HTTP: does an organization exist (orgs), how many seats of a
session are confirmed (booking). Both fail as 503 with Retry-After when the peer is down."""

from dataclasses import dataclass
from uuid import UUID

from fastapi import FastAPI

from services.catalog.settings import CatalogSettings
from shared.auth import Principal
from shared.authz import MembershipSource, OrgRole, require_org_role
from shared.clients import ServiceClient
from shared.errors import NotFound, ServiceUnavailable, Unprocessable


class OrganizationDirectory:
    """Organizations as the orgs service knows them now."""

    def __init__(self, orgs: ServiceClient) -> None:
        self._orgs = orgs

    async def require_exists(self, organization_id: UUID, *, pointer: str) -> None:
        """422 at `pointer` when orgs has no such organization."""
        try:
            await self._orgs.get_json(f"/v1/organizations/{organization_id}")
        except NotFound as exc:
            raise Unprocessable("No organization with this id", pointer=pointer) from exc

    async def require_role(
        self,
        principal: Principal,
        memberships: MembershipSource,
        organization_id: UUID,
        minimum: OrgRole,
        *,
        pointer: str,
    ) -> None:
        """The organization a new resource names must exist (else 422 at `pointer`), and the caller must hold
        `minimum` or better in it (else 403; operators pass)."""
        await self.require_exists(organization_id, pointer=pointer)
        await require_org_role(memberships, principal, organization_id, minimum)


@dataclass(frozen=True, slots=True)
class BookedSeats:
    """Seats booking has confirmed in each pool of a session."""

    standard: int
    accessible: int = 0
    online: int = 0


class BookingSeats:
    """Confirmed seats of a session, from booking's public availability endpoint."""

    def __init__(self, booking: ServiceClient) -> None:
        self._booking = booking

    async def booked_seats(self, session_id: UUID) -> BookedSeats:
        """`confirmed_seats` is the standard pool's; the accessible and online pools' booked seats are their
        capacity less their free seats (pools booking does not report are empty)."""
        try:
            body = await self._booking.get_json(f"/v1/availability/{session_id}")
        except NotFound:
            return BookedSeats(0)  # booking has never heard of the session: nobody has booked it
        try:
            return BookedSeats(
                standard=int(body["confirmed_seats"]),
                accessible=int(body.get("accessible_capacity", 0)) - int(body.get("accessible_available", 0)),
                online=int(body.get("online_capacity", 0)) - int(body.get("online_available", 0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ServiceUnavailable("The booking service answered with unexpected availability") from exc


def booking_client(app: FastAPI) -> ServiceClient:
    settings: CatalogSettings = app.state.settings
    return ServiceClient("booking", settings.booking_url, settings, app.state.http)
