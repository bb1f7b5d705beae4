"""Who may do what with a booking (the BOLA matrix of api-contract.md):

| relation to the booking                      | read | cancel | sees checkin_code |
|----------------------------------------------|------|--------|-------------------|
| holder (`person_id`)                         | yes  | yes    | yes               |
| admin (or owner) of its `organization_id`    | yes  | yes    | yes               |
| staff (coordinator+) of the host organization| yes  | 403    | no                |
| platform operator                            | yes  | yes    | no                |
| anyone else                                  | 404  | 404    | -                 |

Memberships are asked of orgs at the time of the request (never read from the token).
"""

from enum import Enum
from typing import Any
from uuid import UUID

from shared.auth import Principal
from shared.authz import OrgRole, OrgsMemberships


class Access(Enum):
    holder = "holder"
    organization_admin = "organization_admin"
    host_staff = "host_staff"
    operator = "operator"
    none = "none"

    @property
    def can_read(self) -> bool:
        return self is not Access.none

    @property
    def can_cancel(self) -> bool:
        return self in (Access.holder, Access.organization_admin, Access.operator)

    @property
    def sees_code(self) -> bool:
        return self in (Access.holder, Access.organization_admin)


def holds_role(roles: dict[UUID, OrgRole], organization_id: UUID | None, minimum: OrgRole) -> bool:
    role = roles.get(organization_id) if organization_id is not None else None
    return role is not None and role.at_least(minimum)


async def access_to(booking: Any, principal: Principal, memberships: OrgsMemberships) -> Access:
    """`booking` carries person_id, organization_id and host_org_id."""
    if booking.person_id == principal.person_id:
        return Access.holder
    roles = await memberships.roles_of(principal.person_id)
    if holds_role(roles, booking.organization_id, OrgRole.admin):
        return Access.organization_admin
    if principal.is_operator:
        return Access.operator
    if holds_role(roles, booking.host_org_id, OrgRole.coordinator):
        return Access.host_staff
    return Access.none


async def is_host_staff(principal: Principal, memberships: OrgsMemberships, host_org_id: UUID) -> bool:
    """Staff of a session's host: coordinator (or higher) of its organization, or an operator."""
    if principal.is_operator:
        return True
    return holds_role(await memberships.roles_of(principal.person_id), host_org_id, OrgRole.coordinator)
