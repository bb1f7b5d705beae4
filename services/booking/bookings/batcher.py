"""Booking requests for one session decided together, a batch at a time.

Each booking process keeps a queue per session that has requests waiting. The first request for a session
starts that session's worker; the worker takes what is queued (at most `max_batch`) as one batch and hands
it to `decide`, which answers every request of the batch in one transaction (`bookings.decisions`). While
that transaction runs, newcomers queue; when it ends, the worker takes them as the next batch, and once the
queue is empty the worker and its queue go away. So batches form by themselves: a lone request is decided
at once (no waiting for company), and under load each batch is what arrived while the previous one was
being decided. Sessions never wait for each other: each has its own worker. Several replicas each batch
their own requests; the session's row lock serializes their batches.

A request the session's worker would decide alone (no queue for its session, nothing else of it in flight
here) may first be tried by `decide_alone`, one cheaper statement that only ever confirms
(`bookings.at_once`); whatever it does not decide joins the front of its session's queue. While it runs,
newcomers for the session queue, so a burst is batched from its second request on.

A request waits for its answer shielded: a client that goes away cancels its request's task, not the
decision, which is made (and stored under its Idempotency-Key) all the same. Once `backlog_limit` requests
for a session are queued, a newcomer is refused at once (503 with Retry-After) instead of waiting past any
HTTP timeout.
"""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar
from uuid import UUID

import structlog

from shared.errors import ServiceUnavailable

logger = structlog.get_logger(__name__)

# A full session's queue drains in about a second or two at batched rates: ask the client to come back then.
BACKLOG_RETRY_AFTER_S = 2
Request = TypeVar("Request")
Answer = TypeVar("Answer")


class SessionQueues(Generic[Request, Answer]):
    """`decide(session_id, requests)` answers each request of a batch, in order, and never raises."""

    def __init__(
        self,
        decide: Callable[[UUID, Sequence[Request]], Awaitable[Sequence[Answer]]],
        *,
        max_batch: int,
        backlog_limit: int,
        decide_alone: Callable[[Request], Awaitable[Answer | None]] | None = None,
    ) -> None:
        self._decide = decide
        self._decide_alone = decide_alone
        # Sessions with a request being tried alone right now.
        self._alone: set[UUID] = set()
        self._max_batch = max_batch
        self._backlog_limit = backlog_limit
        self._queues: dict[UUID, deque[tuple[Request, asyncio.Future[Answer]]]] = {}
        self._workers: set[asyncio.Task[Any]] = set()

    async def submit(self, session_id: UUID, request: Request, *, may_go_alone: bool = False) -> Answer:
        if (
            may_go_alone
            and self._decide_alone is not None
            and session_id not in self._queues
            and session_id not in self._alone
        ):
            self._alone.add(session_id)
            alone = asyncio.create_task(self._alone_then_queued(session_id, request))
            self._workers.add(alone)
            alone.add_done_callback(self._workers.discard)
            return await asyncio.shield(alone)
        return await asyncio.shield(self._enqueue(session_id, request))

    async def _alone_then_queued(self, session_id: UUID, request: Request) -> Answer:
        assert self._decide_alone is not None
        try:
            answer = await self._decide_alone(request)
        finally:
            self._alone.discard(session_id)
        if answer is not None:
            return answer
        return await self._enqueue(session_id, request, first=True)

    def _enqueue(self, session_id: UUID, request: Request, *, first: bool = False) -> asyncio.Future[Answer]:
        """Queue the request (at the front with `first`: it arrived before whatever queued while it was tried
        alone), starting the session's worker if it has none; the backlog limit applies to newcomers."""
        queue = self._queues.get(session_id)
        if queue is None:
            queue = self._queues[session_id] = deque()
            worker = asyncio.create_task(self._work(session_id, queue), name=f"booking-batches-{session_id}")
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)
        elif len(queue) >= self._backlog_limit and not first:
            raise ServiceUnavailable(
                "Too many booking requests for this session right now; try again shortly",
                retry_after_s=BACKLOG_RETRY_AFTER_S,
            )
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        if first:
            queue.appendleft((request, answer))
        else:
            queue.append((request, answer))
        return answer

    async def drain(self) -> None:
        """Until every queued request is answered (at shutdown)."""
        while self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)

    async def _work(self, session_id: UUID, queue: deque[tuple[Request, asyncio.Future[Answer]]]) -> None:
        batch: list[tuple[Request, asyncio.Future[Answer]]] = []
        try:
            while queue:
                batch = [queue.popleft() for _ in range(min(len(queue), self._max_batch))]
                answers = await self._decide(session_id, [request for request, _ in batch])
                for (_, future), answer in zip(batch, answers, strict=True):
                    future.set_result(answer)
                batch = []
        except asyncio.CancelledError:  # shutdown
            for _, future in [*batch, *queue]:
                future.cancel()
            raise
        except Exception as exc:  # `decide` answers every failure itself: this is a bug
            logger.exception("booking_batch_failed", session_id=str(session_id))
            for _, future in [*batch, *queue]:
                if not future.done():
                    future.set_exception(exc)
            raise
        finally:
            del self._queues[session_id]
