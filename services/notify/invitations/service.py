"""Invitations by email: orgs' `invitation.created` becomes one mail to the invited address (no inbox
notice: the invitee may have no account yet), in the invitation's language, with the link that carries its
single-use token. One mail per invitation, however often the event comes; the queue row forgets the token
once the mail is sent or given up (mail_queue)."""

from urllib.parse import quote

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.context import NotifyContext
from services.notify.mail_queue.repository import InvitationMail, MailRepository
from services.notify.messages import InvitationFacts, Language, render_invitation
from services.notify.settings import INVITATION_TOKEN
from shared.db import utcnow
from shared.events.schemas import InvitationCreated

logger = structlog.get_logger(__name__)

# Any Chinese variant reads the zh-CN mail (the only Chinese written), any English variant the en one.
_BY_PRIMARY_TAG: dict[str, Language] = {"zh": "zh-CN", "en": "en"}


def invitation_language(tag: str | None, default: Language) -> Language:
    return _BY_PRIMARY_TAG.get((tag or "").split("-")[0].lower(), default)


def invitation_link(url_template: str, token: str) -> str:
    return url_template.replace(INVITATION_TOKEN, quote(token, safe=""))


async def mail_invitation(db: AsyncSession, context: NotifyContext, invitation: InvitationCreated) -> None:
    settings = context.settings
    if not settings.mail_enabled:
        # Without SMTP nothing can reach the invitee: an admin sees the invitation unaccepted and can revoke it.
        logger.warning("invitation_not_mailed", invitation_id=str(invitation.invitation_id), reason="no SMTP URL")
        return
    now = utcnow()
    if invitation.expires_at <= now:
        # Delivered after its token expired (the relay was held up): the link would only be refused.
        logger.info("invitation_expired_before_mailing", invitation_id=str(invitation.invitation_id))
        return
    facts = InvitationFacts(
        language=invitation_language(invitation.language, settings.default_language),
        organization_name=invitation.organization_name,
        role=invitation.role,
        invited_by_name=invitation.invited_by_name,
        expires_at=invitation.expires_at,
        link=invitation_link(settings.invitation_url, invitation.token),
    )
    mail = InvitationMail(invitation.invitation_id, invitation.email, render_invitation(facts, context.zone))
    await MailRepository(db).enqueue_invitation(mail, now)
