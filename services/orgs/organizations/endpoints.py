from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from services.orgs.dependencies import OrganizationDep, SignedInPerson
from services.orgs.organizations import service
from services.orgs.organizations.schemas import (
    MemberAdd,
    MemberOut,
    OrganizationCreate,
    OrganizationKind,
    OrganizationOut,
    OrganizationUpdate,
)
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.events.wiring import OutboxDep
from shared.pagination import Page, PageDep
from shared.schemas import AcceptLanguage

router = APIRouter(prefix="/v1/organizations", tags=["organizations"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an organization (you become its owner)",
    operation_id="createOrganization",
    responses=problem_responses(401, 413, 422),
)
async def create_organization(
    body: OrganizationCreate,
    principal: SignedInPerson,
    session: SessionDep,
    outbox: OutboxDep,
    accept_language: AcceptLanguage = None,
) -> OrganizationOut:
    organization = await service.create(session, outbox, principal, body)
    return service.organization_out(organization, accept_language)


@router.get("", summary="List organizations", operation_id="listOrganizations", responses=problem_responses(422))
async def list_organizations(
    session: SessionDep,
    page: PageDep,
    kind: OrganizationKind | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="Substring of the name")] = None,
    accept_language: AcceptLanguage = None,
) -> Page[OrganizationOut]:
    return await service.list_organizations(
        session, page, kind=kind.value if kind else None, q=q, accept_language=accept_language
    )


@router.get(
    "/{organization_id}",
    summary="Get an organization",
    operation_id="getOrganization",
    responses=problem_responses(404, 422),
)
async def get_organization(organization: OrganizationDep, accept_language: AcceptLanguage = None) -> OrganizationOut:
    return service.organization_out(organization, accept_language)


@router.patch(
    "/{organization_id}",
    summary="Update an organization (owner or admin)",
    operation_id="updateOrganization",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def update_organization(
    principal: SignedInPerson,
    organization: OrganizationDep,
    body: OrganizationUpdate,
    session: SessionDep,
    accept_language: AcceptLanguage = None,
) -> OrganizationOut:
    updated = await service.update(session, principal, organization, body)
    return service.organization_out(updated, accept_language)


@router.post(
    "/{organization_id}/members",
    status_code=status.HTTP_201_CREATED,
    summary="Add a member (owner or admin)",
    description="The person must have an account; to reach someone who may not, invite their address.",
    operation_id="addMember",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def add_member(
    principal: SignedInPerson, organization: OrganizationDep, body: MemberAdd, session: SessionDep, outbox: OutboxDep
) -> MemberOut:
    return await service.add_member(session, outbox, principal, organization, body)


@router.get(
    "/{organization_id}/members",
    summary="List members (any member)",
    operation_id="listMembers",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_members(
    principal: SignedInPerson, organization: OrganizationDep, session: SessionDep, page: PageDep
) -> Page[MemberOut]:
    return await service.list_members(session, principal, organization, page)


@router.delete(
    "/{organization_id}/members/{person_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member (owner or admin), or leave",
    description="Any member may remove themself (leave); removing anyone else takes the owner or admin role. "
    "The owner can neither leave nor be removed (409).",
    operation_id="removeMember",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def remove_member(
    principal: SignedInPerson, organization: OrganizationDep, person_id: UUID, session: SessionDep, outbox: OutboxDep
) -> Response:
    await service.remove_member(session, outbox, principal, organization, person_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
