"""Who notices go to, and how: language, name, email address (if mail is wanted and possible) and
reminder offsets, from each person's preferences, orgs' contact (cached) and the defaults. Asked for all
the people of a batch at once: two queries, and the contacts not cached asked of orgs side by side."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.context import NotifyContext
from services.notify.messages import Language
from services.notify.models import AnyRow
from services.notify.peers import ContactCard, ask_each
from services.notify.preferences.repository import PreferenceRepository
from services.notify.recipients.repository import ContactRepository
from shared.db import utcnow
from shared.errors import ServiceUnavailable

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Recipient:
    person_id: UUID
    language: Language
    display_name: str
    # Where this person's mail goes; None: no mail (no address known, mail turned off, or no SMTP).
    email: str | None


async def contacts_of(
    db: AsyncSession, context: NotifyContext, person_ids: Collection[UUID]
) -> dict[UUID, ContactCard | None]:
    """orgs' contact card of each person (None: orgs does not know them): the cached one while fresh,
    else asked again. While orgs is down a stale card is better than none; with none, ServiceUnavailable
    propagates (the caller is retried later)."""
    repository = ContactRepository(db)
    now = utcnow()
    cached = await repository.of_people(person_ids)
    fresh_for = timedelta(seconds=context.settings.contact_cache_s)
    cards: dict[UUID, ContactCard | None] = {
        person_id: card for person_id, (card, fetched_at) in cached.items() if now - fetched_at < fresh_for
    }
    wanted = [person_id for person_id in person_ids if person_id not in cards]
    if not wanted:
        return cards

    async def ask(person_id: UUID) -> ContactCard | ServiceUnavailable | None:
        try:
            return await context.peers.contact(person_id)
        except ServiceUnavailable as exc:
            return exc

    answers = await ask_each(wanted, ask)
    learned: list[ContactCard] = []
    unknown: list[UUID] = []
    for person_id, answer in zip(wanted, answers, strict=True):
        if isinstance(answer, ServiceUnavailable):
            if person_id not in cached:
                raise answer
            logger.info("contact_stale_used", person_id=str(person_id))
            cards[person_id] = cached[person_id][0]
        elif answer is None:
            unknown.append(person_id)
            cards[person_id] = None
        else:
            learned.append(answer)
            cards[person_id] = answer
    await repository.store(learned, now)
    await repository.forget([person_id for person_id in unknown if person_id in cached])
    return cards


def language_of(preference: AnyRow | None, card: ContactCard | None, context: NotifyContext) -> Language:
    """The person's choice in notify, else what orgs knows (their choice or their registration's
    Accept-Language), else the service default."""
    if preference is not None:
        chosen: Language = preference.language
        return chosen
    if card is not None and card.language is not None:
        return card.language
    return context.settings.default_language


async def recipients(db: AsyncSession, context: NotifyContext, person_ids: Collection[UUID]) -> dict[UUID, Recipient]:
    preferences = await PreferenceRepository(db).of_people(person_ids)
    cards = await contacts_of(db, context, person_ids)
    found: dict[UUID, Recipient] = {}
    for person_id in person_ids:
        preference, card = preferences.get(person_id), cards[person_id]
        wants_mail = preference.email if preference is not None else True
        email = card.email if card is not None and wants_mail and context.settings.mail_enabled else None
        found[person_id] = Recipient(
            person_id=person_id,
            language=language_of(preference, card, context),
            display_name=card.display_name if card is not None else "",
            email=email or None,
        )
    return found


def reminder_offsets(preference: AnyRow | None, context: NotifyContext) -> tuple[int, ...]:
    if preference is not None:
        return tuple(preference.reminders_minutes_before)
    return tuple(context.settings.reminder_minutes_before)
