"""Mail through a real SMTP server in this process (aiosmtpd): the message as it arrives, and what each kind
of failure means for the mail queue (rejected for good, or deferred)."""

import email
import email.policy
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import icalendar
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.notify.mailer import MailDeferred, MailRejected, OutgoingMail, SmtpMailer
from services.notify.messages import notice_attachments, render_notice
from services.notify.messages.qr import qr_png
from tests.live import free_port
from tests.notify.test_messages import CODE, SHANGHAI, notice_facts

SENDER = "学习型城市 <noreply@learncity.example>"
TIMEOUT_S = 5.0


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Inbox:
    """aiosmtpd handler: keeps what arrives; some recipients and contents get the refusals a server gives."""

    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user here"
        if address.startswith("busy@"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if any(address.startswith("spam@") for address in envelope.rcpt_tos):
            return "554 5.7.1 Message refused"
        with self.lock:
            self.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), envelope.original_content or b"")
            )
        return "250 Message accepted for delivery"


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


def _serve(handler: Inbox, **options: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def smtp_port(inbox: Inbox) -> Iterator[int]:
    yield from _serve(inbox)


def _confirmation(to: str = "ann@example.org") -> OutgoingMail:
    facts = notice_facts(checkin_code=CODE)
    notice = render_notice(facts, SHANGHAI)
    return OutgoingMail(
        to=to,
        subject=notice.title,
        text=notice.body,
        html=notice.html,
        attachments=notice_attachments(facts, SHANGHAI),
        to_name="王芳",
    )


def _mailer(url: str, **options: Any) -> SmtpMailer:
    return SmtpMailer(url, sender=SENDER, timeout_s=TIMEOUT_S, **options)


async def test_a_confirmation_arrives_whole(smtp_port: int, inbox: Inbox) -> None:
    mail = _confirmation()
    await _mailer(f"smtp://127.0.0.1:{smtp_port}").send(mail)

    (received,) = inbox.received
    assert received.mail_from == "noreply@learncity.example"
    assert received.rcpt_tos == ["ann@example.org"]
    # Non-ASCII headers travel RFC 2047-encoded...
    assert b"Subject: =?utf-8?" in received.content
    assert b"\xe9" not in received.content.split(b"\r\n\r\n")[0]
    message = received.message()
    # ...and decode back to the words.
    assert message["Subject"] == "预约成功：宋词夜读"
    assert message["To"].addresses[0].display_name == "王芳"
    assert message["To"].addresses[0].addr_spec == "ann@example.org"
    assert message["From"].addresses[0].display_name == "学习型城市"
    assert message["Message-ID"].endswith("@learncity.example>")
    assert abs(email.utils.parsedate_to_datetime(message["Date"]) - datetime.now(UTC)) < timedelta(minutes=1)

    assert message.get_content_type() == "multipart/mixed"
    alternative, calendar_part = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text, related = alternative.iter_parts()
    assert text.get_content_type() == "text/plain"
    # MIME text travels in canonical form: CRLF line ends.
    assert text.get_content().replace("\r\n", "\n").strip() == mail.text
    assert related.get_content_type() == "multipart/related"
    html, image = related.iter_parts()
    assert html.get_content_type() == "text/html"
    assert 'src="cid:checkin-qr"' in html.get_content()
    assert image.get_content_type() == "image/png"
    assert image["Content-ID"] == "<checkin-qr>"
    assert image.get_content() == qr_png(CODE)

    assert calendar_part.get_content_type() == "text/calendar"
    assert calendar_part.get_filename() == "invite.ics"
    assert calendar_part.get_param("method") == "PUBLISH"
    assert calendar_part.get_param("charset") == "utf-8"
    assert calendar_part.is_attachment()
    ics = calendar_part.get_payload(decode=True)
    assert isinstance(ics, bytes)
    invite = icalendar.Calendar.from_ical(ics)
    (event,) = invite.events
    assert event.decoded("DTSTART") == datetime(2026, 12, 3, 19, 0, tzinfo=SHANGHAI)


async def test_a_mail_without_attachments_is_just_the_two_alternatives(smtp_port: int, inbox: Inbox) -> None:
    await _mailer(f"smtp://127.0.0.1:{smtp_port}").send(
        OutgoingMail("ann@example.org", "Hello", "plain", "<p>rich</p>")
    )

    message = inbox.received[0].message()
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["To"] == "ann@example.org"


async def test_a_refused_recipient_is_rejected_for_good(smtp_port: int, inbox: Inbox) -> None:
    with pytest.raises(MailRejected, match="550"):
        await _mailer(f"smtp://127.0.0.1:{smtp_port}").send(_confirmation("nobody@example.org"))
    assert inbox.received == []


async def test_refused_content_is_rejected_for_good(smtp_port: int) -> None:
    with pytest.raises(MailRejected, match="554"):
        await _mailer(f"smtp://127.0.0.1:{smtp_port}").send(_confirmation("spam@example.org"))


async def test_a_recipient_refused_for_now_is_deferred(smtp_port: int) -> None:
    with pytest.raises(MailDeferred, match="451"):
        await _mailer(f"smtp://127.0.0.1:{smtp_port}").send(_confirmation("busy@example.org"))


async def test_an_unusable_address_is_rejected_for_good(smtp_port: int, inbox: Inbox) -> None:
    with pytest.raises(MailRejected):
        await _mailer(f"smtp://127.0.0.1:{smtp_port}").send(_confirmation("not an address"))
    assert inbox.received == []


async def test_a_closed_port_is_deferred() -> None:
    with pytest.raises(MailDeferred):
        await _mailer(f"smtp://127.0.0.1:{free_port()}").send(_confirmation())


async def test_a_server_that_never_answers_is_deferred_after_the_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        mailer = SmtpMailer(f"smtp://127.0.0.1:{silent.getsockname()[1]}", sender=SENDER, timeout_s=0.3)
        started = datetime.now(UTC)
        with pytest.raises(MailDeferred):
            await mailer.send(_confirmation())
    assert datetime.now(UTC) - started < timedelta(seconds=3)


@pytest.mark.parametrize("url", ["http://127.0.0.1:25", "smtp://", "smtp:///no-host"])
def test_only_smtp_urls_are_accepted(url: str) -> None:
    with pytest.raises(ValueError, match="SMTP URL"):
        _mailer(url)


def _login_checker(expected: tuple[bytes, bytes]) -> Any:
    def check(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        accepted = isinstance(data, LoginPassword) and (data.login, data.password) == expected
        # handled=False: aiosmtpd then answers a failure with its 535 reply.
        return AuthResult(success=accepted, handled=False)

    return check


@pytest.fixture
def login_port(inbox: Inbox) -> Iterator[int]:
    # Login over plain text only here, on loopback, to check the URL's credentials.
    yield from _serve(
        inbox,
        authenticator=_login_checker((b"ann@learncity", b"p:ss/w@rd %")),
        auth_require_tls=False,
        auth_required=True,
    )


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_the_urls_credentials_are_percent_decoded(login_port: int, inbox: Inbox) -> None:
    await _mailer(f"smtp://ann%40learncity:p%3Ass%2Fw%40rd%20%25@127.0.0.1:{login_port}").send(_confirmation())
    assert len(inbox.received) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_a_failed_login_is_deferred_not_the_mails_fault(login_port: int) -> None:
    with pytest.raises(MailDeferred, match="535"):
        await _mailer(f"smtp://ann%40learncity:wrong@127.0.0.1:{login_port}").send(_confirmation())


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext  # trusts the server's self-signed certificate only


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(certificate_pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return Tls(server=server, client=ssl.create_default_context(cadata=certificate_pem.decode()))


@pytest.fixture
def starttls_port(inbox: Inbox, tls: Tls) -> Iterator[int]:
    yield from _serve(inbox, tls_context=tls.server, require_starttls=True)


async def test_starttls_when_the_url_says_so(starttls_port: int, inbox: Inbox, tls: Tls) -> None:
    await _mailer(f"smtp+starttls://127.0.0.1:{starttls_port}", tls_context=tls.client).send(_confirmation())
    assert inbox.received[0].message()["Subject"] == "预约成功：宋词夜读"


async def test_plain_smtp_never_upgrades_on_its_own(starttls_port: int, inbox: Inbox) -> None:
    # The server insists on TLS first: a server-wide refusal, not the mail's fault.
    with pytest.raises(MailDeferred, match="530"):
        await _mailer(f"smtp://127.0.0.1:{starttls_port}").send(_confirmation())
    assert inbox.received == []


async def test_an_untrusted_certificate_is_deferred(starttls_port: int) -> None:
    with pytest.raises(MailDeferred):
        await _mailer(f"smtp+starttls://127.0.0.1:{starttls_port}").send(_confirmation())


@pytest.fixture
def smtps_port(inbox: Inbox, tls: Tls) -> Iterator[int]:
    yield from _serve(inbox, ssl_context=tls.server)


async def test_implicit_tls_with_smtps(smtps_port: int, inbox: Inbox, tls: Tls) -> None:
    await _mailer(f"smtps://127.0.0.1:{smtps_port}", tls_context=tls.client).send(_confirmation())
    assert len(inbox.received) == 1
