from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, Select, and_, func, select, update

from services.orgs.joining.schemas import InvitationStatus
from services.orgs.models import Invitation, JoinRequest, Person
from shared.repository import Repository


def _is_open() -> ColumnElement[bool]:
    return and_(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))


def _in_status(status: InvitationStatus, now: datetime) -> ColumnElement[bool]:
    match status:
        case "accepted":
            return Invitation.accepted_at.is_not(None)
        case "revoked":
            return Invitation.revoked_at.is_not(None)
        case "expired":
            return and_(_is_open(), Invitation.expires_at <= now)
        case "pending":
            return and_(_is_open(), Invitation.expires_at > now)


class InvitationRepository(Repository[Invitation]):
    model = Invitation

    async def by_token_hash(self, token_hash: str) -> Invitation | None:
        statement = select(Invitation).where(Invitation.token_hash == token_hash)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def of_organization(self, organization_id: UUID, invitation_id: UUID) -> Invitation | None:
        invitation = await self.session.get(Invitation, invitation_id)
        return invitation if invitation is not None and invitation.organization_id == organization_id else None

    def listing(self, organization_id: UUID, status: InvitationStatus | None, now: datetime) -> Select[Invitation]:
        statement = select(Invitation).where(Invitation.organization_id == organization_id)
        return statement if status is None else statement.where(_in_status(status, now))

    async def revoke_open(self, organization_id: UUID, email: str, at: datetime) -> None:
        """Revoke the organization's open invitations of this address: a newer one supersedes them."""
        await self.session.execute(
            update(Invitation)
            .where(
                Invitation.organization_id == organization_id,
                func.lower(Invitation.email) == email.lower(),
                _is_open(),
            )
            .values(revoked_at=at)
        )

    async def revoke(self, invitation_id: UUID, at: datetime) -> bool:
        """Revoke an open invitation; False when it was accepted or revoked meanwhile."""
        result = await self.session.execute(
            update(Invitation)
            .where(Invitation.id == invitation_id, _is_open())
            .values(revoked_at=at)
            .returning(Invitation.id)
        )
        return result.first() is not None

    async def claim(self, invitation_id: UUID, person_id: UUID, at: datetime) -> bool:
        """Accept an open, unexpired invitation for `person_id`; False when it is not (any more). One
        conditional UPDATE: of two people presenting one token at once, the second waits for the first's row
        lock, then finds it accepted."""
        result = await self.session.execute(
            update(Invitation)
            .where(Invitation.id == invitation_id, _is_open(), Invitation.expires_at > at)
            .values(accepted_at=at, accepted_by=person_id)
            .returning(Invitation.id)
        )
        return result.first() is not None


class JoinRequestRepository(Repository[JoinRequest]):
    model = JoinRequest

    async def of_organization(self, organization_id: UUID, request_id: UUID) -> JoinRequest | None:
        request = await self.session.get(JoinRequest, request_id)
        return request if request is not None and request.organization_id == organization_id else None

    def listing(self, organization_id: UUID, status: str | None) -> Select[JoinRequest, str]:
        statement = (
            select(JoinRequest, Person.display_name)
            .join(Person, Person.id == JoinRequest.person_id)
            .where(JoinRequest.organization_id == organization_id)
        )
        return statement if status is None else statement.where(JoinRequest.status == status)

    async def decide(self, request_id: UUID, status: str, by_person_id: UUID | None, at: datetime) -> bool:
        """Move a pending request to `status` (a loaded copy in the session follows); False when it was
        decided or withdrawn meanwhile."""
        result = await self.session.execute(
            update(JoinRequest)
            .where(JoinRequest.id == request_id, JoinRequest.status == "pending")
            .values(status=status, decided_at=at, decided_by=by_person_id)
            .returning(JoinRequest.id)
        )
        return result.first() is not None

    async def settle_pending(
        self, organization_id: UUID, person_id: UUID, by_person_id: UUID | None, at: datetime
    ) -> JoinRequest | None:
        """Accept the person's pending request to the organization, if any: they joined by another way."""
        statement = (
            update(JoinRequest)
            .where(
                JoinRequest.organization_id == organization_id,
                JoinRequest.person_id == person_id,
                JoinRequest.status == "pending",
            )
            .values(status="accepted", decided_at=at, decided_by=by_person_id)
            .returning(JoinRequest)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()
