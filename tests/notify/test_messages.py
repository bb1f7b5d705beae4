"""Notices in words (zh-CN and en, text and HTML), the attachments of their mails, and the check-in QR image
read back by a real decoder."""

import struct
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import zxingcpp

from services.notify.messages import (
    CHECKIN_QR_CID,
    Language,
    NoticeFacts,
    NoticeKind,
    SessionFacts,
    notice_attachments,
    render_notice,
)
from services.notify.messages.qr import qr_png

SHANGHAI = ZoneInfo("Asia/Shanghai")
CODE = "Qm9vay1tZS1pbi1wbGVhc2UtdGhhbmtz"  # 32 URL-safe characters, like booking's codes


def session_facts(**changes: Any) -> SessionFacts:
    """Thursday 3 December 2026, 19:00-20:30 in Shanghai, at the city library."""
    facts = SessionFacts(
        session_id=UUID("00000000-0000-7000-8000-000000000001"),
        title={"zh-CN": "宋词夜读", "en": "Song Poetry Night Reading"},
        starts_at=datetime(2026, 12, 3, 11, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 3, 12, 30, tzinfo=UTC),
        place_name={"zh-CN": "杭州图书馆（总馆）", "en": "Hangzhou Library (Main Building)"},
        address="杭州市上城区解放东路58号",
        lat=30.2453,
        lon=120.2108,
        sequence=3,
        status="scheduled",
    )
    return replace(facts, **changes)


def notice_facts(kind: NoticeKind = "booking_confirmed", language: Language = "zh-CN", **changes: Any) -> NoticeFacts:
    facts = NoticeFacts(
        kind=kind,
        language=language,
        display_name="王芳",
        session=session_facts(),
        booking_id=UUID("00000000-0000-7000-8000-0000000000b1"),
        seats=2,
        checkin_code=None,
        waitlist_position=None,
        cancelled_by=None,
        minutes_before=None,
        previous=None,
        cancel_reason=None,
    )
    return replace(facts, **changes)


# Each kind with the facts it carries, and words its title says in each language.
KINDS: dict[NoticeKind, tuple[dict[str, Any], str, str]] = {
    "booking_confirmed": ({"checkin_code": CODE}, "预约成功", "Booking confirmed"),
    "booking_waitlisted": ({"waitlist_position": 3}, "候补", "waitlist"),
    "waitlist_promoted": ({"checkin_code": CODE}, "候补成功", "You have a seat"),
    "booking_cancelled": ({"cancelled_by": "by_owner"}, "预约已取消", "Booking cancelled"),
    "session_changed": (
        {"previous": session_facts(starts_at=datetime(2026, 12, 2, 11, 0, tzinfo=UTC), sequence=2)},
        "活动变更",
        "Session changed",
    ),
    "session_cancelled": ({"cancel_reason": "讲师临时生病"}, "活动取消", "Session cancelled"),
    "reminder": ({"minutes_before": 24 * 60, "checkin_code": CODE}, "提醒", "Reminder"),
}
LOCAL_TIME = {"zh-CN": "2026年12月3日 周四 19:00–20:30", "en": "Thu 3 Dec 2026, 19:00–20:30 (Asia/Shanghai)"}
PLACE = {
    "zh-CN": "杭州图书馆（总馆），杭州市上城区解放东路58号",
    "en": "Hangzhou Library (Main Building), 杭州市上城区解放东路58号",
}
SESSION_TITLE = {"zh-CN": "宋词夜读", "en": "Song Poetry Night Reading"}


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_says_what_when_and_where_in_both_languages(kind: NoticeKind, language: Language) -> None:
    changes, zh_word, en_word = KINDS[kind]
    notice = render_notice(notice_facts(kind, language, **changes), SHANGHAI)

    assert "\n" not in notice.title
    assert (zh_word if language == "zh-CN" else en_word) in notice.title
    assert SESSION_TITLE[language] in notice.title
    for text in (notice.body, notice.html):
        assert SESSION_TITLE[language] in text
        assert LOCAL_TIME[language] in text
        assert PLACE[language] in text
        assert ("王芳，您好" if language == "zh-CN" else "Hello 王芳") in text
    assert notice.html.startswith("<!DOCTYPE html>")
    assert f'lang="{language}"' in notice.html
    # The other language's words stay out.
    assert SESSION_TITLE["en" if language == "zh-CN" else "zh-CN"] not in notice.body


@pytest.mark.parametrize("kind", ["booking_confirmed", "waitlist_promoted", "reminder"])
def test_a_check_in_code_is_shown_as_text_and_as_the_inline_qr_image(kind: NoticeKind) -> None:
    with_code = render_notice(notice_facts(kind, checkin_code=CODE, minutes_before=120), SHANGHAI)
    without = render_notice(notice_facts(kind, minutes_before=120), SHANGHAI)

    assert f"签到码：{CODE}" in with_code.body
    assert f'src="cid:{CHECKIN_QR_CID}"' in with_code.html
    assert CHECKIN_QR_CID == "checkin-qr"
    assert "cid:" not in without.html
    assert "签到码" not in without.body


def test_a_confirmation_counts_seats_in_each_language() -> None:
    assert "共 2 个座位" in render_notice(notice_facts(), SHANGHAI).body
    assert "(2 seats)" in render_notice(notice_facts(language="en"), SHANGHAI).body
    assert "(1 seat)" in render_notice(notice_facts(language="en", seats=1), SHANGHAI).body


def test_a_waitlisted_notice_gives_the_position() -> None:
    zh = render_notice(notice_facts("booking_waitlisted", waitlist_position=3), SHANGHAI)
    en = render_notice(notice_facts("booking_waitlisted", "en", waitlist_position=3), SHANGHAI)

    assert "已进入候补" in zh.title
    assert "排第 3 位" in zh.body
    assert "候补位次：3" in zh.body
    assert "at position 3" in en.body


@pytest.mark.parametrize(
    ("cancelled_by", "zh", "en"),
    [
        ("by_owner", "您已取消“宋词夜读”的预约", "You cancelled your booking"),
        ("by_org_admin", "您所在机构的管理员取消了", "An administrator of your organization cancelled"),
        ("session_cancelled", "主办方取消了“宋词夜读”", "The host cancelled “Song Poetry Night Reading”"),
    ],
)
def test_a_cancellation_says_who_cancelled(cancelled_by: str, zh: str, en: str) -> None:
    assert zh in render_notice(notice_facts("booking_cancelled", cancelled_by=cancelled_by), SHANGHAI).body
    assert en in render_notice(notice_facts("booking_cancelled", "en", cancelled_by=cancelled_by), SHANGHAI).body


def test_a_moved_session_shows_the_time_before_and_after() -> None:
    earlier = session_facts(
        starts_at=datetime(2026, 12, 2, 11, 0, tzinfo=UTC), ends_at=datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    )
    zh = render_notice(notice_facts("session_changed", previous=earlier), SHANGHAI)
    en = render_notice(notice_facts("session_changed", "en", previous=earlier), SHANGHAI)

    assert "时间：2026年12月2日 周三 19:00–20:00 → 2026年12月3日 周四 19:00–20:30" in zh.body
    assert "调整了“宋词夜读”的时间" in zh.body
    assert "When: Wed 2 Dec 2026, 19:00–20:00 → Thu 3 Dec 2026, 19:00–20:30 (Asia/Shanghai)" in en.body
    assert "changed the time of" in en.body
    assert "→" not in zh.body.split("地点：")[1]  # the place did not change


def test_a_session_moved_to_another_place_shows_both_places() -> None:
    online = session_facts(place_name=None, address=None, lat=None, lon=None)
    zh = render_notice(notice_facts("session_changed", previous=online), SHANGHAI)
    en = render_notice(notice_facts("session_changed", "en", session=online, previous=session_facts()), SHANGHAI)

    assert f"地点：线上活动，或地点待定 → {PLACE['zh-CN']}" in zh.body
    assert "调整了“宋词夜读”的地点" in zh.body
    assert f"Where: {PLACE['en']} → Online, or the place is still to be announced" in en.body
    assert "changed the place of" in en.body


def test_a_cancelled_session_gives_the_hosts_reason_escaped_in_html() -> None:
    reason = "Speaker ill <b>sorry</b> & see you soon"
    notice = render_notice(notice_facts("session_cancelled", "en", cancel_reason=reason), SHANGHAI)

    assert f"Reason: {reason}" in notice.body
    assert "Speaker ill &lt;b&gt;sorry&lt;/b&gt; &amp; see you soon" in notice.html
    assert "<b>" not in notice.html


@pytest.mark.parametrize(
    ("minutes", "zh", "en"),
    [
        (24 * 60, "明天", "tomorrow"),
        (2 * 24 * 60, "2天后", "in 2 days"),
        (120, "2小时后", "in 2 hours"),
        (60, "1小时后", "in 1 hour"),
        (90, "1小时30分钟后", "in 1 hour 30 minutes"),
        (15, "15分钟后", "in 15 minutes"),
    ],
)
def test_a_reminder_says_when_the_session_starts_as_people_say_it(minutes: int, zh: str, en: str) -> None:
    zh_notice = render_notice(notice_facts("reminder", minutes_before=minutes), SHANGHAI)
    en_notice = render_notice(notice_facts("reminder", "en", minutes_before=minutes), SHANGHAI)

    assert zh_notice.title == f"活动提醒：“宋词夜读”{zh}开始"
    assert en_notice.title == f"Reminder: Song Poetry Night Reading starts {en}"
    assert f"{zh}开始" in zh_notice.body
    assert f"starts {en}." in en_notice.body


def test_html_escapes_what_people_typed() -> None:
    hostile = session_facts(title={"en": "<script>alert('x')</script> & more"})
    notice = render_notice(notice_facts(language="en", session=hostile, display_name="<img src=x>"), SHANGHAI)

    assert "<script>" not in notice.html
    assert "<img src=x>" not in notice.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in notice.html
    assert "&lt;img src=x&gt;" in notice.html
    # Plain text is not HTML: it keeps the characters as typed.
    assert "<script>alert('x')</script> & more" in notice.body


def test_the_session_title_falls_back_to_the_other_language_then_any() -> None:
    english_only = session_facts(title={"en": "Tai Chi"})
    french_only = session_facts(title={"fr": "Atelier de poterie"})

    assert render_notice(notice_facts(session=english_only), SHANGHAI).title == "预约成功：Tai Chi"
    assert render_notice(
        notice_facts(language="en", session=session_facts(title={"zh-CN": "太极"})), SHANGHAI
    ).title == ("Booking confirmed: 太极")
    assert render_notice(notice_facts(session=french_only), SHANGHAI).title == "预约成功：Atelier de poterie"


def test_a_title_is_one_line_whatever_the_session_title_holds() -> None:
    notice = render_notice(notice_facts(session=session_facts(title={"zh-CN": "宋词\n夜读\r\n第二期"})), SHANGHAI)
    assert notice.title == "预约成功：宋词 夜读 第二期"


def test_a_session_without_a_place_is_online_or_to_be_announced() -> None:
    online = session_facts(place_name=None, address=None, lat=None, lon=None)
    assert "地点：线上活动，或地点待定" in render_notice(notice_facts(session=online), SHANGHAI).body
    assert (
        "Where: Online, or the place is still to be announced"
        in render_notice(notice_facts(language="en", session=online), SHANGHAI).body
    )


def test_times_are_local_to_the_zone_given_and_span_midnight() -> None:
    late = session_facts(
        starts_at=datetime(2026, 12, 3, 15, 0, tzinfo=UTC), ends_at=datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
    )
    berlin = ZoneInfo("Europe/Berlin")

    assert (
        "2026年12月3日 周四 23:00 – 2026年12月4日 周五 01:00"
        in render_notice(notice_facts(session=late), SHANGHAI).body
    )
    assert "Thu 3 Dec 2026, 12:00–13:30 (Europe/Berlin)" in render_notice(notice_facts(language="en"), berlin).body
    # Chinese readers assume Beijing time; another zone is named.
    assert "2026年12月3日 周四 12:00–13:30（Europe/Berlin）" in render_notice(notice_facts(), berlin).body


def test_without_a_name_the_greeting_stays_polite() -> None:
    assert render_notice(notice_facts(display_name=""), SHANGHAI).body.startswith("您好！")
    assert render_notice(notice_facts(language="en", display_name=""), SHANGHAI).body.startswith("Hello,")


@pytest.mark.parametrize(
    ("kind", "changes", "expected"),
    [
        ("booking_confirmed", {"checkin_code": CODE}, ["image/png", "text/calendar; method=PUBLISH; charset=utf-8"]),
        ("waitlist_promoted", {"checkin_code": CODE}, ["image/png", "text/calendar; method=PUBLISH; charset=utf-8"]),
        ("session_changed", {"checkin_code": CODE}, ["image/png", "text/calendar; method=PUBLISH; charset=utf-8"]),
        ("session_changed", {}, []),  # a waitlisted holder has no calendar event to move
        ("booking_waitlisted", {"waitlist_position": 1}, []),
        ("booking_cancelled", {"cancelled_by": "by_owner"}, ["text/calendar; method=CANCEL; charset=utf-8"]),
        ("session_cancelled", {}, ["text/calendar; method=CANCEL; charset=utf-8"]),
        ("reminder", {"checkin_code": CODE, "minutes_before": 120}, ["image/png"]),
    ],
)
def test_a_notices_mail_carries_the_qr_it_shows_and_the_calendar_change(
    kind: NoticeKind, changes: dict[str, Any], expected: list[str]
) -> None:
    attachments = notice_attachments(notice_facts(kind, **changes), SHANGHAI)

    assert [attachment.mime for attachment in attachments] == expected
    for attachment in attachments:
        if attachment.mime == "image/png":
            assert (attachment.filename, attachment.inline_cid) == ("checkin-qr.png", CHECKIN_QR_CID)
            assert attachment.content == qr_png(CODE)
        else:
            assert (attachment.filename, attachment.inline_cid) == ("invite.ics", None)
            assert attachment.content.startswith(b"BEGIN:VCALENDAR\r\n")


def test_no_calendar_without_a_booking() -> None:
    assert notice_attachments(notice_facts("session_cancelled", booking_id=None), SHANGHAI) == ()


@pytest.mark.parametrize("code", [CODE, "A", "https://learncity.example/c/" + "x" * 120, str(uuid4())])
def test_the_qr_png_decodes_to_the_code(code: str) -> None:
    pixels = _read_grey_png(qr_png(code))
    results = zxingcpp.read_barcodes(pixels)

    assert [(result.format, result.text) for result in results] == [(zxingcpp.BarcodeFormat.QRCode, code)]


def test_the_qr_png_is_big_enough_for_a_phone() -> None:
    pixels = _read_grey_png(qr_png(CODE))
    height, width = pixels.shape

    assert width == height
    # 8 pixels a module and a 4-module quiet zone: the top-left finder pattern starts 32 px in, 56 px wide.
    assert (pixels[:32, :] == 255).all()
    assert (pixels[32, 32 : 32 + 56] == 0).all()
    assert pixels[32, 32 + 56] == 255
    assert width >= (21 + 8) * 8


def _read_grey_png(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The pixels of a non-interlaced greyscale PNG of 1-bit samples (segno's output), 0 black / 255 white,
    read from the bytes themselves: signature, chunk CRCs, zlib stream, per-row filters."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    idat = b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + body) == crc
        if kind == b"IDAT":
            idat += body
        chunks[kind] = body
        position += 12 + length
    assert b"IEND" in chunks
    width, height, bit_depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (bit_depth, colour_type, interlace) == (1, 0, 0)
    stride = (width + 7) // 8
    raw = zlib.decompress(idat)
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        row = _unfilter(line[0], bytearray(line[1:]), previous)
        rows.append(row)
        previous = row
    bits = np.unpackbits(np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(height, stride), axis=1)[:, :width]
    return (bits * 255).astype(np.uint8)


def _unfilter(filter_type: int, line: bytearray, previous: bytes) -> bytes:
    """PNG row filters with one byte per pixel step (sub-byte samples)."""
    for i in range(len(line)):
        left = line[i - 1] if i else 0
        up, up_left = previous[i], previous[i - 1] if i else 0
        if filter_type == 1:
            line[i] = (line[i] + left) & 0xFF
        elif filter_type == 2:
            line[i] = (line[i] + up) & 0xFF
        elif filter_type == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif filter_type == 4:
            estimate = left + up - up_left
            nearest = min(
                (abs(estimate - left), 0, left), (abs(estimate - up), 1, up), (abs(estimate - up_left), 2, up_left)
            )
            line[i] = (line[i] + nearest[2]) & 0xFF
        else:
            assert filter_type == 0
    return bytes(line)
