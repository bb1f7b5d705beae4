"""Notices in words: the language's template (templates/<language>.j2) says what each kind of notice says,
the layouts (templates/notice.txt, notice.html) how a notice is laid out; this module picks the facts to
show and formats their values (wording.py)."""

import functools
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from services.notify.messages import wording
from services.notify.messages.facts import Language, NoticeFacts, RenderedNotice

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
    # One line whatever a session title holds: the title is also the mail's Subject header.
    title = " ".join(str(words["title"]).split())
    layout = words | {
        "language": language,
        "title": title,
        "rows": rows,
        "qr_src": f"cid:{CHECKIN_QR_CID}" if facts.checkin_code else None,
    }
    return RenderedNotice(
        title=title,
        body=_templates.get_template("notice.txt").render(layout).strip(),
        html=_templates.get_template("notice.html").render(layout),
    )
