"""Notices and invitations in words: the language's template (templates/<language>.j2) says what each kind
of notice (and an invitation) says, the layouts (templates/notice.txt, notice.html) how it is laid out; this
module picks the facts to show and formats their values (wording.py)."""

import functools
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from services.notify.messages import wording
from services.notify.messages.facts import InvitationFacts, Language, NoticeFacts, RenderedNotice
from shared.schemas import pick_language

# The Content-ID of the check-in QR image: the HTML shows `cid:checkin-qr` whenever the notice carries a
# check-in code, so its mail must carry the image (`notice_attachments` adds it).
CHECKIN_QR_CID = "checkin-qr"

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("services.notify.messages"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
# What a language template reads; a template asked only for its labels gets none of a notice's facts.
_NO_FACTS: dict[str, Any] = {
    "kind": None,
    "name": "",
    "session": "",
    "seats": None,
    "position": None,
    "cancelled_by": None,
    "starts_in": "",
    "code": None,
    "time_changed": False,
    "place_changed": False,
    "organization_seat": False,
    "organization": "",
    "role": None,
    "inviter": None,
}


def _words(language: Language, facts: dict[str, Any]) -> dict[str, Any]:
    return vars(_templates.get_template(f"{language}.j2").make_module(_NO_FACTS | facts))


@functools.cache
def _labelling(language: Language) -> tuple[dict[str, str], str]:
    words = _words(language, {})
    return words["labels"], words["colon"]


def detail_lines(language: Language, details: Iterable[tuple[str, str]]) -> str:
    """Details named by their label keys ("seats", "code", ...) as a notice shows them, one a line
    ("Seats: 2", and in Chinese with its full-width colon): calendar descriptions say things the way notices do."""
    labels, colon = _labelling(language)
    return "\n".join(f"{labels[key]}{colon}{value}" for key, value in details)


def render_notice(facts: NoticeFacts, timezone: ZoneInfo) -> RenderedNotice:
    session, language = facts.session, facts.language
    was = facts.previous or session
    time_changed = (was.starts_at, was.ends_at) != (session.starts_at, session.ends_at)
    place_changed = (was.place_name, was.address) != (session.place_name, session.address)
    words = _words(
        language,
        {
            "kind": facts.kind,
            "name": facts.display_name,
            "session": wording.session_title(session, language),
            "seats": facts.seats,
            "position": facts.waitlist_position,
            "cancelled_by": facts.cancelled_by,
            "organization_seat": facts.organization_seat,
            "starts_in": wording.starts_in(facts.minutes_before, language),
            "code": facts.checkin_code,
            "time_changed": time_changed,
            "place_changed": place_changed,
        },
    )
    labels: dict[str, str] = words["labels"]
    when = wording.time_range(session.starts_at, session.ends_at, timezone, language)
    if time_changed:
        when = f"{wording.time_range(was.starts_at, was.ends_at, timezone, language, name_zone=False)} → {when}"
    where = wording.place(session, language) or words["no_place"]
    if place_changed:
        where = f"{wording.place(was, language) or words['no_place']} → {where}"
    rows = [
        (labels["session"], wording.session_title(session, language)),
        (labels["when"], when),
        (labels["place"], where),
    ]
    if facts.seats is not None:
        rows.append((labels["seats"], str(facts.seats)))
    if facts.waitlist_position is not None:
        rows.append((labels["position"], str(facts.waitlist_position)))
    if facts.cancel_reason:
        rows.append((labels["reason"], facts.cancel_reason))
    if facts.checkin_code:
        rows.append((labels["code"], facts.checkin_code))
    return _laid_out(language, words, rows, qr_src=f"cid:{CHECKIN_QR_CID}" if facts.checkin_code else None)


def render_invitation(facts: InvitationFacts, timezone: ZoneInfo) -> RenderedNotice:
    """An invitation's mail: who invites the reader where and as what, the link, and until when it works."""
    language = facts.language
    organization = pick_language(facts.organization_name, language) or ""
    expires = wording.moment(facts.expires_at, timezone, language)
    words = _words(
        language,
        {
            "kind": "invitation",
            "organization": organization,
            "role": facts.role,
            "inviter": facts.invited_by_name,
        },
    )
    labels: dict[str, str] = words["labels"]
    rows = [(labels["organization"], organization), (labels["role"], words["role_name"])]
    if facts.invited_by_name:
        rows.append((labels["invited_by"], facts.invited_by_name))
    rows.append((labels["expires"], expires))
    return _laid_out(language, words, rows, link=facts.link)


def _laid_out(
    language: Language,
    words: dict[str, Any],
    rows: list[tuple[str, str]],
    *,
    qr_src: str | None = None,
    link: str | None = None,
) -> RenderedNotice:
    # One line whatever a session or organization name holds: the title is also the mail's Subject header.
    title = " ".join(str(words["title"]).split())
    layout = words | {"language": language, "title": title, "rows": rows, "qr_src": qr_src, "link": link}
    return RenderedNotice(
        title=title,
        body=_templates.get_template("notice.txt").render(layout).strip(),
        html=_templates.get_template("notice.html").render(layout),
    )
