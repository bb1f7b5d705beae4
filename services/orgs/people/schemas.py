from typing import Annotated
from uuid import UUID

from pydantic import Field

from services.orgs.auth.language import Language
from services.orgs.auth.schemas import Email, MembershipRef, Name, Role
from shared.authz import KINDS_LOOKUP_MAX
from shared.schemas import Input, Output


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
    display_name: Name


class KindsQuery(Input):
    organization_ids: Annotated[list[UUID], Field(max_length=KINDS_LOOKUP_MAX)]


class KindTallyOut(Output):
    kind: str
    organizations: int = Field(description="Organizations of this kind")
    listed: int = Field(description="How many of the organizations asked about are of this kind")


class PersonContact(Output):
    """How notify reaches a person, and in which language (None: their registration named neither)."""

    person_id: UUID
    email: Email
    display_name: Name
    language: Language | None
