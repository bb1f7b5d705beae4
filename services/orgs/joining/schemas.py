from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import EmailStr, Field

from services.orgs.auth.schemas import Email, Name, Role
from services.orgs.organizations.schemas import GrantableRole
from shared.events.schemas import JoinRequestStatus
from shared.schemas import Input, Output

# What `secrets.token_urlsafe(32)` makes (43 characters); bounded generously, never stored as given.
InvitationToken = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        description="The token from the invitation mail",
        examples=["Q2l0eSBvZiBMZWFybmluZyBpbnZpdGF0aW9uIHRva2Vu"],
    ),
]
InvitationStatus = Literal["pending", "accepted", "expired", "revoked"]
_MESSAGE = "我住在翠苑一区，想参加社区的读书会。I live in Cuiyuan and would like to join the reading circle."


class InvitationCreate(Input):
    email: Annotated[EmailStr, Field(max_length=254, examples=["xiaoming@example.org"])]
    role: GrantableRole


class InvitationOut(Output):
    id: UUID
    email: Email
    role: Role
    expires_at: datetime


class InvitationListed(InvitationOut):
    status: Annotated[
        InvitationStatus,
        Field(description="revoked: withdrawn by an admin, or replaced by a newer invitation of the address"),
    ]
    created_at: datetime
    accepted_at: datetime | None


class InvitationAccept(Input):
    token: InvitationToken


class JoinRequestCreate(Input):
    message: Annotated[str, Field(min_length=1, max_length=500, examples=[_MESSAGE])] | None = None


class JoinRequestDecision(Input):
    role: Annotated[GrantableRole, Field(examples=["member"])] = GrantableRole.member


class JoinRequestOut(Output):
    id: UUID
    organization_id: UUID
    person_id: UUID
    display_name: Name
    status: JoinRequestStatus
    message: Annotated[str, Field(examples=[_MESSAGE])] | None
    created_at: datetime
    decided_at: datetime | None
