"""Lifelong learning records: every check-in credits the session's scheduled minutes."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.attendance.service import standing
from services.booking.dependencies import Collaborators
from services.booking.learning_records.repository import LearningRecordRepository, checkins
from services.booking.learning_records.schemas import (
    KindActivity,
    LearningItem,
    MemberLearningOut,
    MonthActivity,
    MyLearningRecordOut,
    OrganizationsActivityOut,
)
from services.booking.settings import BookingSettings
from shared.authz import Member, OrgRole, require_org_role
from shared.db import utcnow
from shared.errors import Forbidden, NotFound, Unprocessable
from shared.pagination import Page, PageParams, decode_cursor, encode_cursor
from shared.repository import paginate
from shared.schemas import pick_language


def ensure_range(from_: datetime | None, to: datetime | None) -> None:
    if from_ is not None and to is not None and from_ >= to:
        raise Unprocessable("`from` must be before `to`", pointer="/query/from")


async def my_record(
    c: Collaborators, page: PageParams, from_: datetime | None, to: datetime | None, accept_language: str | None
) -> MyLearningRecordOut:
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
    return MyLearningRecordOut(
        person_id=me,
        **totals.model_dump(),
        items=items,
        next_cursor=next_cursor,
        standing=await standing(c.session, me, c.settings),
    )


async def whole_record(session: AsyncSession, person_id: UUID, settings: BookingSettings) -> MyLearningRecordOut:
    """A person's learning record over all time, every item on one page, and their standing (their data
    export: the same document as `GET /v1/learning-records/me`)."""
    repository = LearningRecordRepository(session)
    totals = (await repository.totals([person_id], None, None))[person_id]
    newest_first = repository.items(person_id, None, None).order_by(
        checkins.c.starts_at.desc(), checkins.c.booking_id.desc()
    )
    items = [_item(r, None) for r in (await session.execute(newest_first)).all()]
    return MyLearningRecordOut(
        person_id=person_id,
        **totals.model_dump(),
        items=items,
        next_cursor=None,
        standing=await standing(session, person_id, settings),
    )


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


async def organization_report(
    c: Collaborators, organization_id: UUID, page: PageParams | None, from_: datetime | None, to: datetime | None
) -> Page[MemberLearningOut]:
    """Every current member's learning over sessions that started in `[from, to)` (zeros when they attended
    nothing), ordered by person id: one page, or with `page` None all of them (the CSV). Members, their roles
    and names come from orgs at the time of the request."""
    ensure_range(from_, to)
    await require_org_role(c.memberships, c.principal, organization_id, OrgRole.admin)
    try:
        members = await c.memberships.members(organization_id)
    except NotFound as exc:
        raise NotFound("Organization not found") from exc
    ordered = sorted(members)
    if page is None:
        chosen, next_cursor = ordered, None
    else:
        if page.cursor is not None:
            (after,) = decode_cursor(page.cursor, arity=1)
            if not isinstance(after, UUID):
                raise Unprocessable("The cursor is not valid for this list", pointer="/query/cursor")
            ordered = [person_id for person_id in ordered if person_id > after]
        chosen = ordered[: page.limit]
        next_cursor = encode_cursor([chosen[-1]]) if len(ordered) > page.limit else None
    items = await _member_reports(
        c, organization_id, {person_id: members[person_id] for person_id in chosen}, from_, to
    )
    return Page(items=items, next_cursor=next_cursor)


async def _member_reports(
    c: Collaborators, organization_id: UUID, members: dict[UUID, Member], from_: datetime | None, to: datetime | None
) -> list[MemberLearningOut]:
    chosen: Sequence[UUID] = list(members)
    repository = LearningRecordRepository(c.session)
    zone = c.settings.timezone
    attended = await repository.attended_months(organization_id, chosen, from_, to, zone)
    no_shows = await repository.no_show_months(chosen, from_, to, zone)
    by_kind: dict[UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    months: dict[UUID, dict[str, MonthActivity]] = defaultdict(dict)

    def month_of(person_id: UUID, month: str) -> MonthActivity:
        return months[person_id].setdefault(
            month,
            MonthActivity(
                month=month,
                total_minutes=0,
                minutes_at_organization=0,
                minutes_elsewhere=0,
                sessions_attended=0,
                no_shows=0,
            ),
        )

    for row in attended:
        entry = month_of(row.person_id, row.month)
        entry.total_minutes += row.minutes
        if row.at_organization:
            entry.minutes_at_organization += row.minutes
        else:
            entry.minutes_elsewhere += row.minutes
        entry.sessions_attended += row.sessions
        by_kind[row.person_id][row.kind] += row.minutes
    for (person_id, month), count in no_shows.items():
        month_of(person_id, month).no_shows += count
    return [
        _member_report(
            person_id, member, dict(by_kind[person_id]), sorted(months[person_id].values(), key=lambda m: m.month)
        )
        for person_id, member in members.items()
    ]


def _member_report(
    person_id: UUID, member: Member, by_kind: dict[str, int], months: list[MonthActivity]
) -> MemberLearningOut:
    return MemberLearningOut(
        person_id=person_id,
        display_name=member.display_name,
        role=member.role.value,
        total_minutes=sum(m.total_minutes for m in months),
        sessions_attended=sum(m.sessions_attended for m in months),
        by_kind=by_kind,
        minutes_at_organization=sum(m.minutes_at_organization for m in months),
        minutes_elsewhere=sum(m.minutes_elsewhere for m in months),
        no_shows=sum(m.no_shows for m in months),
        months=months,
    )


async def organizations_activity(c: Collaborators, days: int) -> OrganizationsActivityOut:
    """Per organization kind: how many organizations were active (hosted, or attended as an organization)
    in the last `days` days. Operators only."""
    if not c.principal.is_operator:
        raise Forbidden("Only operators see the activity of every organization")
    until = utcnow()
    since = until - timedelta(days=days)
    active = await LearningRecordRepository(c.session).active_organizations(since, until)
    items = [
        KindActivity(
            kind=tally.kind,
            organizations=tally.organizations,
            active=tally.listed,
            share_active=round(tally.listed / tally.organizations, 4) if tally.organizations else 0.0,
        )
        for tally in await c.memberships.kinds(active)
    ]
    return OrganizationsActivityOut(days=days, since=since, items=items)
