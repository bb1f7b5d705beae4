"""POST /v1/bookings: every request is decided in a batch with the other requests for its session that are
waiting at the time (`bookings.batcher` forms the batches), in one transaction per batch. (A person's own
standard seats for a session nobody else is booking through this process at that moment are first tried
in one statement that only confirms (`bookings.at_once`): cheaper than a batch's transaction, which then
decides whatever that statement leaves.) A batch:

1. lock the session's inventory row (SELECT ... FOR UPDATE): until commit no other batch, replica or
   cancellation changes its seats;
2. claim each request's Idempotency-Key (a transaction-level advisory lock, tried: a key in flight in
   another transaction is a 409 at once) and count the requests against their people's rate windows,
   locking those rows in person order (one person's bookings serialize across sessions and replicas, so the
   active-bookings limit stays exact, and two batches sharing people never deadlock);
3. read, for the whole batch at once, what the decisions depend on: the keys' stored responses, each
   person's active bookings and no-show restriction, who already holds a seat of the session and which
   organizations hold a block of it;
4. decide each request in arrival order, in memory: its own checks first (replay, or 422 for the key
   reused with another body; the session bookable; the limits; the seat pool offered; one active booking per
   person and one block per organization), then confirmed while its pool has the seats and nobody waits in
   it, otherwise waitlisted with the session's next waitlist sequence;
5. write every booking made in bulk (rows, a confirmed block's member lines, the seat figures, each key's
   response, the outbox events: `booking.*` per booking and one `availability.changed`), and commit once.

Failures are contained per request: a request whose own check fails gets its own problem (404, 409, 422,
429) and leaves nothing behind that the later requests of the batch would see (its rate count stays, as any
attempt's does). Whatever a constraint of the database would refuse is checked under the locks first, so
the bulk writes do not fail for one request's sake. When the transaction itself fails (the database
unreachable, a deadlock with some other writer), nothing of the batch is committed and every request of it
gets the same problem (503 with Retry-After; a deadlock is retried first). Answers are given only after the
commit: no client sees a 201 that is not stored, and a request whose client went away is decided and
stored all the same (replayable with its key).

A session booking has not heard of: the batch commits its requests' rate counts, asks the catalog once (404
or 503 for them all when it cannot answer), stores the session and decides them again.
"""

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from services.booking.bookings import at_once
from services.booking.bookings.batch_statements import BatchStatements, Claim, Event
from services.booking.bookings.batcher import SessionQueues
from services.booking.bookings.repository import new_checkin_code
from services.booking.bookings.schemas import BookingCreate, BookingOut, BookingStatus, LineOut
from services.booking.bookings.service import already_booked
from services.booking.idempotency import service as idempotency
from services.booking.idempotency.repository import Remembered
from services.booking.inventory import service as inventory_service
from services.booking.inventory.repository import Figures, SeatPool
from services.booking.limits import service as limits
from services.booking.lines.repository import Assignment
from services.booking.models import SCHEMA
from services.booking.publishing import BOOKING_EVENT_TYPES, booking_changed
from services.booking.settings import BookingSettings
from shared.clients import ServiceClient
from shared.db import is_database_unavailable, utcnow
from shared.driver import DriverPool
from shared.errors import AppError, Conflict, NotFound, ServiceUnavailable, TooManyRequests
from shared.events.outbox import notify_channel
from shared.ids import new_id

logger = structlog.get_logger(__name__)

SESSION_NOT_FOUND = "Session not found"
ALREADY_BOOKED = "You already hold an active booking for this session"
ORGANIZATION_BLOCK_EXISTS = (
    "The organization already holds a block for this session: name members to its seats, or cancel it and book "
    "a larger one"
)
# A batch that lost a deadlock or a serialization race committed nothing: it is decided again, this often.
BATCH_ATTEMPTS = 3
_RETRIED_SQLSTATES = {"40001", "40P01"}


@dataclass(frozen=True, slots=True)
class BookingRequest:
    """One POST /v1/bookings, as it waits for its batch."""

    person_id: UUID
    body: BookingCreate
    key: str
    fingerprint: str
    # Its rate count has committed already (its first batch found the session unknown and asked the catalog).
    counted: bool = False


# A request's answer: the response to send (a new booking, or a replay), or its problem.
Answer = idempotency.StoredResponse | AppError


@asynccontextmanager
async def booking_queues(state: Any, settings: BookingSettings) -> AsyncIterator[None]:
    """The process's per-session queues as `state.booking_queues`; at shutdown, every queued request is
    decided before the database goes."""
    state.booking_queues = queues = SessionQueues[BookingRequest, Answer](
        partial(decide_batch, state),
        max_batch=settings.batch_max_requests,
        backlog_limit=settings.session_backlog_limit,
        decide_alone=partial(_decide_alone, state),
    )
    try:
        yield
    finally:
        await queues.drain()


async def submit(state: Any, request: BookingRequest) -> idempotency.StoredResponse:
    """Queue the request for its session's next batch and wait for its answer (see `bookings.batcher`)."""
    answer: Answer = await state.booking_queues.submit(
        request.body.session_id, request, may_go_alone=at_once.eligible(request.body)
    )
    if isinstance(answer, AppError):
        raise answer.with_traceback(None)  # a batch-wide problem is one object shared by its requests
    return answer


async def _decide_alone(state: Any, request: BookingRequest) -> Answer | None:
    return await at_once.book_at_once(state, request.person_id, request.body, request.key, request.fingerprint)


async def decide_batch(state: Any, session_id: UUID, requests: Sequence[BookingRequest]) -> list[Answer]:
    """Every request's answer, in order (see the module's docstring). `state` is the app's: its settings
    (read per batch), driver pool, outbox, HTTP client and metrics."""
    answers = await _decide_in_one_transaction(state, session_id, requests)
    unknown = [index for index, answer in enumerate(answers) if answer is None]
    if unknown:
        try:
            await _learn(state, session_id)
        except AppError as error:  # the catalog does not know the session (404), or cannot answer (503)
            learned: list[Answer | None] = [error] * len(unknown)
        else:
            retried = [replace(requests[index], counted=True) for index in unknown]
            learned = await _decide_in_one_transaction(state, session_id, retried)
        for index, answer in zip(unknown, learned, strict=True):
            answers[index] = answer
    return [answer if answer is not None else NotFound(SESSION_NOT_FOUND) for answer in answers]


async def _learn(state: Any, session_id: UUID) -> None:
    settings: BookingSettings = state.settings
    catalog = ServiceClient("catalog", settings.catalog_url, settings, state.http)
    async with state.database.unit_of_work() as session:
        await inventory_service.learn(session, state.outbox, catalog, session_id)


async def _decide_in_one_transaction(
    state: Any, session_id: UUID, requests: Sequence[BookingRequest]
) -> list[Answer | None]:
    """None for a request not decided because booking has not heard of the session (its count is stored)."""
    driver: DriverPool = state.driver_pool
    for attempt in range(1, BATCH_ATTEMPTS + 1):
        try:
            async with driver.connection() as connection, connection.transaction():
                return await _decide(state, BatchStatements(connection), session_id, requests)
        except asyncpg.PostgresError as exc:
            if exc.sqlstate in _RETRIED_SQLSTATES and attempt < BATCH_ATTEMPTS:
                continue
            if exc.sqlstate not in _RETRIED_SQLSTATES and not is_database_unavailable(exc):
                logger.exception("booking_batch_failed", session_id=str(session_id), requests=len(requests))
                return [AppError("The booking could not be decided") for _ in requests]
            break
        except ServiceUnavailable:  # the driver pool found the database unreachable
            break
    detail = "The database is unavailable; try again shortly"
    return [ServiceUnavailable(detail, retry_after_s=2) for _ in requests]


async def _decide(
    state: Any, statements: BatchStatements, session_id: UUID, requests: Sequence[BookingRequest]
) -> list[Answer | None]:
    settings: BookingSettings = state.settings
    now = utcnow()
    locked = await statements.lock_session(session_id)
    claims = await statements.claim(
        [r.person_id for r in requests],
        [idempotency.lock_id(r.person_id, r.key) for r in requests],
        [not r.counted for r in requests],
        now,
        limits.RATE_WINDOW,
    )
    answers = _refusals(requests, claims, settings, now)
    admitted = [index for index, answer in enumerate(answers) if answer is None]
    if locked is None or not admitted:
        return answers
    ledger = await Ledger.read(statements, locked, [requests[index] for index in admitted], settings, now)
    for index in admitted:
        try:
            answers[index] = ledger.decide(requests[index])
        except AppError as error:
            answers[index] = error
    await ledger.write(statements, state.outbox.subscribers_of, state.bookings_entered)
    return answers


def _refusals(
    requests: Sequence[BookingRequest], claims: Sequence[Claim], settings: BookingSettings, now: datetime
) -> list[Answer | None]:
    """The requests refused before anything is read: the key in flight in another transaction (409), or over
    the rate limit (429). The claim counted each person's requests of the batch at once (`claim.requests`:
    the window's count after them); each request is judged by its own place among them."""
    pairs = list(zip(requests, claims, strict=True))
    counted = Counter(r.person_id for r, claim in pairs if claim.key_free and not r.counted)
    places: Counter[UUID] = Counter()
    refusals: list[Answer | None] = []
    for request, claim in pairs:
        if not claim.key_free:
            refusals.append(idempotency.KeyInFlight())
            continue
        if request.counted:  # admitted when it was counted
            refusals.append(None)
            continue
        places[request.person_id] += 1
        assert claim.requests is not None and claim.window_started_at is not None
        place = claim.requests - counted[request.person_id] + places[request.person_id]
        try:
            limits.ensure_within_rate(place, claim.window_started_at, settings.rate_per_minute, now)
            refusals.append(None)
        except TooManyRequests as error:
            refusals.append(error)
    return refusals


class Ledger:
    """The batch's decisions in arrival order, and what each leaves for the next: the seat figures, the
    waitlist's last sequence, who holds a seat, which organizations hold a block, each person's active
    bookings, the keys' responses. A refused request changes none of it."""

    def __init__(self, locked: asyncpg.Record, settings: BookingSettings, now: datetime) -> None:
        self.session_row = SimpleNamespace(**dict(locked))
        self.figures = Figures.of_mapping(locked)
        self.waitlist_last_seq: int = locked["waitlist_last_seq"]
        self.settings = settings
        self.now = now
        self.records: dict[tuple[UUID, str], Remembered] = {}
        self.active: Counter[UUID] = Counter()
        self.restrictions: dict[UUID, Any] = {}
        self.holders: set[UUID] = set()
        self.blocks: set[UUID] = set()
        # What the decisions made, written by `write`.
        self.rows: list[dict[str, Any]] = []
        self.assignments: list[Assignment] = []
        self.remembered: list[Remembered] = []
        self.made: list[BookingOut] = []  # every new booking and member line, for its event

    @classmethod
    async def read(
        cls,
        statements: BatchStatements,
        locked: asyncpg.Record,
        requests: Sequence[BookingRequest],
        settings: BookingSettings,
        now: datetime,
    ) -> "Ledger":
        ledger = cls(locked, settings, now)
        people = [r.person_id for r in requests]
        rows = await statements.read(people, [r.key for r in requests], now, settings.max_active_per_person)
        for request, row in zip(requests, rows, strict=True):
            if row["request_hash"] is not None:
                ledger.records[request.person_id, request.key] = Remembered(
                    request.person_id, request.key, row["request_hash"], row["response_status"], row["response_body"]
                )
            ledger.active[request.person_id] = row["active_bookings"]
            if row["restricted_max_active"] is not None:
                ledger.restrictions[request.person_id] = SimpleNamespace(**dict(row))
        members = [member for r in requests for member in r.body.members or ()]
        organizations = list({r.body.organization_id for r in requests if r.body.organization_id is not None})
        ledger.holders, ledger.blocks = await statements.holdings(locked["session_id"], people + members, organizations)
        return ledger

    def decide(self, request: BookingRequest) -> idempotency.StoredResponse:
        """The request's answer; its own problem raised (and nothing changed) when a check refuses it."""
        person_id, body = request.person_id, request.body
        record = self.records.get((person_id, request.key))
        if record is not None:
            return idempotency.replay(request.fingerprint, record.request_hash, record.status, record.body)
        inventory_service.ensure_bookable(self.session_row, self.now)
        limits.ensure_below_active_limit(
            self.active[person_id], self.settings.max_active_per_person, self.restrictions.get(person_id)
        )
        pool = SeatPool(body.seat)
        inventory_service.ensure_seat_offered(self.session_row, pool)
        members = body.members or []
        if body.organization_id is None and person_id in self.holders:
            raise Conflict(ALREADY_BOOKED)
        if holding := [member for member in members if member in self.holders]:
            raise already_booked(holding)
        if body.organization_id in self.blocks:
            raise Conflict(ORGANIZATION_BLOCK_EXISTS, extra={"reason": "organization_block_exists"})
        out = self._book(request, pool, members)
        response = out.model_dump(mode="json")
        remembered = Remembered(person_id, request.key, request.fingerprint, 201, response)
        self.records[person_id, request.key] = remembered
        self.remembered.append(remembered)
        self.active[person_id] += 1
        return idempotency.StoredResponse(201, response)

    def _book(self, request: BookingRequest, pool: SeatPool, members: Sequence[UUID]) -> BookingOut:
        """Confirmed while the pool has the seats and nobody waits in it (strict FIFO), else the back of the
        pool's waitlist. A confirmed block gets a line for each named member; a waitlisted one keeps their
        names for when it is confirmed."""
        body, now = request.body, self.now
        confirmed = self.figures.fits(pool, body.seats)
        out = BookingOut(
            id=new_id(),
            session_id=body.session_id,
            person_id=request.person_id,
            organization_id=body.organization_id,
            seats=body.seats,
            status=BookingStatus.confirmed if confirmed else BookingStatus.waitlisted,
            checkin_code=new_checkin_code() if confirmed else None,
            created_at=now,
            seat=None if pool == SeatPool.standard else pool,
        )
        if confirmed:
            self.figures = self.figures.confirm(pool, body.seats)
            waitlist_seq = None
        else:
            self.figures = self.figures.join_waitlist(pool)
            self.waitlist_last_seq += 1
            waitlist_seq = self.waitlist_last_seq
            out.waitlist_position = self.figures.waiting(pool)  # the last in its pool's line
        self.rows.append(self._row(out, pool, waitlist_seq, pending_members=[] if confirmed else list(members)))
        self.made.append(out)
        if body.organization_id is None:
            self.holders.add(request.person_id)
            return out
        self.blocks.add(body.organization_id)
        lines = [self._line(out, member) for member in members] if confirmed else []
        out.lines = [LineOut(id=line.id, person_id=line.person_id, status=BookingStatus.confirmed) for line in lines]
        out.unassigned_seats = body.seats - len(members)
        out.pending_members = None if confirmed else list(members)
        return out

    def _line(self, block: BookingOut, member: UUID) -> BookingOut:
        line = BookingOut(
            id=new_id(),
            session_id=block.session_id,
            person_id=member,
            organization_id=block.organization_id,
            seats=1,
            status=BookingStatus.confirmed,
            checkin_code=new_checkin_code(),
            created_at=self.now,
            block_id=block.id,
        )
        self.rows.append(self._row(line, SeatPool.standard, None, pending_members=[]))
        self.assignments.append(Assignment(block.id, line.id, "assigned", member, block.person_id))
        self.made.append(line)
        self.holders.add(member)
        return line

    def _row(
        self, out: BookingOut, pool: SeatPool, waitlist_seq: int | None, *, pending_members: list[UUID]
    ) -> dict[str, Any]:
        confirmed = out.status == BookingStatus.confirmed
        return {
            "id": out.id,
            "session_id": out.session_id,
            "person_id": out.person_id,
            "organization_id": out.organization_id,
            "block_id": out.block_id,
            "seats": out.seats,
            "seat_pool": pool.value,
            "status": out.status.value,
            "waitlist_seq": waitlist_seq,
            "checkin_code": out.checkin_code,
            "confirmed_at": self.now if confirmed else None,
            "created_at": self.now,
            "session_ends_at": self.session_row.ends_at,
            "pending_members": pending_members,
        }

    async def write(self, statements: BatchStatements, subscribers_of: Any, entered: Any) -> None:
        """Store what was decided (nothing when every request was refused or replayed)."""
        if not self.made:
            return
        await statements.store_figures(self.figures, self.waitlist_last_seq, self.now)
        await statements.insert_bookings(self.rows)
        await statements.record_assignments(self.assignments, self.now)
        await statements.remember(self.remembered, self.now, self.settings.idempotency_ttl)
        events = [
            Event(
                "availability.changed",
                self.figures.session_id,
                self.figures.payload().model_dump(mode="json"),
                subscribers_of("availability.changed"),
            )
        ]
        for booking in self.made:
            entered.labels(booking.status.value).inc()
            event_type = BOOKING_EVENT_TYPES[booking.status]
            payload = booking_changed(booking, "booked").model_dump(mode="json")
            events.append(Event(event_type, booking.id, payload, subscribers_of(event_type)))
        await statements.emit(events, self.now, notify_channel(SCHEMA))
