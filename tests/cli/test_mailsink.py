"""The dev mail sink of `learncity up`: real SMTP clients (the standard library's and aiosmtplib, which notify
uses) send to it, and each message appears as one whole `.eml` file that parses back to what was sent."""

import re
import smtplib
import socket
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from learncity.mailsink import mail_files, read_mail, running_sink, store
from tests.live import free_port

NAME = re.compile(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{8}\.eml")


def _message(to: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Learning City <noreply@learncity.localhost>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("Your seat is confirmed.")
    message.add_alternative("<p>Your seat is <b>confirmed</b>.</p>", subtype="html")
    message.add_attachment(
        b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", maintype="text", subtype="calendar", filename="x.ics"
    )
    return message


def test_a_message_sent_over_smtp_is_kept_whole_as_an_eml_file(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    with (
        running_sink(folder, port=free_port()) as sink,
        smtplib.SMTP("127.0.0.1", int(sink.smtp_url.rsplit(":", 1)[1])) as client,
    ):
        client.send_message(_message("Li Hua <li.hua@example.org>", "预约成功: West Lake reading"))
    [path] = mail_files(folder)
    assert NAME.fullmatch(path.name)
    assert [p.name for p in folder.iterdir()] == [path.name], "no temporary file is left behind"
    mail = read_mail(path)
    assert mail.subject == "预约成功: West Lake reading"
    assert mail.to == "Li Hua <li.hua@example.org>"
    body = mail.message.get_body(("plain",))
    assert body is not None and body.get_content().strip() == "Your seat is confirmed."
    html = mail.message.get_body(("html",))
    assert html is not None and "<b>confirmed</b>" in html.get_content()
    [attachment] = mail.message.iter_attachments()
    assert attachment.get_filename() == "x.ics"
    assert attachment.get_content_type() == "text/calendar"


async def test_notifys_client_reaches_it_and_files_sort_by_arrival(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    with running_sink(folder, port=free_port()) as sink:
        assert sink.smtp_url.startswith("smtp://127.0.0.1:")
        port = int(sink.smtp_url.rsplit(":", 1)[1])
        for number in range(3):
            await aiosmtplib.send(
                _message(f"p{number}@example.org", f"notice {number}"), hostname="127.0.0.1", port=port
            )
    assert [read_mail(path).subject for path in mail_files(folder)] == ["notice 0", "notice 1", "notice 2"]


def test_it_stops_listening_when_the_block_ends(tmp_path: Path) -> None:
    port = free_port()
    with running_sink(tmp_path / "mail", port=port):
        pass
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_a_message_appears_only_once_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Written under a hidden temporary name and renamed: a failed write leaves nothing a reader could take."""

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("learncity.mailsink.os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        store(tmp_path, b"Subject: half\r\n\r\nbody")
    assert list(tmp_path.iterdir()) == []


def test_no_folder_means_no_mails(tmp_path: Path) -> None:
    assert mail_files(tmp_path / "missing") == []
