from typing import Any
from uuid import UUID

from sqlalchemy import delete, select

from services.orgs.models import LoginThrottle, Membership, Organization, Person, RefreshToken
from shared.repository import Repository


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

    async def erase(self, person_id: UUID, throttle_key: str) -> None:
        """Every orgs row naming the person. Organizations they created stay: `created_by` becomes NULL by
        its foreign key."""
        await self.session.execute(delete(RefreshToken).where(RefreshToken.person_id == person_id))
        await self.session.execute(delete(Membership).where(Membership.person_id == person_id))
        await self.session.execute(delete(LoginThrottle).where(LoginThrottle.email_key == throttle_key))
        await self.session.execute(delete(Person).where(Person.id == person_id))
