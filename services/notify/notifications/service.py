"""Making notices: once per (person, cause), rendered in each person's language, and queued as emails in
the same transaction for those who can and want to get one. Reading the inbox."""

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.context import NotifyContext
from services.notify.mail_queue.repository import MailRepository, NewMail
from services.notify.messages import (
    CancelledBy,
    NoticeFacts,
    NoticeKind,
    RenderedNotice,
    SessionFacts,
    render_notice,
)
from services.notify.notifications.repository import NewNotice, NotificationRepository
from services.notify.notifications.schemas import NotificationOut
from services.notify.recipients.service import recipients
from shared.auth import Principal
from shared.db import utcnow
from shared.errors import NotFound
from shared.pagination import Page, PageParams


@dataclass(frozen=True)
class Draft:
    """A notice to make: for whom, why (`cause`, the exactly-once key) and the facts it tells."""

    person_id: UUID
    kind: NoticeKind
    cause: str
    session: SessionFacts
    booking_id: UUID | None = None
    seats: int | None = None
    checkin_code: str | None = None
    waitlist_position: int | None = None
    cancelled_by: CancelledBy | None = None
    minutes_before: int | None = None
    previous: SessionFacts | None = None
    cancel_reason: str | None = None
    organization_seat: bool = False


async def post_notices(db: AsyncSession, context: NotifyContext, drafts: Sequence[Draft]) -> int:
    """Make the notices whose person has none for their cause yet (a redelivered or doubled cause makes
    nothing), queuing the mail of each new one whose person gets mail. Set-based: a batch of events or
    of reminders costs a few statements, not a few per notice. Returns how many were made."""
    if not drafts:
        return 0
    to = await recipients(db, context, {draft.person_id for draft in drafts})
    made: list[tuple[Draft, NoticeFacts, RenderedNotice]] = []
    for draft in drafts:
        facts = NoticeFacts(
            kind=draft.kind,
            language=to[draft.person_id].language,
            display_name=to[draft.person_id].display_name,
            session=draft.session,
            booking_id=draft.booking_id,
            seats=draft.seats,
            checkin_code=draft.checkin_code,
            waitlist_position=draft.waitlist_position,
            cancelled_by=draft.cancelled_by,
            minutes_before=draft.minutes_before,
            previous=draft.previous,
            cancel_reason=draft.cancel_reason,
            organization_seat=draft.organization_seat,
        )
        made.append((draft, facts, render_notice(facts, context.zone)))
    now = utcnow()
    stored = await NotificationRepository(db).add(
        [
            NewNotice(
                person_id=draft.person_id,
                kind=draft.kind,
                cause=draft.cause,
                title=rendered.title,
                body=rendered.body,
                booking_id=draft.booking_id,
                session_id=draft.session.session_id,
            )
            for draft, _, rendered in made
        ],
        now,
    )
    created = len(stored)
    mails: list[NewMail] = []
    for draft, facts, rendered in made:
        # Only the notice this call stored (one per person and cause, even if drafted twice here).
        notification_id = stored.pop((draft.person_id, draft.cause), None)
        email = to[draft.person_id].email
        if notification_id is not None and email is not None:
            name = to[draft.person_id].display_name or None
            mails.append(NewMail(notification_id, draft.person_id, email, name, rendered, facts))
    await MailRepository(db).enqueue(mails, now)
    return created


async def list_notifications(
    db: AsyncSession, principal: Principal, page: PageParams, *, unread: bool
) -> Page[NotificationOut]:
    rows, next_cursor = await NotificationRepository(db).page(principal.person_id, page, unread=unread)
    return Page(items=[NotificationOut.model_validate(row) for row in rows], next_cursor=next_cursor)


async def mark_read(db: AsyncSession, principal: Principal, notification_id: UUID) -> NotificationOut:
    row = await NotificationRepository(db).mark_read(notification_id, principal.person_id, utcnow())
    if row is None:
        raise NotFound("Notification not found")
    return NotificationOut.model_validate(row)
