from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import EmailStr, Field

from services.orgs.auth.schemas import Name, Role
from shared.schemas import DisplayText, Input, LocalizedDescription, LocalizedText, LocalizedTitle, Output

District = Annotated[str, Field(min_length=1, max_length=100, examples=["西湖区 Xihu"])]
_NAME = {"zh-CN": "北山街道社区学校", "en": "Beishan Street Community School"}
_DESCRIPTION = {"zh-CN": "面向居民的终身学习课程", "en": "Lifelong learning courses for residents"}


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
    name: Annotated[LocalizedTitle, Field(examples=[_NAME])]
    kind: OrganizationKind
    district: District | None = None
    description: Annotated[LocalizedDescription, Field(examples=[_DESCRIPTION])] | None = None


class OrganizationUpdate(Input):
    name: Annotated[LocalizedTitle, Field(examples=[_NAME])] | None = None
    kind: OrganizationKind | None = None
    district: District | None = None
    description: Annotated[LocalizedDescription, Field(examples=[_DESCRIPTION])] | None = None


class OrganizationOut(Output):
    id: UUID
    name: Annotated[LocalizedText, Field(examples=[_NAME])]
    name_display: Annotated[DisplayText, Field(examples=[_NAME["zh-CN"]])]
    kind: OrganizationKind
    district: Annotated[str, Field(examples=["西湖区 Xihu"])] | None
    description: Annotated[LocalizedText, Field(examples=[_DESCRIPTION])] | None
    description_display: Annotated[DisplayText, Field(examples=[_DESCRIPTION["zh-CN"]])] | None
    created_at: datetime


class MemberAdd(Input):
    email: Annotated[EmailStr, Field(max_length=254)]
    role: GrantableRole


class MemberOut(Output):
    organization_id: UUID
    person_id: UUID
    display_name: Name
    role: Role
