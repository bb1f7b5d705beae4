"""A person's data in notify: all of it exported on request, and all of it erased with `person.erased`."""

from collections.abc import Collection
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.models import CalendarFeed, Contact, Holding, Mail, Notification, Preference, Reminder, table_of
from services.notify.notifications.repository import NotificationRepository
from services.notify.preferences.repository import PreferenceRepository
from services.notify.recipients.repository import ContactRepository
from services.notify.reminders.repository import ReminderRepository
from services.notify.sql import any_of

# Every notify table whose rows name a person, by its `person_id` (the projection of sessions names nobody).
_PERSONAL_TABLES = (Mail, Notification, Reminder, Preference, CalendarFeed, Contact, Holding)


async def erase_person(db: AsyncSession, person_id: UUID) -> None:
    for model in _PERSONAL_TABLES:
        table = table_of(model)
        await db.execute(delete(table).where(table.c.person_id == person_id))


async def forget_bookings(db: AsyncSession, booking_ids: Collection[UUID]) -> None:
    """Bookings anonymized by booking's erasure of their holder: notify keeps nothing of them."""
    if not booking_ids:
        return
    for model in (Reminder, Holding):
        table = table_of(model)
        await db.execute(delete(table).where(any_of(table.c.booking_id, booking_ids)))


async def export_person(db: AsyncSession, person_id: UUID) -> dict[str, Any]:
    preference = await PreferenceRepository(db).get(person_id)
    contact = (await ContactRepository(db).of_people([person_id])).get(person_id)
    feeds = table_of(CalendarFeed)
    feed_created_at = (
        await db.execute(select(feeds.c.created_at).where(feeds.c.person_id == person_id))
    ).scalar_one_or_none()
    return {
        "preferences": None
        if preference is None
        else {
            "email": preference.email,
            "language": preference.language,
            "reminders_minutes_before": preference.reminders_minutes_before,
            "updated_at": preference.updated_at,
        },
        "notifications": [
            {
                "id": row.id,
                "kind": row.kind,
                "title": row.title,
                "body": row.body,
                "booking_id": row.booking_id,
                "session_id": row.session_id,
                "created_at": row.created_at,
                "read_at": row.read_at,
            }
            for row in await NotificationRepository(db).of_person(person_id)
        ],
        "reminders": [
            {
                "booking_id": row.booking_id,
                "session_id": row.session_id,
                "minutes_before": row.minutes_before,
                "due_at": row.due_at,
                "sent_at": row.sent_at,
            }
            for row in await ReminderRepository(db).of_person(person_id)
        ],
        "calendar_feed": None if feed_created_at is None else {"created_at": feed_created_at},
        "contact": None
        if contact is None
        else {
            "email": contact[0].email,
            "display_name": contact[0].display_name,
            "language": contact[0].language,
            "fetched_at": contact[1],
        },
    }
