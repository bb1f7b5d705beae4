"""Batched decisions (issue 17): how batches form per session, and how one bad request of a batch fails
alone."""

import asyncio
from collections.abc import Sequence
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from services.booking.bookings.batcher import SessionQueues
from services.booking.bookings.decisions import BookingRequest, decide_batch
from services.booking.bookings.schemas import BookingCreate
from services.booking.idempotency import service as idempotency
from shared.errors import AppError, ServiceUnavailable
from shared.ids import new_id
from tests.booking.conftest import CatalogStandIn, Mint, availability, book


class Recorder:
    """A `decide` that records its batches and waits for `release` before answering each."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def decide(self, session_id: UUID, requests: Sequence[int]) -> list[int]:
        self.batches.append(list(requests))
        await self.release.wait()
        return [request * 10 for request in requests]


async def test_a_lone_request_is_decided_at_once_and_newcomers_form_the_next_batch() -> None:
    recorder = Recorder()
    queues = SessionQueues[int, int](recorder.decide, max_batch=3, backlog_limit=100)
    session, other = new_id(), new_id()
    assert await queues.submit(session, 1) == 10
    assert recorder.batches == [[1]]
    recorder.release.clear()  # the next batch's transaction "runs" until released
    first = asyncio.create_task(queues.submit(session, 2))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(queues.submit(session, n)) for n in range(3, 8)]
    elsewhere = asyncio.create_task(queues.submit(other, 99))  # another session has a worker of its own
    await asyncio.sleep(0.01)
    assert recorder.batches[1:] == [[2], [99]]
    recorder.release.set()
    assert await asyncio.gather(first, *waiting, elsewhere) == [20, 30, 40, 50, 60, 70, 990]
    # Those that queued meanwhile formed the next batches, in arrival order, bounded by max_batch.
    assert recorder.batches[3:] == [[3, 4, 5], [6, 7]]
    await queues.drain()


async def test_a_request_tried_alone_holds_its_session_newcomers_queue_and_what_it_leaves_goes_first() -> None:
    recorder = Recorder()
    alone_release = asyncio.Event()
    tried_alone: list[int] = []

    async def decide_alone(request: int) -> int | None:
        tried_alone.append(request)
        await alone_release.wait()
        return None if request % 2 == 0 else -request  # the one statement only decides odd requests

    queues = SessionQueues[int, int](recorder.decide, max_batch=10, backlog_limit=100, decide_alone=decide_alone)
    session = new_id()
    alone_release.set()
    assert await queues.submit(session, 1, may_go_alone=True) == -1  # decided alone: no batch at all
    assert await queues.submit(session, 3) == 30  # not eligible: a batch of its own
    assert recorder.batches == [[3]]
    alone_release.clear()
    even = asyncio.create_task(queues.submit(session, 2, may_go_alone=True))  # tried alone, left to a batch
    await asyncio.sleep(0)
    recorder.release.clear()
    newcomers = [asyncio.create_task(queues.submit(session, n, may_go_alone=True)) for n in (5, 7)]
    await asyncio.sleep(0.01)
    assert tried_alone == [1, 2]  # while 2 was tried alone, 5 and 7 went to the session's queue
    assert recorder.batches == [[3], [5, 7]]
    alone_release.set()
    recorder.release.set()
    assert await asyncio.gather(even, *newcomers) == [20, 50, 70]
    assert recorder.batches == [[3], [5, 7], [2]]
    await queues.drain()


async def test_past_the_backlog_limit_a_newcomer_gets_a_fast_503() -> None:
    recorder = Recorder()
    queues = SessionQueues[int, int](recorder.decide, max_batch=10, backlog_limit=2)
    session = new_id()
    recorder.release.clear()
    running = asyncio.create_task(queues.submit(session, 1))
    await asyncio.sleep(0.01)  # batch [1] runs; the next two queue
    queued = [asyncio.create_task(queues.submit(session, n)) for n in (2, 3)]
    await asyncio.sleep(0)
    with pytest.raises(ServiceUnavailable) as refused:
        await queues.submit(session, 4)
    assert int(refused.value.headers["Retry-After"]) >= 1
    recorder.release.set()
    assert await asyncio.gather(running, *queued) == [10, 20, 30]
    await queues.drain()


async def test_a_caller_that_goes_away_still_has_its_request_decided() -> None:
    recorder = Recorder()
    queues = SessionQueues[int, int](recorder.decide, max_batch=10, backlog_limit=10)
    recorder.release.clear()
    gone = asyncio.create_task(queues.submit(new_id(), 1))
    await asyncio.sleep(0.01)
    gone.cancel()  # the client disconnected
    recorder.release.set()
    await queues.drain()
    assert recorder.batches == [[1]] and gone.cancelled()


def _request(person_id: UUID, session_id: UUID, key: str, seats: int = 1) -> BookingRequest:
    body = BookingCreate(session_id=session_id, seats=seats)
    return BookingRequest(person_id, body, key, idempotency.request_fingerprint(body.model_dump(mode="json")))


async def test_one_bad_request_fails_alone_in_its_batch(
    apps: dict[str, FastAPI], client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    """In one batch: a person already holding a seat, a person asking twice, a key reused with another body
    and a replay, among people who simply book. Each bad request gets its own problem; the others are
    decided in arrival order as if it had not come."""
    session = await catalog.schedule(capacity=3)
    holder, twice, reuser = mint(), mint(), mint()
    assert (await book(client, holder, session.session_id)).status_code == 201
    others = [UUID(mint().id) for _ in range(4)]
    requests = [
        _request(others[0], session.session_id, "a"),
        _request(UUID(holder.id), session.session_id, "again"),  # already booked: 409
        _request(UUID(twice.id), session.session_id, "first"),
        _request(others[1], session.session_id, "b"),
        _request(UUID(twice.id), session.session_id, "second"),  # already booked in this batch: 409
        _request(UUID(reuser.id), session.session_id, "reused"),
        _request(UUID(reuser.id), session.session_id, "reused", seats=2),  # another body: 422
        _request(others[2], session.session_id, "c"),
        _request(others[0], session.session_id, "a"),  # a replay of the first: its answer
    ]
    answers = await decide_batch(apps["booking"].state, session.session_id, requests)
    problems = [answer.status if isinstance(answer, AppError) else None for answer in answers]
    assert problems == [None, 409, None, None, 409, None, 422, None, None]
    made = [answer.body for answer in answers if isinstance(answer, idempotency.StoredResponse)]
    assert [(b["status"], b.get("waitlist_position")) for b in made] == [
        ("confirmed", None),
        ("confirmed", None),
        ("waitlisted", 1),
        ("waitlisted", 2),
        ("waitlisted", 3),
        ("confirmed", None),  # the replay
    ]
    replay = answers[-1]
    assert isinstance(replay, idempotency.StoredResponse) and replay.replayed and replay.body == made[0]
    figures = await availability(client, session.session_id)
    assert (figures["confirmed_seats"], figures["waitlist_length"]) == (3, 3)
