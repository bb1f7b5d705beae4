import uuid
from typing import Any
from uuid import UUID

from sqlalchemy import Text, cast, delete, func, literal, or_, select, update

from services.orgs.models import (
    Invitation,
    JoinRequest,
    LoginThrottle,
    Membership,
    Organization,
    Person,
    RefreshToken,
    audit_log,
    event_tables,
)
from shared.audit import pseudonymize
from shared.repository import Repository

outbox = event_tables.outbox


def _addressed_to(person_id: UUID, email: str) -> Any:
    """Invitations that name the person: sent to their address, or accepted by them."""
    return or_(func.lower(Invitation.email) == email.lower(), Invitation.accepted_by == person_id)


class PersonalDataRepository(Repository[Person]):
    model = Person

    async def memberships_with_names(self, person_id: UUID) -> list[Any]:
        """(membership, organization name) rows of a person, by organization."""
        statement = (
            select(Membership, Organization.name)
            .join(Organization, Organization.id == Membership.organization_id)
            .where(Membership.person_id == person_id)
            .order_by(Membership.organization_id)
        )
        return list((await self.session.execute(statement)).all())

    async def join_requests_with_names(self, person_id: UUID) -> list[Any]:
        """(join request, organization name) rows of a person, oldest first."""
        statement = (
            select(JoinRequest, Organization.name)
            .join(Organization, Organization.id == JoinRequest.organization_id)
            .where(JoinRequest.person_id == person_id)
            .order_by(JoinRequest.id)
        )
        return list((await self.session.execute(statement)).all())

    async def invitations_with_names(self, person_id: UUID, email: str) -> list[Any]:
        """(invitation, organization name) rows naming the person, oldest first."""
        statement = (
            select(Invitation, Organization.name)
            .join(Organization, Organization.id == Invitation.organization_id)
            .where(_addressed_to(person_id, email))
            .order_by(Invitation.id)
        )
        return list((await self.session.execute(statement)).all())

    async def erase(self, person_id: UUID, email: str, throttle_key: str) -> None:
        """Every orgs row naming the person. Organizations they created stay: `created_by` becomes NULL by
        its foreign key, as do `invited_by` and `decided_by` of what they did as an admin; their join
        requests go with them (ON DELETE CASCADE). Their audit entries stay (and those about them), under a
        fresh random id: the trail never held their name or address."""
        await self._forget_events(person_id, email)
        await pseudonymize(self.session, audit_log, person_id, uuid.uuid4())
        await self.session.execute(delete(Invitation).where(_addressed_to(person_id, email)))
        await self.session.execute(delete(RefreshToken).where(RefreshToken.person_id == person_id))
        await self.session.execute(delete(Membership).where(Membership.person_id == person_id))
        await self.session.execute(delete(LoginThrottle).where(LoginThrottle.email_key == throttle_key))
        await self.session.execute(delete(Person).where(Person.id == person_id))

    async def _forget_events(self, person_id: UUID, email: str) -> None:
        """Outbox rows (pending or delivered) about the person go; rows about others that name them as the
        admin who acted lose that name. Subscribers learn of the person's erasure from `person.erased`."""
        payload = outbox.c.payload
        about_them = or_(
            payload["person_id"].astext == str(person_id),
            (outbox.c.type == "invitation.created") & (func.lower(payload["email"].astext) == email.lower()),
        )
        await self.session.execute(delete(outbox).where(about_them))
        for actor_field in ("by_person_id", "decided_by"):
            await self.session.execute(
                update(outbox)
                .where(payload[actor_field].astext == str(person_id))
                .values(payload=payload.op("-")(literal(actor_field, Text)))
            )
        # A pending invitation mail still signed with their name goes out unsigned: the invitation stays.
        theirs = select(cast(Invitation.id, Text)).where(Invitation.invited_by == person_id)
        await self.session.execute(
            update(outbox)
            .where(outbox.c.type == "invitation.created", payload["invitation_id"].astext.in_(theirs))
            .values(payload=payload.op("-")(literal("invited_by_name", Text)))
        )
