"""Organization roles and the one place that decides whether a principal holds one."""

from enum import StrEnum
from typing import Protocol
from uuid import UUID

from shared.auth import Principal
from shared.errors import Forbidden


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
