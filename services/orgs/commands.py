"""Operator chores run from the command line."""

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from services.orgs.auth.repository import PersonRepository
from services.orgs.auth.service import hash_password
from services.orgs.models import Person, audit_log
from shared import audit
from shared.auth import OPERATOR_ROLE
from shared.db import async_url


async def grant_operator(
    database_url: str, email: str, *, display_name: str, password: str | Callable[[], str]
) -> bool:
    """Make `email` an operator, creating the account if needed (audited as `person.operator_granted`, by an
    operator at the command line). Returns True when it was created."""
    engine = create_async_engine(async_url(database_url))
    try:
        async with async_sessionmaker(engine, expire_on_commit=False).begin() as session:
            people = PersonRepository(session)
            person = await people.by_email(email)
            if person is None:
                secret = password if isinstance(password, str) else password()
                if len(secret) < 10:
                    raise ValueError("the password needs at least 10 characters")
                person = await people.add(
                    Person(
                        email=email,
                        display_name=display_name,
                        password_hash=await hash_password(secret),
                        roles=[OPERATOR_ROLE],
                    )
                )
                await _audit_grant(session, person, before=None)
                return True
            if OPERATOR_ROLE not in person.roles:
                before = {"roles": sorted(person.roles)}
                person.roles = [*person.roles, OPERATOR_ROLE]
                await _audit_grant(session, person, before=before)
            return False
    finally:
        await engine.dispose()


async def _audit_grant(session: AsyncSession, person: Person, *, before: dict[str, list[str]] | None) -> None:
    await audit.record(
        session,
        audit_log,
        actor=audit.COMMAND_LINE,
        action="person.operator_granted",
        entity_type="person",
        entity_id=person.id,
        organization_id=None,
        before=before,
        after={"roles": sorted(person.roles)},
    )
