from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.orgs.keys import SigningKeys
from services.orgs.models import Membership, Organization, Person
from services.orgs.peers import PersonExports
from services.orgs.settings import OrgsSettings
from shared.auth import CurrentPerson, Principal
from shared.authz import OrgRole
from shared.clients import ServiceClient
from shared.db import SessionDep
from shared.errors import NotFound, Unauthorized


async def _settings(request: Request) -> OrgsSettings:
    settings: OrgsSettings = request.app.state.settings
    return settings


async def _signing_keys(request: Request) -> SigningKeys:
    keys: SigningKeys = request.app.state.signing_keys
    return keys


SettingsDep = Annotated[OrgsSettings, Depends(_settings)]
SigningKeysDep = Annotated[SigningKeys, Depends(_signing_keys)]


async def _signed_in_account(principal: CurrentPerson, session: SessionDep) -> Person:
    """The token's person, read: an access token outlives an erased account (until it expires), so every orgs
    route acting as a person checks that the account still exists (one primary-key read)."""
    person = await session.get(Person, principal.person_id)
    if person is None:
        raise Unauthorized("Account no longer exists")
    return person


# Every orgs route acting as a person uses one of these two, never the token alone: the account itself (routes
# that read it), or the token's principal once the account is known to exist (a route using both reads it once).
SignedInAccount = Annotated[Person, Depends(_signed_in_account)]


async def _signed_in_person(principal: CurrentPerson, _: SignedInAccount) -> Principal:
    return principal


SignedInPerson = Annotated[Principal, Depends(_signed_in_person)]


def person_exports(request: Request) -> PersonExports:
    settings: OrgsSettings = request.app.state.settings
    http = request.app.state.http
    return PersonExports(
        booking=ServiceClient("booking", settings.booking_url, settings, http),
        notify=ServiceClient("notify", settings.notify_url, settings, http),
    )


PersonExportsDep = Annotated[PersonExports, Depends(person_exports)]


class DatabaseMemberships:
    """Memberships straight from the orgs schema (the source of truth)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def roles_of(self, person_id: UUID) -> dict[UUID, OrgRole]:
        rows = await self._session.execute(
            select(Membership.organization_id, Membership.role).where(Membership.person_id == person_id)
        )
        return {organization_id: OrgRole(role) for organization_id, role in rows.all()}


async def _memberships(session: SessionDep) -> DatabaseMemberships:
    return DatabaseMemberships(session)


MembershipsDep = Annotated[DatabaseMemberships, Depends(_memberships)]


async def _organization(organization_id: UUID, session: SessionDep) -> Organization:
    organization = await session.get(Organization, organization_id)
    if organization is None:
        raise NotFound("Organization not found")
    return organization


OrganizationDep = Annotated[Organization, Depends(_organization)]
