from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.orgs.auth.repository import PersonRepository
from services.orgs.dependencies import DatabaseMemberships
from services.orgs.models import Membership, Organization
from services.orgs.organizations.repository import MembershipRepository, OrganizationRepository
from services.orgs.organizations.schemas import (
    MemberAdd,
    MemberOut,
    OrganizationCreate,
    OrganizationKind,
    OrganizationOut,
    OrganizationUpdate,
)
from shared.auth import Principal
from shared.authz import OrgRole, require_org_role
from shared.errors import Conflict, Forbidden, NotFound
from shared.pagination import Page, PageParams
from shared.repository import paginate
from shared.schemas import pick_language


def _search_text(name: dict[str, str]) -> str:
    return " ".join(name.values()).lower()


def organization_out(organization: Organization, accept_language: str | None) -> OrganizationOut:
    return OrganizationOut(
        id=organization.id,
        name=organization.name,
        name_display=pick_language(organization.name, accept_language) or "",
        kind=OrganizationKind(organization.kind),
        district=organization.district,
        description=organization.description,
        description_display=pick_language(organization.description, accept_language),
        created_at=organization.created_at,
    )


async def create(session: AsyncSession, principal: Principal, body: OrganizationCreate) -> Organization:
    organization = await OrganizationRepository(session).add(
        Organization(
            name=body.name,
            kind=body.kind.value,
            district=body.district,
            description=body.description,
            created_by=principal.person_id,
            search_text=_search_text(body.name),
        )
    )
    await MembershipRepository(session).add(
        Membership(organization_id=organization.id, person_id=principal.person_id, role=OrgRole.owner.value)
    )
    return organization


async def list_organizations(
    session: AsyncSession, page: PageParams, *, kind: str | None, q: str | None, accept_language: str | None
) -> Page[OrganizationOut]:
    statement = OrganizationRepository(session).listing(kind=kind, q=q)
    rows, next_cursor = await paginate(session, statement, keyset=[Organization.id], key_of=lambda o: [o.id], page=page)
    return Page(items=[organization_out(o, accept_language) for o in rows], next_cursor=next_cursor)


async def update(
    session: AsyncSession, principal: Principal, organization: Organization, body: OrganizationUpdate
) -> Organization:
    await require_org_role(DatabaseMemberships(session), principal, organization.id, OrgRole.admin)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    if changes.get("name", True) is None or changes.get("kind", True) is None:
        raise Conflict("name and kind cannot be removed")
    for field, value in changes.items():
        setattr(organization, field, value.value if field == "kind" else value)
    if "name" in changes:
        organization.search_text = _search_text(organization.name)
    await session.flush()
    return organization


async def add_member(
    session: AsyncSession, principal: Principal, organization: Organization, body: MemberAdd
) -> MemberOut:
    await require_org_role(DatabaseMemberships(session), principal, organization.id, OrgRole.admin)
    person = await PersonRepository(session).by_email(body.email)
    if person is None:
        raise NotFound("No account with this email; the person must register first")
    memberships = MembershipRepository(session)
    if await memberships.find(organization.id, person.id) is not None:
        raise Conflict("This person is already a member of the organization")
    try:
        membership = await memberships.add(
            Membership(organization_id=organization.id, person_id=person.id, role=body.role.value)
        )
    except IntegrityError as exc:
        raise Conflict("This person is already a member of the organization") from exc
    return MemberOut(
        organization_id=organization.id, person_id=person.id, display_name=person.display_name, role=membership.role
    )


async def list_members(
    session: AsyncSession, principal: Principal, organization: Organization, page: PageParams
) -> Page[MemberOut]:
    await require_org_role(DatabaseMemberships(session), principal, organization.id, OrgRole.member)
    rows, next_cursor = await paginate(
        session,
        MembershipRepository(session).roster(organization.id),
        keyset=[Membership.person_id],
        key_of=lambda row: [row[0].person_id],
        page=page,
        scalars=False,
    )
    items = [
        MemberOut(
            organization_id=membership.organization_id,
            person_id=membership.person_id,
            display_name=display_name,
            role=membership.role,
        )
        for membership, display_name in rows
    ]
    return Page(items=items, next_cursor=next_cursor)


async def remove_member(
    session: AsyncSession, principal: Principal, organization: Organization, person_id: UUID
) -> None:
    await require_org_role(DatabaseMemberships(session), principal, organization.id, OrgRole.admin)
    memberships = MembershipRepository(session)
    membership = await memberships.find(organization.id, person_id)
    if membership is None:
        raise NotFound("This person is not a member of the organization")
    if membership.role == OrgRole.owner.value:
        raise Forbidden("The owner cannot be removed from the organization")
    await memberships.delete(membership)
