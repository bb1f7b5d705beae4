"""Personal calendar feeds: a secret URL per person (rotated on request) serving their confirmed
sessions as RFC 5545 iCalendar, updated as sessions move or are cancelled."""

import hashlib
import secrets
from datetime import timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.calendar.repository import CalendarFeedRepository
from services.notify.context import NotifyContext
from services.notify.messages.calendar import FeedEntry, feed_ics
from services.notify.preferences.repository import PreferenceRepository
from services.notify.projection.repository import HoldingRepository
from services.notify.projection.service import session_facts
from shared.db import utcnow
from shared.errors import NotFound

# 256 random bits, URL-safe (43 characters).
_TOKEN_BYTES = 32
# How far back the feed keeps sessions attended, and at most how many sessions it holds.
_FEED_HISTORY = timedelta(days=180)
_FEED_LIMIT = 500
_FEED_NAMES = {"zh-CN": "学习城市", "en": "Learning City"}


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def new_feed_token(db: AsyncSession, person_id: UUID) -> str:
    """A fresh token for the person's feed; the previous one stops working."""
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    await CalendarFeedRepository(db).replace(person_id, _token_hash(token), utcnow())
    return token


async def feed(db: AsyncSession, context: NotifyContext, token: str) -> bytes:
    person_id = await CalendarFeedRepository(db).owner_of(_token_hash(token))
    if person_id is None:
        raise NotFound("Calendar feed not found")
    rows = await HoldingRepository(db).confirmed_sessions(
        person_id, ending_after=utcnow() - _FEED_HISTORY, scheduled_only=True, limit=_FEED_LIMIT
    )
    preference = await PreferenceRepository(db).get(person_id)
    language = preference.language if preference is not None else context.settings.default_language
    entries = [FeedEntry(booking_id=row.booking_id, session=session_facts(row), seats=row.seats) for row in rows]
    return feed_ics(entries, context.zone, name=_FEED_NAMES[language], language=language)
