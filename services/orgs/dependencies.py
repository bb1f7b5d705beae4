from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.orgs.keys import SigningKeys
from services.orgs.models import Membership, Organization
from services.orgs.settings import OrgsSettings
from shared.authz import OrgRole
from shared.db import SessionDep
from shared.errors import NotFound


async def _settings(request: Request) -> OrgsSettings:
    settings: OrgsSettings = request.app.state.settings
    return settings


async def _signing_keys(request: Request) -> SigningKeys:
    keys: SigningKeys = request.app.state.signing_keys
    return keys


SettingsDep = Annotated[OrgsSettings, Depends(_settings)]
SigningKeysDep = Annotated[SigningKeys, Depends(_signing_keys)]


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
