"""notify test helpers: stand-ins for the catalog and booking that send `session.*` and `booking.*` events
to notify's inbox over its HTTP endpoint, contacts put in notify's cache, an in-process SMTP sink, a
notify app that mails to it, and readers of a person's inbox."""

import asyncio
import email
import email.policy
import socket
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import text

from services.notify.app import create_app as create_notify_app
from services.notify.settings import NotifySettings
from shared.clients import INTERNAL_SECRET_HEADER
from shared.events.schemas import BookingCause, BookingChanged, EventEnvelope, PersonErased, Place, SessionSnapshot
from shared.ids import new_id
from shared.settings import DEV_INTERNAL_SECRET
from tests.support import InProcessTransport, Person

NOTIFY_EVENTS = "http://notify.internal/internal/v1/events"
INTERNAL = {INTERNAL_SECRET_HEADER: DEV_INTERNAL_SECRET}
HUBIN_LIBRARY = Place(
    site_id=UUID("01936f4e-8a2b-7c3d-9e4f-5a6b7c8d9e0f"),
    name={"zh-CN": "湖滨图书馆", "en": "Hubin Library"},
    address="1 Hubin Road, Hangzhou",
    lat=30.259,
    lon=120.165,
)
GONGSHU_HALL = Place(
    site_id=UUID("01936f4e-8a2b-7c3d-9e4f-5a6b7c8d9e11"),
    name={"zh-CN": "拱墅文化馆", "en": "Gongshu Cultural Hall"},
    address="8 Canal Road, Hangzhou",
    lat=30.318,
    lon=120.142,
)


def hours_from_now(hours: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)


class EventSender:
    """Envelopes as a producer's relay sends them: ids, per-aggregate sequences, batches over HTTP."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._sequences: defaultdict[tuple[str, UUID], int] = defaultdict(int)

    def envelope(self, event_type: str, producer: str, aggregate_id: UUID, payload: BaseModel) -> EventEnvelope:
        self._sequences[producer, aggregate_id] += 1
        return EventEnvelope(
            id=new_id(),
            type=event_type,
            producer=producer,
            aggregate_id=aggregate_id,
            sequence=self._sequences[producer, aggregate_id],
            occurred_at=datetime.now(UTC),
            payload=payload.model_dump(mode="json"),
        )

    async def deliver(self, *envelopes: EventEnvelope) -> list[str]:
        """Post one batch to notify's inbox; the outcome of each event, in order."""
        body = {"events": [envelope.model_dump(mode="json") for envelope in envelopes]}
        response = await self._client.post(NOTIFY_EVENTS, json=body, headers=INTERNAL)
        assert response.status_code == 200, response.text
        return [result["outcome"] for result in response.json()["results"]]


@dataclass
class Catalog:
    """The catalog as notify hears it: `session.*` snapshots."""

    sender: EventSender

    def scheduled(self, **fields: Any) -> SessionSnapshot:
        starts_at = fields.pop("starts_at", hours_from_now(48))
        snapshot = SessionSnapshot(
            session_id=fields.pop("session_id", new_id()),
            activity_id=new_id(),
            host_org_id=new_id(),
            site_id=HUBIN_LIBRARY.site_id,
            title=fields.pop("title", {"zh-CN": "西湖读书会", "en": "West Lake reading circle"}),
            kind="reading",
            starts_at=starts_at,
            ends_at=fields.pop("ends_at", starts_at + timedelta(minutes=90)),
            capacity=fields.pop("capacity", 10),
            status="scheduled",
            booking_opens_at=None,
            booking_closes_at=None,
            place=fields.pop("place", HUBIN_LIBRARY),
        )
        assert not fields, f"unknown fields {fields}"
        return snapshot

    def event(self, event_type: str, snapshot: SessionSnapshot) -> EventEnvelope:
        return self.sender.envelope(event_type, "catalog", snapshot.session_id, snapshot)

    async def schedule(self, **fields: Any) -> SessionSnapshot:
        snapshot = self.scheduled(**fields)
        assert await self.sender.deliver(self.event("session.scheduled", snapshot)) == ["applied"]
        return snapshot

    async def update(self, snapshot: SessionSnapshot, **changes: Any) -> SessionSnapshot:
        changed = snapshot.model_copy(update=changes)
        assert await self.sender.deliver(self.event("session.updated", changed)) == ["applied"]
        return changed

    def cancelled(self, snapshot: SessionSnapshot, reason: str | None = "The reader is ill") -> EventEnvelope:
        cancelled = snapshot.model_copy(update={"status": "cancelled", "cancel_reason": reason})
        return self.event("session.cancelled", cancelled)


@dataclass
class Bookings:
    """booking as notify hears it: `booking.*` events."""

    sender: EventSender

    def event(
        self,
        status: str,
        person_id: UUID | str,
        session_id: UUID,
        *,
        booking_id: UUID | None = None,
        cause: BookingCause = "booked",
        seats: int = 1,
        position: int | None = None,
        organization_id: UUID | None = None,
        block_id: UUID | None = None,
    ) -> tuple[EventEnvelope, BookingChanged]:
        """`block_id` (with `organization_id`): a member line, a seat of that organization block."""
        booking = BookingChanged(
            booking_id=booking_id or new_id(),
            session_id=session_id,
            person_id=UUID(str(person_id)),
            organization_id=organization_id,
            seats=seats,
            status=status,
            cause=cause,
            waitlist_position=position if status == "waitlisted" else None,
            checkin_code=f"code-{new_id().hex}" if status == "confirmed" else None,
            block_id=block_id,
        )
        return self.sender.envelope(f"booking.{status}", "booking", booking.booking_id, booking), booking

    async def send(self, status: str, person_id: UUID | str, session_id: UUID, **kwargs: Any) -> BookingChanged:
        envelope, booking = self.event(status, person_id, session_id, **kwargs)
        assert await self.sender.deliver(envelope) == ["applied"]
        return booking

    async def confirm(self, person_id: UUID | str, session_id: UUID, **kwargs: Any) -> BookingChanged:
        return await self.send("confirmed", person_id, session_id, **kwargs)

    async def cancel(self, booking: BookingChanged, cause: BookingCause) -> BookingChanged:
        envelope, cancelled = self.event(
            "cancelled",
            booking.person_id,
            booking.session_id,
            booking_id=booking.booking_id,
            cause=cause,
            organization_id=booking.organization_id,
            block_id=booking.block_id,
        )
        assert await self.sender.deliver(envelope) == ["applied"]
        return cancelled

    def erased(self, person_id: UUID | str) -> EventEnvelope:
        erasure = PersonErased(erasure_id=new_id(), person_id=UUID(str(person_id)))
        return self.sender.envelope("person.erased", "orgs", erasure.erasure_id, erasure)


@pytest.fixture
def sender(client: httpx.AsyncClient) -> EventSender:
    return EventSender(client)


@pytest.fixture
def catalog(sender: EventSender) -> Catalog:
    return Catalog(sender)


@pytest.fixture
def bookings(sender: EventSender) -> Bookings:
    return Bookings(sender)


Mint = Callable[[], Person]


@pytest.fixture
def mint(apps: dict[str, FastAPI]) -> Mint:
    """An access token for a fresh person id (no account at orgs: notify finds no contact for them)."""

    def make() -> Person:
        person_id = new_id()
        token, _ = apps["orgs"].state.signing_keys.issue_access_token(person_id, [])
        return Person(id=str(person_id), email="", token=token)

    return make


async def put_contact(
    app: FastAPI, person: Person, *, email: str | None, language: str | None, name: str = "Xiaoming"
) -> None:
    """What orgs would answer for the person, put in notify's contact cache (fresh, so orgs is not asked)."""
    async with app.state.database.sessionmaker.begin() as session:
        await session.execute(
            text(
                "INSERT INTO notify.contacts (person_id, email, display_name, language, fetched_at)"
                " VALUES (:person_id, :email, :name, :language, now())"
            ),
            {"person_id": UUID(person.id), "email": email, "name": name, "language": language},
        )


async def inbox(client: httpx.AsyncClient, person: Person, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/notifications", params={"limit": 100, **params}, headers=person.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def kinds(client: httpx.AsyncClient, person: Person) -> list[str]:
    """The kinds of a person's notices, oldest first."""
    return [item["kind"] for item in reversed(await inbox(client, person))]


async def scalar(app: FastAPI, sql: str, **params: Any) -> Any:
    async with app.state.database.sessionmaker() as session:
        return (await session.execute(text(sql), params)).scalar()


async def rows(app: FastAPI, sql: str, **params: Any) -> list[Any]:
    async with app.state.database.sessionmaker() as session:
        return list((await session.execute(text(sql), params)).all())


async def naming(app: FastAPI, *needles: str) -> dict[str, int]:
    """Rows of each notify table whose text names any of `needles`."""
    tables = await rows(app, "SELECT tablename FROM pg_tables WHERE schemaname = 'notify'")
    found: dict[str, int] = {}
    for (table,) in tables:
        condition = " OR ".join(f"r::text ILIKE :needle{index}" for index in range(len(needles)))
        params = {f"needle{index}": f"%{needle}%" for index, needle in enumerate(needles)}
        (count,) = (await rows(app, f'SELECT count(*) FROM notify."{table}" AS r WHERE {condition}', **params))[0]
        if count:
            found[table] = count
    return found


# ---- mail: an SMTP sink in-process, and a notify app that mails to it -------------------------------------


@dataclass
class SmtpSink:
    """Accepts every recipient except `reject*@` (550, permanent) and `defer*@` (451, temporary), whose
    replies quote the address as many servers' do."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: SmtpSession, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("reject"):
            return f"550 5.1.1 <{address}>: No such mailbox"
        if address.startswith("defer"):
            return f"451 4.3.0 <{address}>: Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if message["To"].addresses[0].addr_spec == address]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield sink, controller.port
    finally:
        controller.stop()


@pytest.fixture(scope="session")
async def mailing_app(apps: dict[str, FastAPI], smtp_sink: tuple[SmtpSink, int]) -> AsyncIterator[FastAPI]:
    """A second notify app, like the one in `apps` (workers off: tests run them) but with email on (to the
    sink) and quick retries."""
    usual: NotifySettings = apps["notify"].state.settings
    settings = NotifySettings.model_validate(
        usual.model_dump()
        | {
            "smtp_url": f"smtp://127.0.0.1:{smtp_sink[1]}",
            "smtp_timeout_s": 5.0,
            "mail_from": "Learning City <noreply@learncity.test>",
            "mail_max_attempts": 3,
            "mail_backoff_base_s": 0.05,
            "mail_backoff_cap_s": 0.1,
        }
    )
    app = create_notify_app(settings, http_transport=InProcessTransport(apps))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def mailing(
    apps: dict[str, FastAPI], mailing_app: FastAPI, smtp_sink: tuple[SmtpSink, int]
) -> AsyncIterator[SmtpSink]:
    """For one test, notify (as every caller reaches it) is the mailing app; the sink starts empty."""
    usual = apps["notify"]
    apps["notify"] = mailing_app
    smtp_sink[0].messages.clear()
    try:
        yield smtp_sink[0]
    finally:
        apps["notify"] = usual


async def send_mail(app: FastAPI, *, rounds: int = 1, pause_s: float = 0.0) -> None:
    """Run the mail worker `rounds` times (pausing between, so retries come due)."""
    for index in range(rounds):
        if index:
            await asyncio.sleep(pause_s)
        await app.state.mail_queue.run_once()
