from typing import Annotated, Literal
from uuid import UUID

from pydantic import EmailStr, Field

from shared.schemas import Input, Output

Password = Annotated[str, Field(min_length=10, max_length=128, examples=["correct horse battery"])]
DisplayName = Annotated[str, Field(min_length=1, max_length=100, examples=["王小明 Wang Xiaoming"])]
# Output fields carry examples only: what was stored is returned as it is.
Name = Annotated[str, Field(examples=["王小明 Wang Xiaoming"])]
Email = Annotated[str, Field(examples=["xiaoming@example.org"])]
Role = Annotated[str, Field(examples=["coordinator"])]
_TOKEN = "eyJhbGciOiJFZERTQSIsImtpZCI6ImtleS0xIiwidHlwIjoiSldUIn0.eyJzdWIiOiIwMTkzNmY0ZSJ9.c2lnbmF0dXJl"
_REFRESH = "rt_5mQ2v9XbLk7Hc1TfY3wZpR8sJ0dNaE4uG6iO"


class RegisterIn(Input):
    email: Annotated[EmailStr, Field(max_length=254, examples=["xiaoming@example.org"])]
    password: Password
    display_name: DisplayName
    invitation_token: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=128,
            description="The token of an invitation mail: the new account joins that organization with the "
            "invited role",
            examples=[None],
        ),
    ] = None


class PersonOut(Output):
    id: UUID
    email: Email
    display_name: Name


class TokenOut(Output):
    access_token: Annotated[str, Field(description="Send as `Authorization: Bearer <token>`", examples=[_TOKEN])]
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires", examples=[900])
    refresh_token: Annotated[str, Field(examples=[_REFRESH])]


class RefreshIn(Input):
    refresh_token: Annotated[str, Field(min_length=1, max_length=512, examples=[_REFRESH])]


class MembershipRef(Output):
    organization_id: UUID
    role: Role


class MeOut(Output):
    id: UUID
    email: Email
    display_name: Name
    memberships: list[MembershipRef]
    roles: Annotated[list[str], Field(description="Platform roles, e.g. `operator`", examples=[["operator"]])]
