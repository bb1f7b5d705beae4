"""The dev runner's mail sink: an SMTP server on loopback that keeps every message it receives as a `.eml` file.

`learncity up` starts it and points notify at it (`NOTIFY_SMTP_URL=smtp://127.0.0.1:<port>`), so the notices
notify mails can be read without a mail server: `learncity mails` lists them, and any mail program opens the
files. Each message is `<LEARNCITY_DATA_DIR>/mail/<UTC time>-<id>.eml`, exactly the bytes the client sent;
names sort by arrival.
"""

import contextlib
import email
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from learncity.postgres import data_dir

MAIL_SUFFIX = ".eml"


def mail_folder() -> Path:
    """Where `learncity up` keeps the dev mails: `<LEARNCITY_DATA_DIR>/mail`."""
    return data_dir() / "mail"


class EmlFolderHandler:
    """aiosmtpd handler: each accepted message becomes one `.eml` file in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        store(self.folder, envelope.original_content or b"")
        return "250 Message accepted for delivery"


def store(folder: Path, content: bytes) -> Path:
    """Write one message as `<UTC time>-<id>.eml`: into a hidden temporary file first, then renamed, so a
    reader looking for `*.eml` never sees half a message."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    path = folder / f"{stamp}-{secrets.token_hex(4)}{MAIL_SUFFIX}"
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return path


@dataclass(frozen=True)
class MailSink:
    """A running sink: where to send (`smtp_url`) and where the messages land (`folder`)."""

    smtp_url: str
    folder: Path


@contextlib.contextmanager
def running_sink(folder: Path, *, port: int) -> Iterator[MailSink]:
    """Serve SMTP on `127.0.0.1:port` (in a thread of its own) until the block ends."""
    controller = Controller(
        EmlFolderHandler(folder),
        hostname="127.0.0.1",
        port=port,
        # The greeting's name; without it aiosmtpd asks the resolver for this machine's FQDN, which can hang.
        server_hostname="learncity-dev-mail",
    )
    folder.mkdir(parents=True, exist_ok=True)
    controller.start()
    try:
        yield MailSink(smtp_url=f"smtp://127.0.0.1:{port}", folder=folder)
    finally:
        controller.stop()


@dataclass(frozen=True)
class StoredMail:
    path: Path
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def to(self) -> str:
        return str(self.message.get("To", ""))


def read_mail(path: Path) -> StoredMail:
    return StoredMail(path, email.message_from_bytes(path.read_bytes(), policy=policy.default))


def mail_files(folder: Path) -> list[Path]:
    """The messages in `folder`, oldest first (the names sort by arrival); none while it does not exist."""
    return sorted(folder.glob(f"*{MAIL_SUFFIX}")) if folder.is_dir() else []
