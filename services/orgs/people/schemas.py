from uuid import UUID

from services.orgs.auth.schemas import MembershipRef
from shared.schemas import Output


class PersonPublic(Output):
    id: UUID
    display_name: str


class PersonMemberships(Output):
    person_id: UUID
    roles: list[str]
    memberships: list[MembershipRef]


class MemberRef(Output):
    person_id: UUID
    role: str
