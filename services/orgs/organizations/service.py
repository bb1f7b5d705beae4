from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.orgs.auth.repository import PersonRepository
from services.orgs.dependencies import DatabaseMemberships
from services.orgs.joining.memberships import admit, audit_membership, audited_membership, membership_changed
from services.orgs.models import Membership, Organization, audit_log
from services.orgs.organizations.repository import MembershipRepository, OrganizationRepository
from services.orgs.organizations.schemas import (
    MemberAdd,
    MemberOut,
    OrganizationCreate,
    OrganizationKind,
    OrganizationOut,
    OrganizationUpdate,
)
from shared import audit
from shared.auth import Principal
from shared.authz import OrgRole, require_org_role
from shared.errors import Conflict, NotFound
from shared.events.outbox import Outbox
from shared.events.schemas import MembershipChange
from shared.pagination import Page, PageParams
from shared.repository import paginate
from shared.schemas import pick_language


def _search_text(name: dict[str, str]) -> str:
    return " ".join(name.values()).lower()


def audited(organization: Organization) -> dict[str, Any]:
    """The organization as the audit trail keeps it (`organization.*` entries)."""
    fields = ("name", "kind", "district", "description")
    return audit.snapshot({field: getattr(organization, field) for field in fields}) or {}


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


async def create(session: AsyncSession, outbox: Outbox, principal: Principal, body: OrganizationCreate) -> Organization:
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
    owner = await MembershipRepository(session).add(
        Membership(organization_id=organization.id, person_id=principal.person_id, role=OrgRole.owner.value)
    )
    await membership_changed(session, outbox, owner, "joined", via="created", by_person_id=principal.person_id)
    await audit.record(
        session,
        audit_log,
        actor=audit.Actor.of(principal),
        action="organization.created",
        entity_type="organization",
        entity_id=organization.id,
        organization_id=organization.id,
        after=audited(organization),
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
    before = audited(organization)
    for field, value in changes.items():
        setattr(organization, field, value.value if field == "kind" else value)
    if "name" in changes:
        organization.search_text = _search_text(organization.name)
    await session.flush()
    old, new = audit.changed_fields(before, audited(organization))
    if new:
        await audit.record(
            session,
            audit_log,
            actor=audit.Actor.of(principal),
            action="organization.updated",
            entity_type="organization",
            entity_id=organization.id,
            organization_id=organization.id,
            before=old,
            after=new,
        )
    return organization


async def add_member(
    session: AsyncSession, outbox: Outbox, principal: Principal, organization: Organization, body: MemberAdd
) -> MemberOut:
    await require_org_role(DatabaseMemberships(session), principal, organization.id, OrgRole.admin)
    person = await PersonRepository(session).by_email(body.email)
    if person is None:
        raise NotFound("No account with this email; invite the address instead (POST .../invitations)")
    return await admit(
        session,
        outbox,
        organization.id,
        person,
        body.role.value,
        via="added",
        by_person_id=principal.person_id,
        actor=audit.Actor.of(principal),
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
    session: AsyncSession, outbox: Outbox, principal: Principal, organization: Organization, person_id: UUID
) -> None:
    """A member leaves on their own; an owner or admin removes anyone else. The owner stays: an organization
    has exactly one, and ownership cannot be handed over."""
    leaving = person_id == principal.person_id
    if not leaving:
        await require_org_role(DatabaseMemberships(session), principal, organization.id, OrgRole.admin)
    memberships = MembershipRepository(session)
    membership = await memberships.find(organization.id, person_id)
    if membership is None:
        raise NotFound("This person is not a member of the organization")
    if membership.role == OrgRole.owner.value:
        raise Conflict("The owner cannot leave or be removed: an organization keeps its owner")
    await memberships.delete(membership)
    change: MembershipChange = "left" if leaving else "removed"
    await membership_changed(session, outbox, membership, change, by_person_id=principal.person_id)
    await audit_membership(
        session, audit.Actor.of(principal), f"membership.{change}", membership, before=audited_membership(membership)
    )
