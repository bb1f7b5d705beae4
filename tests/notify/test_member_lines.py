"""Member lines (a seat of an organization block, named for a member) reach the member as their own booking,
told as a seat their organization booked for them, and their end (unassigned, left the organization) has
its own words; a no-show is recorded without a notice, and its booking drops out of reminders and moves."""

from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from shared.events.schemas import BookingCause
from shared.ids import new_id
from tests.notify.conftest import Bookings, Catalog, EventSender, Mint, hours_from_now, inbox, kinds, put_contact, rows

# What a member line's notices say, in each language ("西湖读书会" / "West Lake reading circle").
BOOKED_FOR_YOU = {
    "zh-CN": "您所在的机构为您预约了“西湖读书会”的一个座位",
    "en": "Your organization booked a seat for you at “West Lake reading circle”",
}
CANCELLED: dict[BookingCause, dict[str, str]] = {
    "unassigned": {
        "zh-CN": "机构预约的协调人已将您在“西湖读书会”的座位改派他人或收回",
        "en": "Your organization's coordinator gave your seat at “West Lake reading circle” to someone else or took "
        "it back",
    },
    "left_organization": {
        "zh-CN": "您已不是为您预约“西湖读书会”座位的机构的成员",
        "en": "You are no longer a member of the organization that booked your seat at “West Lake reading circle”",
    },
    "by_org_admin": {
        "zh-CN": "您所在的机构取消了为您预约的“西湖读书会”座位",
        "en": "Your organization cancelled the seat it booked for you at “West Lake reading circle”",
    },
}


def a_block() -> dict[str, UUID]:
    """What a member line carries of its block: the organization and the block's booking."""
    return {"organization_id": new_id(), "block_id": new_id()}


async def reminder_rows(app: FastAPI, booking_id: UUID) -> list[Any]:
    return await rows(app, "SELECT person_id FROM notify.reminders WHERE booking_id = :id", id=booking_id)


async def holding_status(app: FastAPI, booking_id: UUID) -> str:
    (row,) = await rows(app, "SELECT status FROM notify.holdings WHERE booking_id = :id", id=booking_id)
    status: str = row.status
    return status


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_a_member_line_is_told_as_a_seat_the_organization_booked_for_them(
    language: str,
    client: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    catalog: Catalog,
    bookings: Bookings,
    mint: Mint,
) -> None:
    notify = apps["notify"]
    member, coordinator = mint(), mint()
    for person in (member, coordinator):
        await put_contact(notify, person, email=None, language=language)
    session = await catalog.schedule()
    block = a_block()
    await bookings.confirm(coordinator.id, session.session_id, seats=5, organization_id=block["organization_id"])
    line = await bookings.confirm(member.id, session.session_id, **block)

    (notice,) = await inbox(client, member)
    assert notice["kind"] == "booking_confirmed"
    assert notice["booking_id"] == str(line.booking_id)
    assert BOOKED_FOR_YOU[language] in notice["body"]
    assert line.checkin_code is not None and line.checkin_code in notice["body"]
    # The block itself is the coordinator's usual booking.
    (block_notice,) = await inbox(client, coordinator)
    assert BOOKED_FOR_YOU[language] not in block_notice["body"]
    assert ("共 5 个座位" if language == "zh-CN" else "(5 seats)") in block_notice["body"]
    # The member is reminded of their own seat.
    assert {row.person_id for row in await reminder_rows(notify, line.booking_id)} == {UUID(member.id)}


async def test_a_line_made_when_its_waiting_block_is_promoted_is_still_booked_for_them(
    client: httpx.AsyncClient, catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    member = mint()  # no contact at orgs: the default language, zh-CN
    session = await catalog.schedule()
    await bookings.confirm(member.id, session.session_id, cause="promoted", **a_block())
    (notice,) = await inbox(client, member)
    assert notice["kind"] == "booking_confirmed"
    assert BOOKED_FOR_YOU["zh-CN"] in notice["body"]


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("cause", list(CANCELLED))
async def test_a_member_lines_end_says_why(
    cause: BookingCause,
    language: str,
    client: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    catalog: Catalog,
    bookings: Bookings,
    mint: Mint,
) -> None:
    notify = apps["notify"]
    member = mint()
    await put_contact(notify, member, email=None, language=language)
    session = await catalog.schedule()
    line = await bookings.confirm(member.id, session.session_id, **a_block())
    await bookings.cancel(line, cause)

    assert await kinds(client, member) == ["booking_confirmed", "booking_cancelled"]
    assert CANCELLED[cause][language] in (await inbox(client, member))[0]["body"]
    assert await reminder_rows(notify, line.booking_id) == []


async def test_a_no_show_tells_nobody_and_leaves_reminders_and_moves_behind(
    client: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    catalog: Catalog,
    bookings: Bookings,
    sender: EventSender,
    mint: Mint,
) -> None:
    notify = apps["notify"]
    absent, present, member = mint(), mint(), mint()
    session = await catalog.schedule(starts_at=hours_from_now(48))
    own = await bookings.confirm(absent.id, session.session_id)
    line = await bookings.confirm(member.id, session.session_id, **a_block())
    await bookings.confirm(present.id, session.session_id)
    assert await reminder_rows(notify, own.booking_id)

    # booking's sweep marks an own booking and a member line in one batch, as its relay sends them.
    own_absence, _ = bookings.event(
        "no_show", absent.id, session.session_id, booking_id=own.booking_id, cause="no_show"
    )
    line_absence, _ = bookings.event(
        "no_show",
        member.id,
        session.session_id,
        booking_id=line.booking_id,
        cause="no_show",
        organization_id=line.organization_id,
        block_id=line.block_id,
    )
    no_shows = [own_absence, line_absence]
    assert [envelope.type for envelope in no_shows] == ["booking.no_show"] * 2
    assert await sender.deliver(*no_shows) == ["applied", "applied"]

    for person, booking_id in ((absent, own.booking_id), (member, line.booking_id)):
        assert await kinds(client, person) == ["booking_confirmed"]
        assert await holding_status(notify, booking_id) == "no_show"
        assert await reminder_rows(notify, booking_id) == []
    # The host moves the session later on: only who still holds a seat is told and reminded.
    later = hours_from_now(72)
    await catalog.update(session, starts_at=later, ends_at=later + timedelta(hours=1))
    assert await kinds(client, present) == ["booking_confirmed", "session_changed"]
    for person, booking_id in ((absent, own.booking_id), (member, line.booking_id)):
        assert await kinds(client, person) == ["booking_confirmed"]
        assert await reminder_rows(notify, booking_id) == []
