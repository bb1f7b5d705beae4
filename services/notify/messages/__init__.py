"""What notify says, and how: notices and invitations in zh-CN and en (plain text and HTML), bookings as
iCalendar, check-in codes as QR images, and the attachments of a notice's mail."""

from services.notify.messages.attachments import notice_attachments
from services.notify.messages.facts import (
    CancelledBy,
    InvitationFacts,
    Language,
    NoticeFacts,
    NoticeKind,
    RenderedNotice,
    SessionFacts,
)
from services.notify.messages.render import CHECKIN_QR_CID, render_invitation, render_notice

__all__ = [
    "CHECKIN_QR_CID",
    "CancelledBy",
    "InvitationFacts",
    "Language",
    "NoticeFacts",
    "NoticeKind",
    "RenderedNotice",
    "SessionFacts",
    "notice_attachments",
    "render_invitation",
    "render_notice",
]
