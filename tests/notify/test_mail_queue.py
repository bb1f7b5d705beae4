"""Email: queued with the notice (in the person's language, the booking's .ics and the QR attached), sent
over SMTP to a real (in-process) server, retried with backoff, and one bad address never holds up others."""

import asyncio
import time
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import httpx
import icalendar
from fastapi import FastAPI
from sqlalchemy import text

from services.notify.app import create_app as create_notify_app
from services.notify.mail_queue.worker import MailQueue
from tests.notify.conftest import Bookings, Catalog, Mint, SmtpSink, put_contact, rows, scalar, send_mail
from tests.support import InProcessTransport


def parts(message: EmailMessage) -> dict[str, EmailMessage]:
    """A message's leaf parts by content type."""
    return {part.get_content_type(): part for part in message.walk() if not part.is_multipart()}


async def mail_rows(app: FastAPI, person_id: str) -> list[Any]:
    return await rows(
        app, "SELECT status, attempts, last_error FROM notify.mails WHERE person_id = :id", id=UUID(person_id)
    )


async def test_a_confirmation_mail_in_the_persons_language_with_ics_and_qr(
    client: httpx.AsyncClient,
    mailing: SmtpSink,
    apps: dict[str, FastAPI],
    catalog: Catalog,
    bookings: Bookings,
    mint: Mint,
) -> None:
    notify = apps["notify"]
    chinese, english = mint(), mint()
    await put_contact(notify, chinese, email="xiaoming@example.org", language="zh-CN", name="小明")
    await put_contact(notify, english, email="amy@example.org", language="zh-CN", name="Amy")
    chosen = {"email": True, "language": "en", "reminders_minutes_before": [120]}
    assert (await client.put("/v1/notifications/preferences", json=chosen, headers=english.headers)).status_code == 200
    session = await catalog.schedule()
    booking = await bookings.confirm(chinese.id, session.session_id)
    await bookings.confirm(english.id, session.session_id)

    await send_mail(notify)
    (zh,) = mailing.to("xiaoming@example.org")
    assert zh["Subject"] == "预约成功：西湖读书会"
    assert zh["To"].addresses[0].display_name == "小明"
    leaves = parts(zh)
    assert "小明" in leaves["text/plain"].get_content()
    assert "cid:checkin-qr" in leaves["text/html"].get_content()
    assert leaves["image/png"]["Content-ID"] == "<checkin-qr>"
    invite = icalendar.Calendar.from_ical(leaves["text/calendar"].get_content())
    (event,) = invite.walk("VEVENT")
    assert str(event["uid"]) == f"{booking.booking_id}@learncity"
    assert event.decoded("dtstart") == session.starts_at

    (en,) = mailing.to("amy@example.org")
    assert en["Subject"] == "Booking confirmed: West Lake reading circle"
    assert await scalar(notify, "SELECT count(*) FROM notify.mails WHERE status = 'sent'") == 2


async def test_no_mail_without_an_address_or_when_turned_off(
    client: httpx.AsyncClient,
    mailing: SmtpSink,
    apps: dict[str, FastAPI],
    catalog: Catalog,
    bookings: Bookings,
    mint: Mint,
) -> None:
    notify = apps["notify"]
    unknown, no_address, opted_out = mint(), mint(), mint()
    await put_contact(notify, no_address, email=None, language="en")
    await put_contact(notify, opted_out, email="quiet@example.org", language="en")
    chosen = {"email": False, "language": "en", "reminders_minutes_before": [120]}
    assert (
        await client.put("/v1/notifications/preferences", json=chosen, headers=opted_out.headers)
    ).status_code == 200
    session = await catalog.schedule()
    for person in (unknown, no_address, opted_out):
        await bookings.confirm(person.id, session.session_id)
    await send_mail(notify)
    assert mailing.messages == []
    assert await scalar(notify, "SELECT count(*) FROM notify.mails") == 0
    assert await scalar(notify, "SELECT count(*) FROM notify.notifications") == 3


async def test_without_smtp_no_mail_is_queued(
    apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    notify = apps["notify"]  # the usual app: NOTIFY_SMTP_URL empty
    person = mint()
    await put_contact(notify, person, email="someone@example.org", language="en")
    session = await catalog.schedule()
    await bookings.confirm(person.id, session.session_id)
    assert await scalar(notify, "SELECT count(*) FROM notify.mails") == 0
    assert await notify.state.mail_queue.run_once() == 0


async def test_a_failing_address_never_holds_up_the_others(
    mailing: SmtpSink, apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    notify = apps["notify"]
    rejected, deferred, fine = mint(), mint(), mint()
    await put_contact(notify, rejected, email="reject@example.org", language="en")
    await put_contact(notify, deferred, email="defer@example.org", language="en")
    await put_contact(notify, fine, email="fine@example.org", language="en")
    session = await catalog.schedule()
    for person in (rejected, deferred, fine):
        await bookings.confirm(person.id, session.session_id)

    await send_mail(notify)
    assert len(mailing.to("fine@example.org")) == 1
    (gone,) = await mail_rows(notify, rejected.id)
    assert (gone.status, gone.attempts) == ("failed", 1)
    assert "550" in gone.last_error
    (waiting,) = await mail_rows(notify, deferred.id)
    assert (waiting.status, waiting.attempts) == ("pending", 1)

    # Tried again after the backoff, up to NOTIFY_MAIL_MAX_ATTEMPTS (3 here), then given up.
    await send_mail(notify, rounds=4, pause_s=0.15)
    (given_up,) = await mail_rows(notify, deferred.id)
    assert (given_up.status, given_up.attempts) == ("failed", 3)
    assert "451" in given_up.last_error
    assert len(mailing.messages) == 1


async def test_a_mail_not_due_yet_waits(
    mailing: SmtpSink, apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    notify = apps["notify"]
    person = mint()
    await put_contact(notify, person, email="later@example.org", language="en")
    session = await catalog.schedule()
    await bookings.confirm(person.id, session.session_id)
    async with notify.state.database.sessionmaker.begin() as db:
        await db.execute(text("UPDATE notify.mails SET next_attempt_at = now() + interval '1 hour'"))
    assert await notify.state.mail_queue.run_once() == 0
    assert mailing.messages == []


async def test_the_running_mail_worker_sends_as_soon_as_a_mail_is_queued(
    apps: dict[str, FastAPI], mailing_app: FastAPI, smtp_sink: tuple[SmtpSink, int], catalog: Catalog, mint: Mint
) -> None:
    """Workers on, polling only every 30 s: the NOTIFY of the queuing transaction wakes the mail worker."""
    settings = mailing_app.state.settings.model_copy(update={"workers_enabled": True, "worker_poll_interval_s": 30.0})
    working = create_notify_app(settings, http_transport=InProcessTransport(apps))
    sink = smtp_sink[0]
    sink.messages.clear()
    usual = apps["notify"]
    async with working.router.lifespan_context(working):
        apps["notify"] = working
        try:
            await asyncio.sleep(0.5)  # the worker's first round (nothing due) and its LISTEN
            session = await catalog.schedule()
            person = mint()
            await put_contact(working, person, email="prompt@example.org", language="en")
            await Bookings(catalog.sender).confirm(person.id, session.session_id)
            for _ in range(100):  # 5 s
                if sink.to("prompt@example.org"):
                    break
                await asyncio.sleep(0.05)
        finally:
            apps["notify"] = usual
    assert sink.to("prompt@example.org"), "no mail within 5 s"


async def test_a_backlog_of_mails_goes_out_at_the_configured_pace(
    mailing: SmtpSink, apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    notify = apps["notify"]
    session = await catalog.schedule()
    for index in range(6):
        person = mint()
        await put_contact(notify, person, email=f"reader{index}@example.org", language="en")
        await bookings.confirm(person.id, session.session_id)
    settings = notify.state.settings.model_copy(update={"mail_per_second": 4.0})
    paced = MailQueue(notify.state.database, settings)

    started = time.monotonic()
    assert await paced.run_once() == 4  # a batch is one second's worth
    assert time.monotonic() - started >= 1.0  # ...and takes at least that second
    assert len(mailing.messages) == 4
    assert await paced.run_once() == 2  # the rest, and no wait after a batch that was not full
    assert len(mailing.messages) == 6
