"""Notice preferences: saved choices, or the defaults (email on, the language orgs knows or the service
default, the default reminder offsets). Changing the offsets re-arms the person's unsent reminders."""

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.context import NotifyContext
from services.notify.preferences.repository import PreferenceRepository
from services.notify.preferences.schemas import PreferencesIn, PreferencesOut
from services.notify.recipients.service import contacts_of, language_of
from services.notify.reminders.service import rearm_person
from shared.auth import Principal
from shared.db import utcnow
from shared.errors import ServiceUnavailable

logger = structlog.get_logger(__name__)


async def get_preferences(db: AsyncSession, context: NotifyContext, principal: Principal) -> PreferencesOut:
    saved = await PreferenceRepository(db).get(principal.person_id)
    if saved is not None:
        return PreferencesOut(
            email=saved.email, language=saved.language, reminders_minutes_before=saved.reminders_minutes_before
        )
    try:
        card = (await contacts_of(db, context, [principal.person_id]))[principal.person_id]
    except ServiceUnavailable:
        card = None  # the defaults without orgs' word on the language: better than no answer
        logger.info("preferences_default_language_without_orgs", person_id=str(principal.person_id))
    return PreferencesOut(
        email=True,
        language=language_of(None, card, context),
        reminders_minutes_before=list(context.settings.reminder_minutes_before),
    )


async def put_preferences(
    db: AsyncSession, context: NotifyContext, principal: Principal, body: PreferencesIn
) -> PreferencesOut:
    now = utcnow()
    saved = await PreferenceRepository(db).save(
        principal.person_id,
        email=body.email,
        language=body.language,
        reminders=body.reminders_minutes_before,
        now=now,
    )
    await rearm_person(db, context, principal.person_id, now)
    return PreferencesOut(
        email=saved.email, language=saved.language, reminders_minutes_before=saved.reminders_minutes_before
    )
