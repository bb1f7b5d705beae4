"""Who may do what with a booking (the BOLA matrix of api-contract.md):

| relation to the booking                      | read | cancel | sees checkin_code |
|----------------------------------------------|------|--------|-------------------|
| holder (`person_id`)                         | yes  | yes    | yes               |
| admin (or owner) of its `organization_id`    | yes  | yes    | yes               |
| a member line's block coordinator            | yes  | yes    | yes               |
| staff (coordinator+) of the host organization| yes  | 403    | no                |
| platform operator                            | yes  | yes    | no                |
| anyone else                                  | 404  | 404    | -                 |

A member line's holder is the member; the coordinator who booked its block (the block's holder) manages
it too. Another member of the organization is "anyone else": 404.
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
    block_coordinator = "block_coordinator"  # of a member line: the coordinator who booked its block
    host_staff = "host_staff"
    operator = "operator"
    none = "none"

    @property
    def can_read(self) -> bool:
        return self is not Access.none

    @property
    def can_cancel(self) -> bool:
        return self in (Access.holder, Access.organization_admin, Access.block_coordinator, Access.operator)

    @property
    def sees_code(self) -> bool:
        return self in (Access.holder, Access.organization_admin, Access.block_coordinator)


def holds_role(roles: dict[UUID, OrgRole], organization_id: UUID | None, minimum: OrgRole) -> bool:
    role = roles.get(organization_id) if organization_id is not None else None
    return role is not None and role.at_least(minimum)


async def access_to(booking: Any, principal: Principal, memberships: OrgsMemberships) -> Access:
    """`booking` carries person_id, organization_id, host_org_id and block_holder_id (see `booking_view`)."""
    if booking.person_id == principal.person_id:
        return Access.holder
    if booking.block_holder_id == principal.person_id:
        return Access.block_coordinator
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
