from datetime import UTC, datetime
from uuid import UUID

from fastapi import APIRouter
from sqlalchemy import func, select

from services.orgs.auth.repository import PersonRepository
from services.orgs.auth.schemas import MembershipRef
from services.orgs.dependencies import OrganizationDep, SettingsDep, SignedInPerson
from services.orgs.models import ORGANIZATION_KINDS, Membership, Organization, Person, RevokedSubject
from services.orgs.people.schemas import (
    KindsQuery,
    KindTallyOut,
    MemberRef,
    PersonContact,
    PersonMemberships,
    PersonPublic,
)
from shared.clients import InternalCaller
from shared.db import SessionDep
from shared.errors import NotFound, problem_responses
from shared.revocation import RevokedSubjectsList

router = APIRouter(prefix="/v1/people", tags=["people"])


@router.get(
    "/{person_id}",
    summary="A person's public profile",
    operation_id="getPerson",
    responses=problem_responses(401, 404, 422),
)
async def get_person(person_id: UUID, _: SignedInPerson, session: SessionDep) -> PersonPublic:
    person = await PersonRepository(session).get(person_id)
    if person is None:
        raise NotFound("Person not found")
    return PersonPublic.model_validate(person)


# Service-to-service only: not under /v1, so the public gateway never routes it.
internal_router = APIRouter(
    prefix="/internal/v1", tags=["internal"], dependencies=[InternalCaller], include_in_schema=False
)


@internal_router.get(
    "/people/{person_id}/memberships", summary="Current memberships of a person", operation_id="internalMemberships"
)
async def person_memberships(person_id: UUID, session: SessionDep) -> PersonMemberships:
    people = PersonRepository(session)
    person = await people.get(person_id)
    if person is None:
        raise NotFound("Person not found")
    memberships = await people.memberships(person_id)
    return PersonMemberships(
        person_id=person_id,
        roles=sorted(person.roles),
        memberships=[MembershipRef(organization_id=m.organization_id, role=m.role) for m in memberships],
    )


@internal_router.get(
    "/people/{person_id}/contact",
    summary="Where and in which language to tell a person",
    operation_id="internalContact",
)
async def person_contact(person_id: UUID, session: SessionDep) -> PersonContact:
    """Notify asks before it writes to someone; 404 for a person unknown or erased."""
    person = await PersonRepository(session).get(person_id)
    if person is None:
        raise NotFound("Person not found")
    return PersonContact(
        person_id=person.id, email=person.email, display_name=person.display_name, language=person.language
    )


@internal_router.get(
    "/organizations/{organization_id}/members",
    summary="Every member of an organization, with role and display name",
    operation_id="internalOrganizationMembers",
)
async def organization_members(organization: OrganizationDep, session: SessionDep) -> list[MemberRef]:
    rows = await session.execute(
        select(Membership.person_id, Membership.role, Person.display_name)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.organization_id == organization.id)
    )
    return [
        MemberRef(person_id=person_id, role=role, display_name=display_name)
        for person_id, role, display_name in rows.all()
    ]


@internal_router.post(
    "/organizations/kinds",
    summary="Organizations per kind, and how many of the given ones are of each kind",
    operation_id="internalOrganizationKinds",
)
async def organization_kinds(body: KindsQuery, session: SessionDep) -> list[KindTallyOut]:
    """Every kind, zeros included, in the contract's order. Booking's operator report sends the organizations
    it saw active (a POST: the ids would not fit in a URL)."""
    per_kind = select(Organization.kind, func.count()).group_by(Organization.kind)
    totals: dict[str, int] = dict((await session.execute(per_kind)).all())
    listed: dict[str, int] = {}
    if body.organization_ids:
        among = per_kind.where(Organization.id.in_(body.organization_ids))
        listed = dict((await session.execute(among)).all())
    return [
        KindTallyOut(kind=kind, organizations=totals.get(kind, 0), listed=listed.get(kind, 0))
        for kind in ORGANIZATION_KINDS
    ]


@internal_router.get(
    "/revoked-subjects",
    summary="Digests of the people whose unexpired access tokens every service refuses",
    operation_id="internalRevokedSubjects",
)
async def revoked_subjects(session: SessionDep, settings: SettingsDep) -> RevokedSubjectsList:
    """Catalog, booking and notify verify tokens themselves: they poll this to refuse erased people's tokens
    before they expire (shared/revocation.py). `refresh_after_s`: how long they wait at least between polls."""
    rows = await session.execute(
        select(RevokedSubject.subject_hash).where(RevokedSubject.expires_at > datetime.now(UTC))
    )
    return RevokedSubjectsList(subject_hashes=list(rows.scalars()), refresh_after_s=settings.revocation_refresh_s)
