"""Invitations by email: orgs' `invitation.created` becomes one mail to the invited address (no inbox notice),
in zh-CN or en, text and HTML, carrying the single-use link; once per invitation whatever the redelivery or
the number of notify replicas; and notify forgets the token (and the address) once the mail is sent or
given up."""

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from services.notify.app import create_app as create_notify_app
from services.notify.invitations.service import invitation_language, invitation_link
from services.notify.messages import InvitationFacts, Language, render_invitation
from shared.events.schemas import EventEnvelope, InvitationCreated
from shared.ids import new_id
from tests.notify.conftest import (
    INTERNAL,
    NOTIFY_EVENTS,
    EventSender,
    SmtpSink,
    naming,
    rows,
    scalar,
    send_mail,
)
from tests.support import InProcessTransport

SHANGHAI = ZoneInfo("Asia/Shanghai")
SCHOOL = {"zh-CN": "拱墅区社区学校", "en": "Gongshu Community School"}
# Thursday 10 January 2030, 10:00 in Shanghai.
EXPIRES_AT = datetime(2030, 1, 10, 2, 0, tzinfo=UTC)
EXPIRY = {"zh-CN": "2030年1月10日 周四 10:00", "en": "Thu 10 Jan 2030, 10:00 (Asia/Shanghai)"}
# NOTIFY_INVITATION_URL's default (the test apps keep it).
JOIN = "http://127.0.0.1:8000/join?token="


def invited(email: str, **changes: Any) -> InvitationCreated:
    invitation = InvitationCreated(
        invitation_id=new_id(),
        organization_id=new_id(),
        organization_name=SCHOOL,
        email=email,
        role="coordinator",
        token=secrets.token_urlsafe(32),
        expires_at=EXPIRES_AT,
        invited_by_name="王芳",
        language="en",
    )
    return invitation.model_copy(update=changes)


def invitation_event(sender: EventSender, invitation: InvitationCreated) -> EventEnvelope:
    """As orgs emits it; each call is a new event (a new id, another aggregate), as a re-emitted one would be."""
    return sender.envelope("invitation.created", "orgs", new_id(), invitation)


def texts(message: EmailMessage) -> tuple[str, str]:
    """The plain text and HTML parts of a mail."""
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    return plain.get_content(), html.get_content()


async def invitation_mails(app: FastAPI) -> list[Any]:
    return await rows(
        app,
        "SELECT invitation_id, status, attempts, to_address, subject, text_body, html_body, last_error,"
        " person_id, notification_id FROM notify.mails WHERE invitation_id IS NOT NULL ORDER BY created_at",
    )


# ---- words ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_an_invitation_says_who_invites_whom_where_as_what_and_until_when(language: Language) -> None:
    link = f"{JOIN}Tok3n_-x"
    facts = InvitationFacts(
        language=language,
        organization_name=SCHOOL,
        role="admin",
        invited_by_name="王芳",
        expires_at=EXPIRES_AT,
        link=link,
    )
    mail = render_invitation(facts, SHANGHAI)

    if language == "zh-CN":
        title = "邀请您加入“拱墅区社区学校”"
        lead = "王芳邀请您以管理员身份加入学习型城市平台上的“拱墅区社区学校”。"
        lines = [
            f"接受邀请：{link}",
            "机构：拱墅区社区学校",
            "身份：管理员",
            "邀请人：王芳",
            f"有效期至：{EXPIRY[language]}",
        ]
    else:
        title = "Invitation to join Gongshu Community School on Learning City"
        lead = "王芳 invites you to join “Gongshu Community School” on Learning City as an administrator."
        lines = [
            f"Accept the invitation: {link}",
            "Organization: Gongshu Community School",
            "Role: administrator",
            "Invited by: 王芳",
            f"Valid until: {EXPIRY[language]}",
        ]
    assert mail.title == title
    assert lead in mail.body and lead in mail.html
    body_lines = mail.body.splitlines()
    for line in lines:
        assert line in body_lines
    assert f'<a href="{link}"' in mail.html
    assert f'lang="{language}"' in mail.html
    assert SCHOOL["en" if language == "zh-CN" else "zh-CN"] not in mail.body


def test_an_invitation_without_an_inviter_still_reads_well() -> None:
    facts = InvitationFacts(
        language="en",
        organization_name={"zh-CN": "拱墅区社区学校"},
        role="member",
        invited_by_name=None,
        expires_at=EXPIRES_AT,
        link=f"{JOIN}t",
    )
    mail = render_invitation(facts, SHANGHAI)
    assert "You are invited to join “拱墅区社区学校” on Learning City as a member." in mail.body
    assert "Invited by" not in mail.body
    zh = render_invitation(InvitationFacts(**{**vars(facts), "language": "zh-CN"}), SHANGHAI)
    assert "诚邀您以成员身份加入" in zh.body


def test_an_invitation_escapes_what_people_typed_in_html() -> None:
    facts = InvitationFacts(
        language="en",
        organization_name={"en": "<b>Club</b> & friends"},
        role="member",
        invited_by_name="<script>x</script>",
        expires_at=EXPIRES_AT,
        link="https://learn.example.org/join?token=abc&lang=en",
    )
    mail = render_invitation(facts, SHANGHAI)
    assert "<script>" not in mail.html and "<b>Club" not in mail.html
    assert "&lt;b&gt;Club&lt;/b&gt; &amp; friends" in mail.html
    assert 'href="https://learn.example.org/join?token=abc&amp;lang=en"' in mail.html
    assert "<b>Club</b> & friends" in mail.body


@pytest.mark.parametrize(
    ("tag", "default", "language"),
    [
        ("zh-CN", "en", "zh-CN"),
        ("zh-TW", "en", "zh-CN"),
        ("EN-gb", "zh-CN", "en"),
        ("fr", "en", "en"),
        ("fr", "zh-CN", "zh-CN"),
        (None, "zh-CN", "zh-CN"),
    ],
)
def test_the_invitations_language_else_the_default(tag: str | None, default: Language, language: str) -> None:
    assert invitation_language(tag, default) == language


def test_the_link_carries_the_token_where_the_template_says() -> None:
    assert invitation_link("https://learn.example.org/join/{token}?from=mail", "a/b+c") == (
        "https://learn.example.org/join/a%2Fb%2Bc?from=mail"
    )


# ---- mail -------------------------------------------------------------------------------------------------


async def test_each_invitation_is_mailed_in_its_language_with_its_link_and_no_notice(
    mailing: SmtpSink, apps: dict[str, FastAPI], sender: EventSender
) -> None:
    notify = apps["notify"]
    english = invited("amy@example.org", language="en")
    chinese = invited("xiaoming@example.org", language="zh-CN")
    unsaid = invited("someone@example.org", language=None)  # NOTIFY_DEFAULT_LANGUAGE: zh-CN
    outcomes = await sender.deliver(*(invitation_event(sender, i) for i in (english, chinese, unsaid)))
    assert outcomes == ["applied"] * 3

    await send_mail(notify)
    (en,) = mailing.to("amy@example.org")
    assert en["Subject"] == "Invitation to join Gongshu Community School on Learning City"
    text, html = texts(en)
    assert f"Accept the invitation: {JOIN}{english.token}" in text
    assert f'href="{JOIN}{english.token}"' in html
    assert "as a coordinator" in text and EXPIRY["en"] in text and "王芳" in text

    for invitation, address in ((chinese, "xiaoming@example.org"), (unsaid, "someone@example.org")):
        (zh,) = mailing.to(address)
        assert zh["Subject"] == "邀请您加入“拱墅区社区学校”"
        text, html = texts(zh)
        assert f"接受邀请：{JOIN}{invitation.token}" in text
        assert f'href="{JOIN}{invitation.token}"' in html
        assert "以协调员身份加入" in text and EXPIRY["zh-CN"] in text
    assert len(mailing.messages) == 3
    assert await scalar(notify, "SELECT count(*) FROM notify.notifications") == 0


async def test_once_sent_notify_keeps_neither_the_token_nor_the_address(
    mailing: SmtpSink, apps: dict[str, FastAPI], sender: EventSender
) -> None:
    notify = apps["notify"]
    invitation = invited("keep.nothing@example.org")
    await sender.deliver(invitation_event(sender, invitation))
    (queued,) = await invitation_mails(notify)
    assert (queued.status, queued.to_address, queued.person_id, queued.notification_id) == (
        "pending",
        "keep.nothing@example.org",
        None,
        None,
    )
    assert invitation.token in queued.text_body and invitation.token in queued.html_body

    await send_mail(notify)
    assert len(mailing.to("keep.nothing@example.org")) == 1
    (sent,) = await invitation_mails(notify)
    assert sent.invitation_id == invitation.invitation_id and sent.status == "sent"
    assert (sent.to_address, sent.subject, sent.text_body, sent.html_body) == (None, None, None, None)
    assert await naming(notify, invitation.token, "keep.nothing@example.org") == {}


async def test_a_redelivered_or_re_emitted_invitation_is_mailed_once(
    mailing: SmtpSink, apps: dict[str, FastAPI], sender: EventSender
) -> None:
    notify = apps["notify"]
    invitation = invited("once@example.org")
    first = invitation_event(sender, invitation)
    assert await sender.deliver(first) == ["applied"]
    assert await sender.deliver(first) == ["duplicate"]
    assert await sender.deliver(invitation_event(sender, invitation)) == ["applied"]  # same invitation, new event
    await send_mail(notify)
    # Again after the mail went (its row keeps the invitation's key, without the token).
    assert await sender.deliver(invitation_event(sender, invitation)) == ["applied"]
    await send_mail(notify)

    assert len(mailing.to("once@example.org")) == 1
    assert len(await invitation_mails(notify)) == 1


@pytest.fixture
async def replica(apps: dict[str, FastAPI], mailing_app: FastAPI) -> AsyncIterator[FastAPI]:
    """A second notify process on the same database, configured as the mailing one."""
    app = create_notify_app(mailing_app.state.settings, http_transport=InProcessTransport(apps))
    async with app.router.lifespan_context(app):
        yield app


async def deliver_to(app: FastAPI, *envelopes: EventEnvelope) -> list[str]:
    async with httpx.AsyncClient(transport=InProcessTransport({"notify": app})) as client:
        body = {"events": [envelope.model_dump(mode="json") for envelope in envelopes]}
        response = await client.post(NOTIFY_EVENTS, json=body, headers=INTERNAL)
    assert response.status_code == 200, response.text
    return [result["outcome"] for result in response.json()["results"]]


async def test_two_replicas_at_once_mail_an_invitation_once(
    mailing: SmtpSink, apps: dict[str, FastAPI], replica: FastAPI, sender: EventSender
) -> None:
    notify = apps["notify"]
    # The same event to both replicas at once: the inbox applies it once.
    same = invited("same.event@example.org")
    event = invitation_event(sender, same)
    outcomes = await asyncio.gather(deliver_to(notify, event), deliver_to(replica, event))
    assert sorted(outcomes) == [["applied"], ["duplicate"]]
    # Two events of one invitation (different ids and aggregates: the inbox cannot tell) to both at once:
    # both apply, and the UNIQUE invitation key leaves one mail.
    twice = invited("two.events@example.org")
    outcomes = await asyncio.gather(
        deliver_to(notify, invitation_event(sender, twice)), deliver_to(replica, invitation_event(sender, twice))
    )
    assert list(outcomes) == [["applied"], ["applied"]]
    assert [row.invitation_id for row in await invitation_mails(notify)] == [same.invitation_id, twice.invitation_id]

    # Both mail workers at once: each mail is leased by one of them.
    await asyncio.gather(notify.state.mail_queue.run_once(), replica.state.mail_queue.run_once())
    assert len(mailing.to("same.event@example.org")) == 1
    assert len(mailing.to("two.events@example.org")) == 1


async def test_a_refused_address_fails_alone_and_its_token_is_forgotten_too(
    mailing: SmtpSink, apps: dict[str, FastAPI], sender: EventSender
) -> None:
    notify = apps["notify"]
    rejected, deferred, fine = invited("reject@example.org"), invited("defer@example.org"), invited("fine@example.org")
    await sender.deliver(*(invitation_event(sender, i) for i in (rejected, deferred, fine)))

    await send_mail(notify)
    assert len(mailing.to("fine@example.org")) == 1
    by_id = {row.invitation_id: row for row in await invitation_mails(notify)}
    gone = by_id[rejected.invitation_id]
    assert (gone.status, gone.attempts, gone.to_address, gone.text_body) == ("failed", 1, None, None)
    assert "550" in gone.last_error and "<invitee>" in gone.last_error
    waiting = by_id[deferred.invitation_id]
    # Still to be tried: it keeps what it needs to be sent.
    assert (waiting.status, waiting.to_address) == ("pending", "defer@example.org")
    assert deferred.token in waiting.text_body

    await send_mail(notify, rounds=4, pause_s=0.15)  # NOTIFY_MAIL_MAX_ATTEMPTS is 3 here
    given_up = {row.invitation_id: row for row in await invitation_mails(notify)}[deferred.invitation_id]
    assert (given_up.status, given_up.attempts, given_up.to_address, given_up.html_body) == ("failed", 3, None, None)
    assert "451" in given_up.last_error
    assert await naming(notify, rejected.token, deferred.token, fine.token, "reject@", "defer@", "fine@") == {}
    assert len(mailing.messages) == 1


async def test_an_invitation_expired_before_it_arrives_is_not_mailed(
    mailing: SmtpSink, apps: dict[str, FastAPI], sender: EventSender
) -> None:
    late = invited("late@example.org", expires_at=datetime.now(UTC) - timedelta(minutes=1))
    assert await sender.deliver(invitation_event(sender, late)) == ["applied"]
    assert await invitation_mails(apps["notify"]) == []


async def test_without_smtp_an_invitation_queues_nothing(apps: dict[str, FastAPI], sender: EventSender) -> None:
    # The usual app: NOTIFY_SMTP_URL empty.
    assert await sender.deliver(invitation_event(sender, invited("nobody@example.org"))) == ["applied"]
    assert await invitation_mails(apps["notify"]) == []
