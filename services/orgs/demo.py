"""The demo city's people and organizations (`learncity up` on a fresh database, `learncity seed --demo`):
one demo account owning every demo organization, written through the orgs service's own models.
Idempotent: ids are `shared.ids.demo_id` of each record's key, and what exists is skipped."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from services.orgs.auth.repository import PersonRepository
from services.orgs.auth.service import hash_password
from services.orgs.models import Membership, Organization, Person
from shared.authz import OrgRole
from shared.db import async_url
from shared.ids import demo_id

DEMO_EMAIL = "demo@learncity.example"
DEMO_PASSWORD = "learncity-demo"
DEMO_DISPLAY_NAME = "Learning City Demo"


async def seed_organizations(database_url: str, records: Sequence[dict[str, Any]]) -> dict[str, int]:
    """The demo account and `records` (the data file's organizations), each owned by it, in one
    transaction; returns how many people, organizations and memberships were added."""
    counts = dict.fromkeys(("people", "organizations", "memberships"), 0)
    engine = create_async_engine(async_url(database_url))
    try:
        async with async_sessionmaker(engine, expire_on_commit=False, autoflush=False).begin() as db:
            people = PersonRepository(db)
            owner = await people.by_email(DEMO_EMAIL)
            if owner is None:
                owner = await people.add(
                    Person(
                        id=demo_id("person", DEMO_EMAIL),
                        email=DEMO_EMAIL,
                        display_name=DEMO_DISPLAY_NAME,
                        password_hash=await hash_password(DEMO_PASSWORD),
                    )
                )
                counts["people"] += 1
            for record in records:
                organization_id = demo_id("organization", record["key"])
                if await db.get(Organization, organization_id) is None:
                    db.add(
                        Organization(
                            id=organization_id,
                            name=record["name"],
                            kind=record["kind"],
                            district=record.get("district"),
                            description=record.get("description"),
                            created_by=owner.id,
                            # As the orgs service fills it: every name, lowercased, for its `q` search.
                            search_text=" ".join(record["name"].values()).lower(),
                        )
                    )
                    counts["organizations"] += 1
                    await db.flush()
                if await db.get(Membership, (organization_id, owner.id)) is None:
                    db.add(Membership(organization_id=organization_id, person_id=owner.id, role=OrgRole.owner.value))
                    counts["memberships"] += 1
            await db.flush()
    finally:
        await engine.dispose()
    return counts
