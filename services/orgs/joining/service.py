import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.orgs.auth.repository import PersonRepository
from services.orgs.auth.service import token_digest
from services.orgs.dependencies import DatabaseMemberships
from services.orgs.joining.memberships import admit, join_request_changed
from services.orgs.joining.repository import InvitationRepository, JoinRequestRepository
from services.orgs.joining.schemas import (
    InvitationCreate,
    InvitationListed,
    InvitationOut,
    InvitationStatus,
    JoinRequestCreate,
    JoinRequestOut,
)
from services.orgs.models import Invitation, JoinRequest, Organization, Person, audit_log
from services.orgs.organizations.repository import MembershipRepository
from services.orgs.organizations.schemas import GrantableRole, MemberOut
from services.orgs.settings import OrgsSettings
from shared import audit
from shared.auth import Principal
from shared.authz import OrgRole, require_org_role
from shared.errors import Conflict, Gone, NotFound
from shared.events.outbox import Outbox
from shared.events.schemas import InvitationCreated, JoinRequestStatus
from shared.pagination import Page, PageParams
from shared.repository import paginate

# ---- invitations ------------------------------------------------------------------------------------------


async def _audit_invitation(
    session: AsyncSession,
    actor: audit.Actor,
    action: str,
    invitation: Invitation,
    before: Mapping[str, object] | None,
    after: Mapping[str, object],
) -> None:
    """An invitation's entry: its role, expiry and status, never its address (an invitee may have no account,
    and an erasure deletes the invitations to their address) nor its token."""
    await audit.record(
        session,
        audit_log,
        actor=actor,
        action=action,
        entity_type="invitation",
        entity_id=invitation.id,
        organization_id=invitation.organization_id,
        before=before,
        after=after,
    )


def invitation_status(invitation: Invitation, now: datetime) -> InvitationStatus:
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    return "pending" if invitation.expires_at > now else "expired"


async def invite(
    session: AsyncSession,
    outbox: Outbox,
    settings: OrgsSettings,
    inviter: Person,
    principal: Principal,
    organization: Organization,
    body: InvitationCreate,
) -> InvitationOut:
    """Invite an address (whether or not it has an account yet). The token goes out only in
    `invitation.created`, which notify mails; the table keeps its SHA-256."""
    await require_org_role(DatabaseMemberships(session), principal, organization.id, OrgRole.admin)
    invitee = await PersonRepository(session).by_email(body.email)
    if invitee is not None and await MembershipRepository(session).find(organization.id, invitee.id) is not None:
        raise Conflict("This person is already a member of the organization")
    now = datetime.now(UTC)
    invitations = InvitationRepository(session)
    await invitations.revoke_open(organization.id, body.email, now)
    token = secrets.token_urlsafe(32)
    try:
        invitation = await invitations.add(
            Invitation(
                organization_id=organization.id,
                email=body.email,
                role=body.role.value,
                token_hash=token_digest(token),
                invited_by=inviter.id,
                expires_at=now + timedelta(seconds=settings.invitation_ttl_s),
            )
        )
    except IntegrityError as exc:  # the same address invited by a concurrent request
        raise Conflict("This address is being invited by someone else right now; try again") from exc
    payload = InvitationCreated(
        invitation_id=invitation.id,
        organization_id=organization.id,
        organization_name=organization.name,
        email=invitation.email,
        role=invitation.role,
        token=token,
        expires_at=invitation.expires_at,
        invited_by_name=inviter.display_name,
        # An invitee with an account reads their own language; otherwise the inviter's is the best guess.
        language=(invitee or inviter).language,
    )
    await outbox.emit(session, "invitation.created", invitation.id, payload)
    after = {"status": "pending", "role": invitation.role, "expires_at": invitation.expires_at}
    await _audit_invitation(session, audit.Actor.of(principal), "invitation.created", invitation, None, after)
    return InvitationOut.model_validate(invitation)


async def list_invitations(
    session: AsyncSession,
    principal: Principal,
    organization: Organization,
    page: PageParams,
    status: InvitationStatus | None,
) -> Page[InvitationListed]:
    await require_org_role(DatabaseMemberships(session), principal, organization.id, OrgRole.admin)
    now = datetime.now(UTC)
    statement = InvitationRepository(session).listing(organization.id, status, now)
    rows, next_cursor = await paginate(
        session, statement, keyset=[Invitation.id], key_of=lambda i: [i.id], page=page, descending=True
    )
    items = [
        InvitationListed(
            id=invitation.id,
            email=invitation.email,
            role=invitation.role,
            expires_at=invitation.expires_at,
            status=invitation_status(invitation, now),
            created_at=invitation.created_at,
            accepted_at=invitation.accepted_at,
        )
        for invitation in rows
    ]
    return Page(items=items, next_cursor=next_cursor)


async def revoke_invitation(
    session: AsyncSession, principal: Principal, organization: Organization, invitation_id: UUID
) -> None:
    """Revoke an open invitation: its link answers 410. Revoking a revoked (or superseded) one again is a
    no-op; an accepted one is a membership now (remove the member instead): 409."""
    await require_org_role(DatabaseMemberships(session), principal, organization.id, OrgRole.admin)
    invitations = InvitationRepository(session)
    invitation = await invitations.of_organization(organization.id, invitation_id)
    if invitation is None:
        raise NotFound("Invitation not found")
    if not await invitations.revoke(invitation.id, datetime.now(UTC)):
        await session.refresh(invitation)
        if invitation.accepted_at is not None:
            raise Conflict("This invitation was already accepted; remove the member instead")
        return
    before, after = {"status": "pending"}, {"status": "revoked"}
    await _audit_invitation(session, audit.Actor.of(principal), "invitation.revoked", invitation, before, after)


async def accept_invitation(session: AsyncSession, outbox: Outbox, person: Person, token: str) -> MemberOut:
    """Join with the invited role. Whoever holds the token may use it, once, before it expires: it went only
    to the invited address, which may belong to another account of theirs or to none yet."""
    invitations = InvitationRepository(session)
    invitation = await invitations.by_token_hash(token_digest(token))
    if invitation is None:
        raise NotFound("No invitation has this token; check the link in the invitation mail")
    # Before the token is spent: a member keeps an unused invitation (it may be meant for someone else).
    if await MembershipRepository(session).find(invitation.organization_id, person.id) is not None:
        raise Conflict("You are already a member of this organization")
    if not await invitations.claim(invitation.id, person.id, datetime.now(UTC)):
        await session.refresh(invitation)
        raise Gone(_why_unusable(invitation))
    actor = audit.Actor(person.id)
    after = {"status": "accepted", "accepted_by": person.id}
    await _audit_invitation(session, actor, "invitation.accepted", invitation, {"status": "pending"}, after)
    return await admit(
        session,
        outbox,
        invitation.organization_id,
        person,
        invitation.role,
        via="invitation",
        by_person_id=invitation.invited_by,
        actor=actor,
    )


def _why_unusable(invitation: Invitation) -> str:
    match invitation_status(invitation, datetime.now(UTC)):
        case "accepted":
            return "This invitation was already used"
        case "revoked":
            return "This invitation was withdrawn, or replaced by a newer one; ask the organization for a new one"
        case _:
            return "This invitation has expired; ask the organization for a new one"


# ---- join requests ----------------------------------------------------------------------------------------


def join_request_out(request: JoinRequest, display_name: str) -> JoinRequestOut:
    return JoinRequestOut(
        id=request.id,
        organization_id=request.organization_id,
        person_id=request.person_id,
        display_name=display_name,
        status=request.status,
        message=request.message,
        created_at=request.created_at,
        decided_at=request.decided_at,
    )


async def ask_to_join(
    session: AsyncSession, outbox: Outbox, person: Person, organization: Organization, body: JoinRequestCreate
) -> JoinRequestOut:
    if await MembershipRepository(session).find(organization.id, person.id) is not None:
        raise Conflict("You are already a member of this organization")
    try:
        request = await JoinRequestRepository(session).add(
            JoinRequest(organization_id=organization.id, person_id=person.id, status="pending", message=body.message)
        )
    except IntegrityError as exc:  # uq_join_requests_pending: one pending request per person and organization
        raise Conflict("You already asked to join this organization; its admins have not answered yet") from exc
    await join_request_changed(session, outbox, request)
    return join_request_out(request, person.display_name)


async def list_join_requests(
    session: AsyncSession,
    principal: Principal,
    organization: Organization,
    page: PageParams,
    status: JoinRequestStatus | None,
) -> Page[JoinRequestOut]:
    await require_org_role(DatabaseMemberships(session), principal, organization.id, OrgRole.admin)
    rows, next_cursor = await paginate(
        session,
        JoinRequestRepository(session).listing(organization.id, status),
        keyset=[JoinRequest.id],
        key_of=lambda row: [row[0].id],
        page=page,
        scalars=False,
    )
    return Page(items=[join_request_out(request, name) for request, name in rows], next_cursor=next_cursor)


async def _decide(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    organization: Organization,
    request_id: UUID,
    status: JoinRequestStatus,
) -> JoinRequest:
    """Move a pending request of the organization to `status` (by an admin, or its requester withdrawing)."""
    requests = JoinRequestRepository(session)
    request = await requests.of_organization(organization.id, request_id)
    if request is None:
        raise NotFound("Join request not found")
    decided_by = None if status == "withdrawn" else principal.person_id
    if not await requests.decide(request.id, status, decided_by, datetime.now(UTC)):
        await session.refresh(request)
        raise Conflict(f"This request was already {request.status}")
    await join_request_changed(session, outbox, request)
    if decided_by is not None:  # an admin's decision (a requester withdrawing is no staff action)
        await audit.record(
            session,
            audit_log,
            actor=audit.Actor.of(principal),
            action=f"join_request.{status}",
            entity_type="join_request",
            entity_id=request.id,
            organization_id=organization.id,
            before={"status": "pending", "person_id": request.person_id},
            after={"status": status, "person_id": request.person_id},
        )
    return request


async def accept_join_request(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    organization: Organization,
    request_id: UUID,
    role: GrantableRole,
) -> MemberOut:
    await require_org_role(DatabaseMemberships(session), principal, organization.id, OrgRole.admin)
    request = await _decide(session, outbox, principal, organization, request_id, "accepted")
    person = await PersonRepository(session).get(request.person_id)
    assert person is not None  # the request goes with its person (ON DELETE CASCADE)
    return await admit(
        session,
        outbox,
        organization.id,
        person,
        role.value,
        via="request",
        by_person_id=principal.person_id,
        actor=audit.Actor.of(principal),
    )


async def refuse_join_request(
    session: AsyncSession, outbox: Outbox, principal: Principal, organization: Organization, request_id: UUID
) -> JoinRequestOut:
    await require_org_role(DatabaseMemberships(session), principal, organization.id, OrgRole.admin)
    request = await _decide(session, outbox, principal, organization, request_id, "refused")
    person = await PersonRepository(session).get(request.person_id)
    assert person is not None  # the request goes with its person (ON DELETE CASCADE)
    return join_request_out(request, person.display_name)


async def withdraw_join_request(
    session: AsyncSession, outbox: Outbox, principal: Principal, organization: Organization, request_id: UUID
) -> None:
    """Only the requester withdraws (admins refuse); anyone else's request does not exist for them."""
    request = await JoinRequestRepository(session).of_organization(organization.id, request_id)
    if request is None or request.person_id != principal.person_id:
        raise NotFound("Join request not found")
    await _decide(session, outbox, principal, organization, request_id, "withdrawn")
