"""A booking's one statement (`bookings.at_once`) and a batch of bookings (`bookings.batch_statements`) write
their `availability.changed` and `booking.*` outbox rows as SQL: pinned here to the rows
`shared.events.outbox.Outbox.emit` writes, so the relay, the catalog and notify cannot tell them apart."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.booking.bookings.at_once import confirmed_body
from services.booking.bookings.repository import BOOKING_COLUMNS, bookings
from services.booking.bookings.schemas import BookingCreate, BookingOut, BookingStatus
from services.booking.inventory.repository import Figures
from services.booking.models import SCHEMA
from services.booking.publishing import availability_changed, bookings_changed
from shared.db import driver_url
from shared.events.outbox import notify_channel
from shared.events.schemas import AvailabilityChanged, BookingChanged
from shared.ids import new_id
from tests.booking.conftest import CatalogStandIn, Mint, book, notices_for_notify


async def _rows(apps: dict[str, FastAPI], session_id: Any) -> list[dict[str, Any]]:
    outbox = apps["booking"].state.outbox._tables.outbox
    async with apps["booking"].state.database.sessionmaker() as db:
        result = await db.execute(select(outbox).where(outbox.c.aggregate_id == session_id).order_by(outbox.c.sequence))
        return [dict(row._mapping) for row in result.all()]


def _shape(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "present": sorted(name for name, value in row.items() if value is not None),
        "types": {name: type(value).__name__ for name, value in row.items()},
        "fixed": (row["subscriber"], row["type"], row["status"], row["attempts"]),
        "payload_keys": sorted(row["payload"]),
    }


async def test_statement_rows_match_outbox_emit_rows(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=1)  # scheduled: a row written by Outbox.emit
    await book(client, mint(), session.session_id)  # a batch's statement, confirmed
    await book(client, mint(), session.session_id)  # another, waitlisted
    async with apps["booking"].state.database.sessionmaker.begin() as db:  # Outbox.emit again
        await availability_changed(db, apps["booking"].state.outbox, Figures(session.session_id, 1, 1, 1))
    emitted, confirmed, waitlisted, emitted_again = await _rows(apps, session.session_id)
    assert [r["sequence"] for r in (emitted, confirmed, waitlisted, emitted_again)] == [1, 2, 3, 4]
    assert _shape(confirmed) == _shape(emitted) == _shape(waitlisted) == _shape(emitted_again)
    assert len({r["event_id"] for r in (emitted, confirmed, waitlisted)}) == 3
    assert AvailabilityChanged.model_validate(confirmed["payload"]) == AvailabilityChanged(
        session_id=session.session_id, capacity=1, confirmed_seats=1, seats_available=0, waitlist_length=0
    )
    assert AvailabilityChanged.model_validate(waitlisted["payload"]).waitlist_length == 1
    assert confirmed["payload"] == AvailabilityChanged.model_validate(confirmed["payload"]).model_dump(mode="json")


async def _notices_of(database_url: str, action: Callable[[], Awaitable[None]]) -> list[str]:
    """The NOTIFYs on booking's outbox channel while `action` runs (and a moment after its commit)."""
    listener = await asyncpg.connect(driver_url(database_url))
    notices: list[str] = []
    try:
        await listener.add_listener(notify_channel(SCHEMA), lambda *args: notices.append(args[2]))
        await action()
        await asyncio.sleep(0.5)
    finally:
        await listener.close()
    return notices


async def test_a_booking_wakes_an_idle_relay_at_commit(
    client: httpx.AsyncClient,
    catalog: CatalogStandIn,
    mint: Mint,
    database_url: str,
    deliver_events: Callable[[], Awaitable[int]],
) -> None:
    session = await catalog.schedule()
    await deliver_events()  # nothing due: the relay is idle

    async def booking() -> None:
        assert (await book(client, mint(), session.session_id)).status_code == 201

    assert await _notices_of(database_url, booking) == [notify_channel(SCHEMA)]


async def test_a_booking_does_not_notify_while_events_are_already_due(
    client: httpx.AsyncClient,
    catalog: CatalogStandIn,
    mint: Mint,
    database_url: str,
    deliver_events: Callable[[], Awaitable[int]],
) -> None:
    """The relay is at work then and looks again after its round; a NOTIFY would only queue every
    booking's commit on the notify lock. Both events are delivered all the same."""
    session = await catalog.schedule()
    await deliver_events()
    assert (await book(client, mint(), session.session_id)).status_code == 201  # its event is now due

    async def second_booking() -> None:
        assert (await book(client, mint(), session.session_id)).status_code == 201

    assert await _notices_of(database_url, second_booking) == []
    assert await deliver_events() >= 1


def test_the_one_statements_body_is_a_batchs_booking_out() -> None:
    # `bookings.at_once` writes its response (also stored under the Idempotency-Key) without the model.
    booking_id, session_id, person_id, now = new_id(), new_id(), new_id(), datetime.now(UTC)
    body = confirmed_body(booking_id, BookingCreate(session_id=session_id, seats=2), person_id, "code", now)
    expected = BookingOut(
        id=booking_id,
        session_id=session_id,
        person_id=person_id,
        organization_id=None,
        seats=2,
        status=BookingStatus.confirmed,
        checkin_code="code",
        created_at=now,
    ).model_dump(mode="json")
    assert list(body.items()) == list(expected.items())


def _confirmed_count(apps: dict[str, FastAPI]) -> float:
    value: float = apps["booking"].state.bookings_entered.labels("confirmed")._value.get()
    return value


@pytest.mark.parametrize("path", ["personal", "organization"])
async def test_statement_booking_confirmed_rows_match_outbox_emit_rows(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: CatalogStandIn, mint: Mint, path: str
) -> None:
    """Every new confirmed booking, a person's or an organization's, writes its `booking.confirmed` (for
    notify) in its batch's statement, each row as `Outbox.emit` writes it, and each booking still counted."""
    booking_app = apps["booking"]
    assert booking_app.state.outbox.subscribers_of("booking.confirmed") == ["notify"]
    session = await catalog.schedule(capacity=5)
    person, organization_id = mint(roles=["operator"]), None
    if path == "organization":
        organization_id = new_id()  # an operator may book for any organization
    counted = _confirmed_count(apps)
    response = await book(client, person, session.session_id, seats=2, organization_id=organization_id)
    assert response.status_code == 201, response.text
    created = response.json()
    assert _confirmed_count(apps) == counted + 1
    async with booking_app.state.database.sessionmaker.begin() as db:  # the same event, by Outbox.emit
        row = (await db.execute(select(*BOOKING_COLUMNS).where(bookings.c.id == UUID(created["id"])))).one()
        await bookings_changed(db, booking_app.state.outbox, [row], booking_app.state.bookings_entered, "booked")
    by_statement, emitted = await notices_for_notify(booking_app, created["id"])
    assert [r["sequence"] for r in (by_statement, emitted)] == [1, 2]
    assert by_statement["event_id"] != emitted["event_id"]
    assert _shape(by_statement) == _shape(emitted)
    assert by_statement["payload"] == emitted["payload"]
    assert by_statement["payload"] == BookingChanged(
        booking_id=created["id"],
        session_id=session.session_id,
        person_id=person.id,
        organization_id=organization_id,
        seats=2,
        status="confirmed",
        cause="booked",
        checkin_code=created["checkin_code"],
    ).model_dump(mode="json")


async def test_booking_confirmed_alone_wakes_an_idle_relay(
    client: httpx.AsyncClient,
    apps: dict[str, FastAPI],
    catalog: CatalogStandIn,
    mint: Mint,
    database_url: str,
    deliver_events: Callable[[], Awaitable[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With nobody subscribed to `availability.changed`, the statement's `booking.confirmed` still NOTIFYs."""
    outbox = apps["booking"].state.outbox
    monkeypatch.setattr(outbox, "_subscriptions", {"notify": ["booking.*"]})
    session = await catalog.schedule()
    await deliver_events()

    async def booking() -> None:
        assert (await book(client, mint(), session.session_id)).status_code == 201

    assert await _notices_of(database_url, booking) == [notify_channel(SCHEMA)]
    assert [r["type"] for r in await _rows(apps, session.session_id)] == []  # no availability.changed rows
