from uuid import UUID

from services.orgs.auth.schemas import MembershipRef, Name, Role
from shared.schemas import Output


class PersonPublic(Output):
    id: UUID
    display_name: Name


class PersonMemberships(Output):
    person_id: UUID
    roles: list[str]
    memberships: list[MembershipRef]


class MemberRef(Output):
    person_id: UUID
    role: Role
