from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from services.orgs.dependencies import OrganizationDep, SettingsDep, SignedInAccount, SignedInPerson
from services.orgs.joining import service
from services.orgs.joining.schemas import (
    InvitationAccept,
    InvitationCreate,
    InvitationListed,
    InvitationOut,
    InvitationStatus,
    JoinRequestCreate,
    JoinRequestDecision,
    JoinRequestOut,
)
from services.orgs.organizations.schemas import MemberOut
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.events.schemas import JoinRequestStatus
from shared.events.wiring import OutboxDep
from shared.pagination import Page, PageDep

router = APIRouter(prefix="/v1/organizations", tags=["organizations"])


# Declared before any `/{organization_id}/...` route, and of another shape: `invitations` is never read as an id.
@router.post(
    "/invitations/accept",
    summary="Join an organization with an invitation's token",
    description="The token comes from the invitation mail; it works once, until it expires. 410 when it was "
    "used, revoked (or replaced by a newer invitation) or has expired; 409 when you are already a member (the "
    "token stays usable). Someone without an account registers with `invitation_token` instead.",
    operation_id="acceptInvitation",
    responses=problem_responses(401, 404, 409, 410, 413, 422),
)
async def accept_invitation(
    body: InvitationAccept, person: SignedInAccount, session: SessionDep, outbox: OutboxDep
) -> MemberOut:
    return await service.accept_invitation(session, outbox, person, body.token)


@router.post(
    "/{organization_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    summary="Invite someone by email (owner or admin)",
    description="The invitee gets a mail with a single-use link that works for `ORGS_INVITATION_TTL_S` (7 days); "
    "they need no account yet. The token is in the mail only, never in a response. Inviting an address again "
    "replaces its earlier open invitation. 409 when the address is already a member's.",
    operation_id="createInvitation",
    responses=problem_responses(401, 403, 404, 409, 413, 422),
)
async def create_invitation(
    body: InvitationCreate,
    inviter: SignedInAccount,
    principal: SignedInPerson,
    organization: OrganizationDep,
    session: SessionDep,
    outbox: OutboxDep,
    settings: SettingsDep,
) -> InvitationOut:
    return await service.invite(session, outbox, settings, inviter, principal, organization, body)


@router.get(
    "/{organization_id}/invitations",
    summary="List invitations, newest first (owner or admin)",
    operation_id="listInvitations",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_invitations(
    principal: SignedInPerson,
    organization: OrganizationDep,
    session: SessionDep,
    page: PageDep,
    status_filter: Annotated[InvitationStatus | None, Query(alias="status")] = None,
) -> Page[InvitationListed]:
    return await service.list_invitations(session, principal, organization, page, status_filter)


@router.delete(
    "/{organization_id}/invitations/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an invitation (owner or admin)",
    description="Its link stops working (410). 409 when it was already accepted.",
    operation_id="revokeInvitation",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def revoke_invitation(
    principal: SignedInPerson, organization: OrganizationDep, invitation_id: UUID, session: SessionDep
) -> Response:
    await service.revoke_invitation(session, principal, organization, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{organization_id}/join-requests",
    status_code=status.HTTP_201_CREATED,
    summary="Ask to join an organization",
    description="Its admins accept or refuse. 409 when you are a member, or already asked and wait for an answer.",
    operation_id="createJoinRequest",
    responses=problem_responses(401, 404, 409, 413, 422),
)
async def create_join_request(
    body: JoinRequestCreate,
    person: SignedInAccount,
    organization: OrganizationDep,
    session: SessionDep,
    outbox: OutboxDep,
) -> JoinRequestOut:
    return await service.ask_to_join(session, outbox, person, organization, body)


@router.get(
    "/{organization_id}/join-requests",
    summary="List join requests, oldest first (owner or admin)",
    operation_id="listJoinRequests",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_join_requests(
    principal: SignedInPerson,
    organization: OrganizationDep,
    session: SessionDep,
    page: PageDep,
    status_filter: Annotated[JoinRequestStatus | None, Query(alias="status")] = None,
) -> Page[JoinRequestOut]:
    return await service.list_join_requests(session, principal, organization, page, status_filter)


@router.post(
    "/{organization_id}/join-requests/{request_id}/accept",
    summary="Accept a join request (owner or admin)",
    description="The requester becomes a member with `role` (default `member`). 409 when the request is no "
    "longer pending.",
    operation_id="acceptJoinRequest",
    responses=problem_responses(401, 403, 404, 409, 413, 422),
)
async def accept_join_request(
    principal: SignedInPerson,
    organization: OrganizationDep,
    request_id: UUID,
    session: SessionDep,
    outbox: OutboxDep,
    body: JoinRequestDecision | None = None,
) -> MemberOut:
    role = (body or JoinRequestDecision()).role
    return await service.accept_join_request(session, outbox, principal, organization, request_id, role)


@router.post(
    "/{organization_id}/join-requests/{request_id}/refuse",
    summary="Refuse a join request (owner or admin)",
    description="409 when the request is no longer pending. The person may ask again later.",
    operation_id="refuseJoinRequest",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def refuse_join_request(
    principal: SignedInPerson, organization: OrganizationDep, request_id: UUID, session: SessionDep, outbox: OutboxDep
) -> JoinRequestOut:
    return await service.refuse_join_request(session, outbox, principal, organization, request_id)


@router.delete(
    "/{organization_id}/join-requests/{request_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Withdraw your join request",
    description="Only the person who asked; 409 when it was already answered.",
    operation_id="withdrawJoinRequest",
    responses=problem_responses(401, 404, 409, 422),
)
async def withdraw_join_request(
    principal: SignedInPerson, organization: OrganizationDep, request_id: UUID, session: SessionDep, outbox: OutboxDep
) -> Response:
    await service.withdraw_join_request(session, outbox, principal, organization, request_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
