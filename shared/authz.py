"""Organization roles and the one place that decides whether a principal holds one."""

from enum import StrEnum
from typing import Annotated, Protocol
from uuid import UUID

from fastapi import Depends, FastAPI, Request

from shared.auth import Principal
from shared.clients import ServiceClient
from shared.errors import Forbidden, NotFound
from shared.settings import ServiceSettings


class OrgRole(StrEnum):
    member = "member"
    coordinator = "coordinator"
    admin = "admin"
    owner = "owner"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, minimum: "OrgRole") -> bool:
        return self.rank >= minimum.rank


_RANK = {OrgRole.member: 1, OrgRole.coordinator: 2, OrgRole.admin: 3, OrgRole.owner: 4}


class MembershipSource(Protocol):
    """Current memberships of a person: from the orgs database in orgs, over HTTP elsewhere.

    Always asked fresh (never read from the token), so an organization created a moment ago
    or a member removed a moment ago is honoured at once.
    """

    async def roles_of(self, person_id: UUID) -> dict[UUID, OrgRole]: ...


async def role_in(source: MembershipSource, principal: Principal, organization_id: UUID) -> OrgRole | None:
    return (await source.roles_of(principal.person_id)).get(organization_id)


async def require_org_role(
    source: MembershipSource, principal: Principal, organization_id: UUID, minimum: OrgRole
) -> OrgRole | None:
    """Operators pass everywhere (returns None for them); others need `minimum` or better, else 403."""
    if principal.is_operator:
        return None
    role = await role_in(source, principal, organization_id)
    if role is None or not role.at_least(minimum):
        raise Forbidden(f"Requires the {minimum.value} role (or higher) in organization {organization_id}")
    return role


class OrgsMemberships:
    """Memberships asked of the orgs service over HTTP (catalog and booking use this)."""

    def __init__(self, orgs: ServiceClient) -> None:
        self._orgs = orgs

    async def roles_of(self, person_id: UUID) -> dict[UUID, OrgRole]:
        try:
            body = await self._orgs.get_json(f"/internal/v1/people/{person_id}/memberships")
        except NotFound:
            return {}  # a token for a deleted account: no memberships
        return {UUID(m["organization_id"]): OrgRole(m["role"]) for m in body["memberships"]}

    async def member_ids(self, organization_id: UUID) -> dict[UUID, OrgRole]:
        """Every member of an organization with their role; NotFound for an unknown organization."""
        body = await self._orgs.get_json(f"/internal/v1/organizations/{organization_id}/members")
        return {UUID(m["person_id"]): OrgRole(m["role"]) for m in body}


def orgs_client(app: FastAPI) -> ServiceClient:
    """The orgs client of a service app (built once, in its lifespan)."""
    settings: ServiceSettings = app.state.settings
    return ServiceClient("orgs", settings.orgs_url, settings, app.state.http)


async def _memberships(request: Request) -> OrgsMemberships:
    return OrgsMemberships(orgs_client(request.app))


MembershipsDep = Annotated[OrgsMemberships, Depends(_memberships)]
