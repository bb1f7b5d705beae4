"""Mail over SMTP. `build_message` makes one notice a MIME message: text and HTML alternatives, the HTML's
inline images beside it in a multipart/related, files (the booking's invite.ics) attached. `SmtpMailer`
makes one attempt per call and says whether trying again can help; notify's mail queue keeps the retries
and their backoff."""

import email.policy
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import format_datetime, make_msgid, parseaddr
from ssl import SSLContext
from urllib.parse import unquote, urlsplit

import aiosmtplib

# URL scheme: (implicit TLS, STARTTLS required, default port). Plain `smtp://` never upgrades on its own:
# a dev sink or a relay on loopback; a URL that wants TLS says so.
_SCHEMES = {"smtp": (False, False, 25), "smtp+starttls": (False, True, 587), "smtps": (True, False, 465)}


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime: str  # with parameters when needed: "text/calendar; method=PUBLISH; charset=utf-8"
    inline_cid: str | None = None  # set: an image the HTML shows as `cid:<inline_cid>`, not a file to open


@dataclass(frozen=True)
class OutgoingMail:
    to: str  # the address alone
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()
    to_name: str | None = None  # the recipient's name in the To header


class MailError(Exception):
    pass


class MailRejected(MailError):
    """Permanent: this mail will not go through however often it is sent (a 5xx reply to its recipient or
    its content, an unusable address). Drop it."""


class MailDeferred(MailError):
    """Temporary: try again later (a 4xx reply, the server unreachable or slow, or a server-wide refusal
    such as failed login or TLS, which an operator fixes without the mail being at fault)."""


def build_message(mail: OutgoingMail, *, sender: str) -> EmailMessage:
    """Headers are encoded by the email package (RFC 2047 for non-ASCII subjects and names); lines end in
    CRLF as SMTP wants."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    message["To"] = Address(display_name=mail.to_name or "", addr_spec=mail.to)
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or None)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    for attachment in mail.attachments:
        maintype, subtype, params = _content_type(attachment.mime)
        if attachment.inline_cid:
            html.add_related(
                attachment.content,
                maintype=maintype,
                subtype=subtype,
                cid=f"<{attachment.inline_cid}>",
                disposition="inline",
                filename=attachment.filename,
                params=params,
            )
        else:
            message.add_attachment(
                attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename, params=params
            )
    return message


def _content_type(mime: str) -> tuple[str, str, dict[str, str]]:
    header = Message()
    header["Content-Type"] = mime
    params = dict(header.get_params(failobj=[])[1:])
    return header.get_content_maintype(), header.get_content_subtype(), params


class SmtpMailer:
    """Sends through the server of an `smtp://`, `smtp+starttls://` or `smtps://` URL, with optional
    percent-encoded `user:password@`; `timeout_s` bounds the connection and each command."""

    def __init__(self, url: str, *, sender: str, timeout_s: float, tls_context: SSLContext | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in _SCHEMES or not parts.hostname:
            raise ValueError(f"an SMTP URL is smtp://, smtp+starttls:// or smtps://host[:port], not {parts.scheme}://")
        implicit_tls, starttls, default_port = _SCHEMES[parts.scheme]
        self._hostname = parts.hostname
        self._port = parts.port or default_port
        self._implicit_tls = implicit_tls
        self._starttls = starttls
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._tls_context = tls_context  # None: the system's trusted certificates
        self._timeout_s = timeout_s
        self._sender = sender
        self._envelope_sender = parseaddr(sender)[1]

    async def send(self, mail: OutgoingMail) -> None:
        try:
            message = build_message(mail, sender=self._sender)
        except (ValueError, HeaderParseError) as error:
            raise MailRejected(f"unusable mail: {error}") from error
        try:
            await aiosmtplib.send(
                message,
                sender=self._envelope_sender,
                recipients=[mail.to],
                hostname=self._hostname,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._implicit_tls,
                start_tls=self._starttls,
                tls_context=self._tls_context,
                timeout=self._timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refusal.code for refusal in error.recipients]
            replies = "; ".join(f"{refusal.code} {refusal.message}" for refusal in error.recipients)
            if all(_permanent(code) for code in codes):
                raise MailRejected(f"recipient refused: {replies}") from error
            raise MailDeferred(f"recipient refused for now: {replies}") from error
        except aiosmtplib.SMTPDataError as error:
            reply = f"{error.code} {error.message}"
            raise (MailRejected(reply) if _permanent(error.code) else MailDeferred(reply)) from error
        except aiosmtplib.SMTPResponseException as error:
            # Greeting, HELO, login or sender refusals: the server or our setup, not this mail.
            raise MailDeferred(f"{error.code} {error.message}") from error
        except (aiosmtplib.SMTPException, OSError) as error:
            # Unreachable, timed out, disconnected, TLS failure (ssl.SSLError is an OSError).
            raise MailDeferred(f"{type(error).__name__}: {error}") from error


def _permanent(code: int) -> bool:
    return 500 <= code < 600
