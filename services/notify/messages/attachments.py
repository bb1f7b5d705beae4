"""What a notice's mail carries besides its words: the check-in QR its HTML shows, and the booking's
calendar event for the kinds that add, move or remove it in the person's calendar."""

from typing import Literal
from zoneinfo import ZoneInfo

from services.notify.mailer import Attachment
from services.notify.messages.calendar import booking_ics
from services.notify.messages.facts import NoticeFacts, NoticeKind
from services.notify.messages.qr import qr_png
from services.notify.messages.render import CHECKIN_QR_CID

_CALENDAR_METHODS: dict[NoticeKind, Literal["PUBLISH", "CANCEL"]] = {
    "booking_confirmed": "PUBLISH",
    "waitlist_promoted": "PUBLISH",
    "session_changed": "PUBLISH",
    "booking_cancelled": "CANCEL",
    "session_cancelled": "CANCEL",
}


def notice_attachments(facts: NoticeFacts, timezone: ZoneInfo) -> tuple[Attachment, ...]:
    """The QR image whenever the notice carries a check-in code (its HTML refers to `cid:checkin-qr`), and
    `invite.ics` when the notice changes the booking's calendar event. A session change updates the event
    only for confirmed holders, known by their check-in code: a waitlisted holder has no event to move."""
    attachments: list[Attachment] = []
    if facts.checkin_code:
        attachments.append(Attachment("checkin-qr.png", qr_png(facts.checkin_code), "image/png", CHECKIN_QR_CID))
    method = _CALENDAR_METHODS.get(facts.kind)
    if facts.kind == "session_changed" and not facts.checkin_code:
        method = None
    if method is not None and facts.booking_id is not None:
        attachments.append(
            Attachment(
                "invite.ics",
                booking_ics(facts, timezone, method=method),
                f"text/calendar; method={method}; charset=utf-8",
            )
        )
    return tuple(attachments)
