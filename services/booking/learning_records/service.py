"""Lifelong learning records: every check-in credits the session's scheduled minutes."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.dependencies import Collaborators
from services.booking.learning_records.repository import LearningRecordRepository, checkins
from services.booking.learning_records.schemas import LearningItem, LearningRecordOut, MemberLearningOut
from shared.authz import OrgRole, require_org_role
from shared.errors import NotFound, Unprocessable
from shared.pagination import Page, PageParams, decode_cursor, encode_cursor
from shared.repository import paginate
from shared.schemas import pick_language


def ensure_range(from_: datetime | None, to: datetime | None) -> None:
    if from_ is not None and to is not None and from_ >= to:
        raise Unprocessable("`from` must be before `to`", pointer="/query/from")


async def my_record(
    c: Collaborators, page: PageParams, from_: datetime | None, to: datetime | None, accept_language: str | None
) -> LearningRecordOut:
    ensure_range(from_, to)
    me = c.principal.person_id
    repository = LearningRecordRepository(c.session)
    totals = (await repository.totals([me], from_, to))[me]
    rows, next_cursor = await paginate(
        c.session,
        repository.items(me, from_, to),
        keyset=[checkins.c.starts_at, checkins.c.booking_id],
        key_of=lambda r: [r.starts_at, r.booking_id],
        page=page,
        descending=True,
        scalars=False,
    )
    items = [_item(r, accept_language) for r in rows]
    return LearningRecordOut(person_id=me, **totals.model_dump(), items=items, next_cursor=next_cursor)


async def whole_record(session: AsyncSession, person_id: UUID) -> LearningRecordOut:
    """A person's learning record over all time, every item on one page (their data export)."""
    repository = LearningRecordRepository(session)
    totals = (await repository.totals([person_id], None, None))[person_id]
    newest_first = repository.items(person_id, None, None).order_by(
        checkins.c.starts_at.desc(), checkins.c.booking_id.desc()
    )
    items = [_item(r, None) for r in (await session.execute(newest_first)).all()]
    return LearningRecordOut(person_id=person_id, **totals.model_dump(), items=items, next_cursor=None)


def _item(row: Any, accept_language: str | None) -> LearningItem:
    return LearningItem(
        booking_id=row.booking_id,
        session_id=row.session_id,
        title=row.title,
        title_display=pick_language(row.title, accept_language) or "",
        kind=row.kind,
        starts_at=row.starts_at,
        minutes=row.minutes,
        checked_in_at=row.checked_in_at,
    )


async def organization_totals(
    c: Collaborators, organization_id: UUID, page: PageParams, from_: datetime | None, to: datetime | None
) -> Page[MemberLearningOut]:
    """Totals of every current member (zero when they attended nothing), ordered by person id.
    Members come from orgs at the time of the request."""
    ensure_range(from_, to)
    await require_org_role(c.memberships, c.principal, organization_id, OrgRole.admin)
    try:
        members = await c.memberships.member_ids(organization_id)
    except NotFound as exc:
        raise NotFound("Organization not found") from exc
    ordered = sorted(members)
    if page.cursor is not None:
        (after,) = decode_cursor(page.cursor, arity=1)
        if not isinstance(after, UUID):
            raise Unprocessable("The cursor is not valid for this list", pointer="/query/cursor")
        ordered = [person_id for person_id in ordered if person_id > after]
    chosen = ordered[: page.limit]
    next_cursor = encode_cursor([chosen[-1]]) if len(ordered) > page.limit else None
    totals = await LearningRecordRepository(c.session).totals(chosen, from_, to)
    items = [
        MemberLearningOut(person_id=person_id, role=members[person_id].value, **totals[person_id].model_dump())
        for person_id in chosen
    ]
    return Page(items=items, next_cursor=next_cursor)
