"""Seats freed (a cancellation, a larger capacity) go to the waitlist in FIFO order, each seat pool's
(standard, accessible, online) to its own waitlist only.

Called only while the session's inventory row is locked by the caller's transaction: two cancellations
racing for the same session take turns, so each waitlisted booking is promoted exactly once.
Strict FIFO: when the head of the line needs more seats than are free, it waits and so does everyone
behind it in its pool (a large group is never starved by smaller bookings slipping past it); a head waiting
for an accessible seat blocks nobody waiting for a standard one. An organization block is
one booking of the line with all its seats; its member lines hold seats of the block, never of the session
again, so only the block counts in the figures.
"""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.bookings.repository import BookingRepository
from services.booking.inventory.repository import Figures, InventoryRepository, SeatPool
from services.booking.lines.repository import Assignment, LineRepository
from services.booking.models import AnyRow


async def promote_waitlist(
    session: AsyncSession, figures: Figures, now: datetime, pools: Sequence[SeatPool] = tuple(SeatPool)
) -> tuple[Figures, Sequence[AnyRow]]:
    """In each of `pools`, confirm the longest waitlist prefix that fits in the pool's free seats; returns the
    new figures and the promoted rows, followed by the member lines made for the promoted blocks' named
    members."""
    repository = BookingRepository(session)
    promoted: list[AnyRow] = []
    for pool in pools:
        free = figures.free_for_waitlist(pool)
        if free <= 0:
            continue
        head = await repository.waitlist_head_that_fits(figures.session_id, pool, free)
        if not head:
            continue
        confirmed = await repository.promote([row.id for row in head], now)
        figures = await InventoryRepository(session).change_figures(
            figures.session_id,
            pool=pool,
            confirmed_delta=sum(row.seats for row in confirmed),
            waitlist_delta=-len(confirmed),
            now=now,
        )
        promoted += confirmed
    if not promoted:
        return figures, ()
    lines = await _name_pending_members(session, [row.id for row in promoted if row.organization_id], now)
    return figures, [*promoted, *lines]


async def _name_pending_members(session: AsyncSession, block_ids: Sequence[UUID], now: datetime) -> list[AnyRow]:
    """Lines for the members named to blocks just confirmed, as if named now by the coordinator who named
    them. A member who meanwhile got a seat of the session otherwise (their own booking, another block's
    line) is skipped: their seat of the block stays unassigned."""
    if not block_ids:
        return []
    repository = LineRepository(session)
    made: list[AnyRow] = []
    for block in await repository.pending_of(block_ids):
        holding = set(await repository.holders_among(block.session_id, block.pending_members))
        lines = await repository.add_lines(block, [m for m in block.pending_members if m not in holding], now)
        await repository.record(
            (Assignment(block.id, line.id, "assigned", line.person_id, block.person_id) for line in lines), now
        )
        made += lines
    await repository.clear_pending(block_ids)
    return made


async def cancel_and_promote(
    session: AsyncSession, booking: AnyRow, now: datetime, *, reason: str, promote: bool = True
) -> tuple[AnyRow, Figures, Sequence[AnyRow]]:
    """Cancel an active booking (its row and its session's row locked by the caller): its seats, or its
    place in line, are freed in its pool, and with `promote` that pool's waitlist gets them. Returns the
    cancelled row, the new figures and the promoted rows."""
    cancelled = await BookingRepository(session).cancel(booking.id, now, reason=reason)
    was_confirmed = booking.status == "confirmed"
    figures = await InventoryRepository(session).change_figures(
        booking.session_id,
        pool=SeatPool(booking.seat_pool),
        confirmed_delta=-booking.seats if was_confirmed else 0,
        waitlist_delta=0 if was_confirmed else -1,
        now=now,
    )
    if not promote:
        return cancelled, figures, ()
    figures, promoted = await promote_waitlist(session, figures, now, pools=[SeatPool(booking.seat_pool)])
    return cancelled, figures, promoted


async def cancel_line_and_promote(
    session: AsyncSession, line: AnyRow, block: AnyRow, now: datetime, *, reason: str, block_reason: str
) -> tuple[AnyRow, AnyRow | None, Figures, Sequence[AnyRow]]:
    """Cancel an active member line and free its seat (the session's row, the block's and the line's locked
    by the caller, in that order): the block holds one seat fewer, or is cancelled (`block_reason`) when that
    was its last, and the waitlist gets the seat. Returns the cancelled line, the block if it was cancelled,
    the new figures and the promoted rows."""
    assert block.status == "confirmed"  # a block's lines are active only while it is
    repository = BookingRepository(session)
    cancelled = await repository.cancel(line.id, now, reason=reason)
    closed_block = None
    if block.seats > 1:
        await LineRepository(session).shrink_block(block.id)
    else:
        closed_block = await repository.cancel(block.id, now, reason=block_reason)
    # Blocks and their lines hold standard seats.
    figures = await InventoryRepository(session).change_figures(line.session_id, confirmed_delta=-1, now=now)
    figures, promoted = await promote_waitlist(session, figures, now, pools=[SeatPool.standard])
    return cancelled, closed_block, figures, promoted
