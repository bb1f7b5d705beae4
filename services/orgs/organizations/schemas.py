from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import EmailStr, Field

from shared.schemas import Input, LocalizedDescription, LocalizedTitle, Output

District = Annotated[str, Field(min_length=1, max_length=100, examples=["西湖区 Xihu"])]


class OrganizationKind(StrEnum):
    community = "community"
    workplace = "workplace"
    school = "school"
    library = "library"
    museum = "museum"
    cultural_center = "cultural_center"
    enterprise = "enterprise"
    nonprofit = "nonprofit"
    government = "government"


class GrantableRole(StrEnum):
    """Roles an owner or admin can grant; `owner` belongs to the creator."""

    admin = "admin"
    coordinator = "coordinator"
    member = "member"


class OrganizationCreate(Input):
    name: LocalizedTitle
    kind: OrganizationKind
    district: District | None = None
    description: LocalizedDescription | None = None


class OrganizationUpdate(Input):
    name: LocalizedTitle | None = None
    kind: OrganizationKind | None = None
    district: District | None = None
    description: LocalizedDescription | None = None


class OrganizationOut(Output):
    id: UUID
    name: dict[str, str]
    name_display: str
    kind: OrganizationKind
    district: str | None
    description: dict[str, str] | None
    description_display: str | None
    created_at: datetime


class MemberAdd(Input):
    email: Annotated[EmailStr, Field(max_length=254)]
    role: GrantableRole


class MemberOut(Output):
    organization_id: UUID
    person_id: UUID
    display_name: str
    role: str
