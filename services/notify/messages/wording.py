"""Values formatted for a reader's language (times, durations, places), ready for the templates' sentences.
Fixed tables rather than the process locale, so a message reads the same on every machine."""

from datetime import datetime
from zoneinfo import ZoneInfo

from services.notify.messages.facts import Language, SessionFacts
from shared.schemas import pick_language

# Chinese readers take times as Beijing time; other zones are named.
_ZONE_CHINESE_READERS_ASSUME = "Asia/Shanghai"
_ZH_WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MINUTES_PER_DAY = 24 * 60


def session_title(session: SessionFacts, language: Language) -> str:
    """In the reader's language, else the other one, else any translation there is."""
    return pick_language(session.title, language) or ""


def time_range(
    starts_at: datetime, ends_at: datetime, timezone: ZoneInfo, language: Language, *, name_zone: bool = True
) -> str:
    """Date, weekday and the times from and to, in the zone: "Thu 3 Dec 2026, 19:00" and so on. English
    names the zone, Chinese only when it is not the one its readers assume."""
    start, end = starts_at.astimezone(timezone), ends_at.astimezone(timezone)
    day = _zh_day if language == "zh-CN" else _en_day_before_time
    if start.date() == end.date():
        text = f"{day(start)} {start:%H:%M}–{end:%H:%M}"
    else:
        text = f"{day(start)} {start:%H:%M} – {day(end)} {end:%H:%M}"
    return _naming_zone(text, timezone, language) if name_zone else text


def moment(at: datetime, timezone: ZoneInfo, language: Language) -> str:
    """One point in time, in the zone: "Thu 10 Dec 2026, 19:00 (Asia/Shanghai)", "2026年12月10日 周四 19:00"."""
    local = at.astimezone(timezone)
    day = _zh_day if language == "zh-CN" else _en_day_before_time
    return _naming_zone(f"{day(local)} {local:%H:%M}", timezone, language)


def _naming_zone(text: str, timezone: ZoneInfo, language: Language) -> str:
    """English names the zone, Chinese only when it is not the one its readers assume."""
    if language == "zh-CN":
        return text if timezone.key == _ZONE_CHINESE_READERS_ASSUME else f"{text}（{timezone.key}）"
    return f"{text} ({timezone.key})"


def _zh_day(moment: datetime) -> str:
    return f"{moment.year}年{moment.month}月{moment.day}日 {_ZH_WEEKDAYS[moment.weekday()]}"


def _en_day_before_time(moment: datetime) -> str:
    return f"{_EN_WEEKDAYS[moment.weekday()]} {moment.day} {_EN_MONTHS[moment.month - 1]} {moment.year},"


def place(session: SessionFacts, language: Language) -> str | None:
    """The place's name and address, or None when the session has no place (online, or not yet known)."""
    parts = [part for part in (pick_language(session.place_name, language), session.address) if part]
    return ("，" if language == "zh-CN" else ", ").join(parts) or None


def starts_in(minutes_before: int | None, language: Language) -> str:
    """How long before the session a reminder goes out, as a reader says it: "tomorrow", "in 2 hours",
    "明天", "2小时后" (a reminder a whole day ahead always lands on the day before, at the same time)."""
    if not minutes_before or minutes_before < 1:
        return "即将" if language == "zh-CN" else "soon"
    days, rest = divmod(minutes_before, _MINUTES_PER_DAY)
    hours, minutes = divmod(minutes_before, 60)
    if language == "zh-CN":
        if not rest:
            return "明天" if days == 1 else f"{days}天后"
        if not minutes:
            return f"{hours}小时后"
        return f"{hours}小时{minutes}分钟后" if hours else f"{minutes}分钟后"
    if not rest:
        return "tomorrow" if days == 1 else f"in {days} days"
    if not minutes:
        return f"in {_en_count(hours, 'hour')}"
    if hours:
        return f"in {_en_count(hours, 'hour')} {_en_count(minutes, 'minute')}"
    return f"in {_en_count(minutes, 'minute')}"


def _en_count(number: int, unit: str) -> str:
    return f"{number} {unit}" if number == 1 else f"{number} {unit}s"
