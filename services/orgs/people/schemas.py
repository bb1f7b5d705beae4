from uuid import UUID

from services.orgs.auth.language import Language
from services.orgs.auth.schemas import Email, MembershipRef, Name, Role
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


class PersonContact(Output):
    """How notify reaches a person, and in which language (None: their registration named neither)."""

    person_id: UUID
    email: Email
    display_name: Name
    language: Language | None
