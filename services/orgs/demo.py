"""The demo city's people and organizations (`learncity up` on a fresh database, `learncity seed --demo`):
one demo account owning every demo organization, and the demo citizens (`citizen-0001@demo.learncity.example`
on, who sign in with the demo password too), many of them members of a community organization or two;
written through the orgs service's own models.

Idempotent: ids are `shared.ids.demo_id` of each record's key (a citizen's: their email), and what exists is
skipped (set-based: one statement per table, however many citizens). The citizens share one password hash,
computed once (argon2 costs tens of milliseconds per hash), and only when a citizen is missing.

No `membership.changed` events: they tell booking and notify about people leaving organizations (seats of
member lines given back) and about admins' changes, neither of which a fresh demo city has."""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from services.orgs.auth.repository import PersonRepository
from services.orgs.auth.service import hash_password
from services.orgs.models import Membership, Organization, Person
from shared.authz import OrgRole
from shared.db import async_url
from shared.ids import demo_id

DEMO_EMAIL = "demo@learncity.example"
DEMO_PASSWORD = "learncity-demo"
DEMO_DISPLAY_NAME = "Learning City Demo"
# The demo citizens: who booked, attended and missed the demo city's past sessions.
CITIZENS = 1000
CITIZEN_EMAIL = "citizen-{number:04d}@demo.learncity.example"
# The organizations citizens are members of (the others are institutions people visit, not join).
JOINABLE_KINDS = ("community", "nonprofit", "school", "workplace")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁沈"
_GIVEN = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英",
    "霞", "平", "刚", "桂英", "小红", "建华", "晓东", "雨涵", "子轩", "欣怡", "浩然", "思远", "梓涵", "一诺",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DemoPeople:
    """What the rest of the demo city needs of orgs: the demo account (owner, so staff, of every demo
    organization: it checked everyone in) and the citizens' ids, in number order."""

    owner_id: UUID
    citizen_ids: tuple[UUID, ...]


@dataclass(frozen=True, slots=True)
class SeededOrganizations:
    counts: dict[str, int]
    people: DemoPeople


def citizen_email(number: int) -> str:
    return CITIZEN_EMAIL.format(number=number)


def _citizen(number: int, password_hash: str) -> dict[str, Any]:
    draw = random.Random(f"citizen:{number}")  # noqa: S311 - demo data, not a secret
    email = citizen_email(number)
    return {
        "id": demo_id("person", email),
        "email": email,
        "display_name": draw.choice(_SURNAMES) + draw.choice(_GIVEN),
        "password_hash": password_hash,
        "roles": [],
        "language": "en" if draw.random() < 0.1 else "zh-CN",
    }


async def _citizens(db: AsyncSession, count: int) -> tuple[int, tuple[UUID, ...]]:
    """Add the missing citizens; returns how many were added and every citizen's id (by email: an account
    someone registered with a citizen's address stands in for that citizen)."""
    emails = [citizen_email(number) for number in range(1, count + 1)]
    lowered = func.lower(Person.email)
    existing = select(lowered, Person.id).where(lowered.in_(emails))
    ids: dict[str, UUID] = dict((await db.execute(existing)).all())
    missing = [number for number, email in enumerate(emails, start=1) if email not in ids]
    added = 0
    if missing:
        password_hash = await hash_password(DEMO_PASSWORD)  # once for every citizen
        statement = insert(Person).on_conflict_do_nothing().returning(Person.email, Person.id)
        rows = await db.execute(statement, [_citizen(number, password_hash) for number in missing])
        for email, person_id in rows:
            ids[email] = person_id
            added += 1
    return added, tuple(ids[email] for email in emails)


async def _memberships(db: AsyncSession, records: Sequence[dict[str, Any]], citizen_ids: Sequence[UUID]) -> int:
    """About two in three citizens are members of one joinable organization, some of a second one."""
    joinable = [demo_id("organization", r["key"]) for r in records if r["kind"] in JOINABLE_KINDS]
    if not joinable:
        return 0
    rows = []
    for number, person_id in enumerate(citizen_ids, start=1):
        draw = random.Random(f"citizen-memberships:{number}")  # noqa: S311 - demo data, not a secret
        joined = draw.sample(joinable, k=min(len(joinable), 2 if draw.random() < 0.2 else 1))
        if draw.random() < 0.65:
            rows += [{"organization_id": org, "person_id": person_id, "role": OrgRole.member.value} for org in joined]
    if not rows:
        return 0
    statement = insert(Membership).on_conflict_do_nothing().returning(Membership.person_id)
    return len((await db.execute(statement, rows)).all())


async def seed_organizations(
    database_url: str, records: Sequence[dict[str, Any]], *, citizens: int = CITIZENS
) -> SeededOrganizations:
    """The demo account and `records` (the data file's organizations), each owned by it, and `citizens`
    demo citizens with their memberships, in one transaction; returns how many people, organizations,
    memberships, citizens and citizen memberships were added, and the people's ids."""
    counts = dict.fromkeys(("people", "organizations", "memberships", "citizens", "citizen_memberships"), 0)
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
            counts["citizens"], citizen_ids = await _citizens(db, citizens)
            counts["citizen_memberships"] = await _memberships(db, records, citizen_ids)
    finally:
        await engine.dispose()
    return SeededOrganizations(counts, DemoPeople(owner_id=owner.id, citizen_ids=citizen_ids))
