"""notify's background loops: reminders (polled: their times are known ahead) and mail (woken by the
NOTIFY of the transaction that queued it, and polled in case a wake-up is missed)."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from shared.db import is_database_unavailable

logger = structlog.get_logger(__name__)


async def run_forever(
    name: str,
    run_once: Callable[[], Awaitable[int]],
    *,
    batch_size: int,
    poll_interval_s: float,
    wake: asyncio.Event | None = None,
) -> None:
    """Rounds until cancelled: straight on after a full batch (a backlog), else after the poll interval or
    when woken. A failing round (the database restarting) is retried with a growing pause."""
    failures = 0
    wake = wake or asyncio.Event()
    while True:
        wake.clear()
        try:
            handled = await run_once()
            failures = 0
        except Exception as exc:  # noqa: BLE001 - the worker outlives database restarts
            failures += 1
            logger.warning("worker_round_failed", worker=name, error=repr(exc))
            await asyncio.sleep(min(10.0, 0.2 * 2**failures))
            continue
        if handled >= batch_size:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=poll_interval_s)


async def listen(dsn: str, channel: str, wake: asyncio.Event) -> None:
    """Set `wake` on each NOTIFY of `channel`, reconnecting for ever (polling covers the gaps)."""
    while True:
        connection = None
        try:
            connection = await asyncpg.connect(dsn)
            closed = asyncio.Event()
            connection.add_termination_listener(lambda _connection, done=closed: done.set())
            await connection.add_listener(channel, lambda *_: wake.set())
            await closed.wait()
        except Exception as exc:  # noqa: BLE001 - the listener outlives any failure
            (logger.info if is_database_unavailable(exc) else logger.warning)(
                "worker_listen_reconnecting", channel=channel, error=repr(exc)
            )
        finally:
            if connection is not None and not connection.is_closed():
                connection.terminate()
        await asyncio.sleep(1.0)
