from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from services.orgs.models import LoginThrottle, Membership, Person, RefreshToken
from shared.repository import Repository


class PersonRepository(Repository[Person]):
    model = Person

    async def by_email(self, email: str) -> Person | None:
        statement = select(Person).where(func.lower(Person.email) == email.lower())
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def memberships(self, person_id: UUID) -> list[Membership]:
        statement = select(Membership).where(Membership.person_id == person_id).order_by(Membership.organization_id)
        return list((await self.session.execute(statement)).scalars())


class RefreshTokenRepository(Repository[RefreshToken]):
    model = RefreshToken

    async def by_hash(self, token_hash: str) -> RefreshToken | None:
        statement = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def claim(self, token_id: UUID, at: datetime) -> bool:
        """Mark an unused, unrevoked token used; False when it already was (a conditional UPDATE, so
        two concurrent refreshes with one token cannot both win)."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))
            .values(used_at=at)
            .returning(RefreshToken.id)
        )
        return result.first() is not None

    async def revoke_family(self, family_id: UUID, at: datetime) -> None:
        statement = (
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        await self.session.execute(statement)


class LoginThrottleRepository(Repository[LoginThrottle]):
    model = LoginThrottle

    async def count_attempt(
        self, email_key: str, now: datetime, *, window_s: int, max_failures: int, lockout_s: int
    ) -> datetime | None:
        """Under the row lock: when the account is locked, when it unlocks (nothing counted); otherwise count
        this attempt as a failure until it succeeds, the attempt that reaches the limit locking the account
        for the attempts after it."""
        await self.session.execute(
            insert(LoginThrottle)
            .values(email_key=email_key, failures=0, window_started_at=now)
            .on_conflict_do_nothing(index_elements=[LoginThrottle.email_key])
        )
        row = await self.session.get(LoginThrottle, email_key, with_for_update=True, populate_existing=True)
        assert row is not None
        if row.locked_until is not None and row.locked_until > now:
            return row.locked_until
        if row.window_started_at < now - timedelta(seconds=window_s):
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        if row.failures >= max_failures:
            row.locked_until = now + timedelta(seconds=lockout_s)
            row.failures, row.window_started_at = 0, now
        await self.session.flush()
        return None

    async def clear(self, email_key: str) -> None:
        row = await self.session.get(LoginThrottle, email_key)
        if row is not None:
            await self.session.delete(row)
            await self.session.flush()
