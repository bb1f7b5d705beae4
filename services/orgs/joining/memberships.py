"""Every way into an organization (created, added, invitation, request) and out of it (left, removed) changes a
membership here, so each change emits `membership.changed` in its own transaction (the outbox).

Changes made by people are audited (`audit_log`): a membership's entries have entity_type `membership` and
the member's person id as entity_id (a membership has no id of its own); snapshots hold the person id and
role, never a name or an address."""

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.orgs.joining.repository import JoinRequestRepository
from services.orgs.models import JoinRequest, Membership, Person, audit_log
from services.orgs.organizations.repository import MembershipRepository
from services.orgs.organizations.schemas import MemberOut
from shared import audit
from shared.errors import Conflict
from shared.events.outbox import Outbox
from shared.events.schemas import JoinRequestChanged, MembershipChange, MembershipChanged, MembershipVia


async def membership_changed(
    session: AsyncSession,
    outbox: Outbox,
    membership: Membership,
    change: MembershipChange,
    *,
    via: MembershipVia | None = None,
    by_person_id: UUID | None = None,
) -> None:
    # The organization is the aggregate: subscribers apply one organization's changes in order.
    joined = change == "joined"
    payload = MembershipChanged(
        organization_id=membership.organization_id,
        person_id=membership.person_id,
        change=change,
        role=membership.role if joined else None,
        via=via,
        by_person_id=by_person_id,
    )
    await outbox.emit(session, "membership.changed", membership.organization_id, payload)


def audited_membership(membership: Membership, **extra: str) -> dict[str, str]:
    return {"person_id": str(membership.person_id), "role": membership.role, **extra}


async def audit_membership(
    session: AsyncSession,
    actor: audit.Actor,
    action: str,
    membership: Membership,
    *,
    before: dict[str, str] | None = None,
    after: dict[str, str] | None = None,
) -> None:
    await audit.record(
        session,
        audit_log,
        actor=actor,
        action=action,
        entity_type="membership",
        entity_id=membership.person_id,
        organization_id=membership.organization_id,
        before=before,
        after=after,
    )


async def join_request_changed(session: AsyncSession, outbox: Outbox, request: JoinRequest) -> None:
    payload = JoinRequestChanged(
        request_id=request.id,
        organization_id=request.organization_id,
        person_id=request.person_id,
        status=request.status,
        decided_by=request.decided_by,
    )
    await outbox.emit(session, "join_request.changed", request.id, payload)


async def admit(
    session: AsyncSession,
    outbox: Outbox,
    organization_id: UUID,
    person: Person,
    role: str,
    *,
    via: MembershipVia,
    by_person_id: UUID | None,
    actor: audit.Actor,
) -> MemberOut:
    """Make `person` a member with `role` (audited as `membership.added` by `actor`). A pending request of
    theirs to join is accepted with it: it has been answered, and must not stay in the admins' queue."""
    memberships = MembershipRepository(session)
    if await memberships.find(organization_id, person.id) is not None:
        raise Conflict("This person is already a member of the organization")
    try:
        membership = await memberships.add(Membership(organization_id=organization_id, person_id=person.id, role=role))
    except IntegrityError as exc:  # a concurrent admission won
        raise Conflict("This person is already a member of the organization") from exc
    await membership_changed(session, outbox, membership, "joined", via=via, by_person_id=by_person_id)
    await audit_membership(
        session, actor, "membership.added", membership, after=audited_membership(membership, via=via)
    )
    settled = await JoinRequestRepository(session).settle_pending(
        organization_id, person.id, by_person_id, datetime.now(UTC)
    )
    if settled is not None:
        await join_request_changed(session, outbox, settled)
    return MemberOut(
        organization_id=organization_id, person_id=person.id, display_name=person.display_name, role=membership.role
    )
