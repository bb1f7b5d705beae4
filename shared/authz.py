"""Organization roles and the one place that decides whether a principal holds one."""

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Protocol
from uuid import UUID

from fastapi import Depends, FastAPI, Request

from shared.auth import Principal
from shared.clients import ServiceClient
from shared.errors import Forbidden, NotFound, ServiceUnavailable
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


@dataclass(frozen=True, slots=True)
class Member:
    role: OrgRole
    display_name: str


@dataclass(frozen=True, slots=True)
class KindTally:
    """Organizations of one kind: all of them, and how many of those asked about (`listed`)."""

    kind: str
    organizations: int
    listed: int


# Organization ids per internal kinds request (orgs refuses more).
KINDS_LOOKUP_MAX = 1000


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
        return {person_id: member.role for person_id, member in (await self.members(organization_id)).items()}

    async def members(self, organization_id: UUID) -> dict[UUID, Member]:
        """Every member of an organization with their role and display name; NotFound for an unknown one."""
        body = await self._orgs.get_json(f"/internal/v1/organizations/{organization_id}/members")
        return {UUID(m["person_id"]): Member(OrgRole(m["role"]), m["display_name"]) for m in body}

    async def kinds(self, listed: Collection[UUID]) -> list[KindTally]:
        """Every organization kind with how many organizations are of it, and how many of `listed` (distinct
        ids; unknown ones count nowhere). Asked in chunks, so any number of ids may be listed."""
        ids = [str(organization_id) for organization_id in listed]
        tallies: dict[str, KindTally] = {}
        for start in range(0, max(len(ids), 1), KINDS_LOOKUP_MAX):
            chunk = ids[start : start + KINDS_LOOKUP_MAX]
            response = await self._orgs.request(
                "POST", "/internal/v1/organizations/kinds", json={"organization_ids": chunk}
            )
            if response.status_code != 200:
                raise ServiceUnavailable(f"The orgs service answered {response.status_code}")
            for item in response.json():
                seen = tallies.get(item["kind"])
                tallies[item["kind"]] = KindTally(
                    item["kind"], item["organizations"], item["listed"] + (seen.listed if seen else 0)
                )
        return list(tallies.values())


def orgs_client(app: FastAPI) -> ServiceClient:
    """The orgs client of a service app (built once, in its lifespan)."""
    settings: ServiceSettings = app.state.settings
    return ServiceClient("orgs", settings.orgs_url, settings, app.state.http)


async def _memberships(request: Request) -> OrgsMemberships:
    return OrgsMemberships(orgs_client(request.app))


MembershipsDep = Annotated[OrgsMemberships, Depends(_memberships)]
