from uuid import UUID

from sqlalchemy import Select, func, select

from services.orgs.models import Membership, Organization, Person
from shared.repository import Repository


class OrganizationRepository(Repository[Organization]):
    model = Organization

    def listing(self, *, kind: str | None, q: str | None) -> Select[Organization]:
        statement = select(Organization)
        if kind is not None:
            statement = statement.where(Organization.kind == kind)
        if q:
            statement = statement.where(Organization.search_text.contains(q.lower(), autoescape=True))
        return statement


class MembershipRepository(Repository[Membership]):
    model = Membership

    async def find(self, organization_id: UUID, person_id: UUID) -> Membership | None:
        return await self.session.get(Membership, (organization_id, person_id))

    def roster(self, organization_id: UUID) -> Select[Membership, str]:
        return (
            select(Membership, Person.display_name)
            .join(Person, Person.id == Membership.person_id)
            .where(Membership.organization_id == organization_id)
        )

    async def count_owners(self, organization_id: UUID) -> int:
        statement = select(func.count()).where(
            Membership.organization_id == organization_id, Membership.role == "owner"
        )
        return int((await self.session.execute(statement)).scalar_one())
