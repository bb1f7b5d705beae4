"""notify's settings as operators write them (environment variables)."""

import pytest
from pydantic import ValidationError

from services.notify.settings import NotifySettings


def test_defaults() -> None:
    settings = NotifySettings()
    assert settings.smtp_url == "" and not settings.mail_enabled
    assert settings.reminder_minutes_before == [1440, 120]
    assert settings.timezone == "Asia/Shanghai" and settings.default_language == "zh-CN"
    assert settings.workers_enabled and settings.event_subscriptions == {}
    assert settings.invitation_url == "http://127.0.0.1:8000/join?token={token}"


@pytest.mark.parametrize(("raw", "parsed"), [("[60, 5]", [60, 5]), ("60,5,60", [60, 5]), ("1", [1]), ("[]", [])])
def test_reminder_offsets_from_the_environment(monkeypatch: pytest.MonkeyPatch, raw: str, parsed: list[int]) -> None:
    monkeypatch.setenv("NOTIFY_REMINDER_MINUTES_BEFORE", raw)
    assert NotifySettings().reminder_minutes_before == parsed


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NOTIFY_REMINDER_MINUTES_BEFORE", "0"),
        ("NOTIFY_TIMEZONE", "Mars/Olympus_Mons"),
        ("NOTIFY_SMTP_URL", "http://mail.example.org"),
        ("NOTIFY_SMTP_URL", "smtp://"),
        ("NOTIFY_PUBLIC_BASE_URL", "learn.example.org"),
        ("NOTIFY_DEFAULT_LANGUAGE", "fr"),
        ("NOTIFY_MAIL_MAX_ATTEMPTS", "0"),
        ("NOTIFY_INVITATION_URL", "https://learn.example.org/join"),
        ("NOTIFY_INVITATION_URL", "learn.example.org/join?token={token}"),
    ],
)
def test_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        NotifySettings()


def test_urls_are_tidied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SMTP_URL", " smtps://user:secret@mail.example.org:465 ")
    monkeypatch.setenv("NOTIFY_PUBLIC_BASE_URL", "https://learn.example.org/")
    monkeypatch.setenv("NOTIFY_INVITATION_URL", " https://learn.example.org/join/{token} ")
    settings = NotifySettings()
    assert settings.smtp_url == "smtps://user:secret@mail.example.org:465" and settings.mail_enabled
    assert settings.public_base_url == "https://learn.example.org"
    assert settings.invitation_url == "https://learn.example.org/join/{token}"
