from typing import Annotated, Literal
from uuid import UUID

from pydantic import EmailStr, Field

from shared.schemas import Input, Output

Password = Annotated[str, Field(min_length=10, max_length=128, examples=["correct horse battery"])]
DisplayName = Annotated[str, Field(min_length=1, max_length=100, examples=["王小明 Wang Xiaoming"])]


class RegisterIn(Input):
    email: Annotated[EmailStr, Field(max_length=254, examples=["xiaoming@example.org"])]
    password: Password
    display_name: DisplayName


class PersonOut(Output):
    id: UUID
    email: str
    display_name: str


class TokenOut(Output):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str


class RefreshIn(Input):
    refresh_token: Annotated[str, Field(min_length=1, max_length=512)]


class MembershipRef(Output):
    organization_id: UUID
    role: str


class MeOut(Output):
    id: UUID
    email: str
    display_name: str
    memberships: list[MembershipRef]
    roles: list[str]
