"""What one session's participation figures are, as SQL over booking's rows (shared by the tallies of
finished sessions and the live figures of the others, so both count alike).

- bookings, seats: the bookings that held seats: confirmed (checked in or not) and no-shows; waitlisted and
  cancelled ones never held one (or gave it back). An organization's block counts once with all its seats;
  its member lines are seats of the block, never counted again.
- no_shows: confirmed seats not checked in by the session's end (own bookings and member lines; a block's
  seats not named to anyone are never marked).
- checkins, minutes: the learning records of the session: one per check-in (a member line's, an own
  booking's, or a block's own code), with the scheduled minutes it credited.

`{session}` is the SQL of the session's id (a column of the enclosing statement)."""

BOOKING_FIGURES = """
    SELECT count(*) FILTER (WHERE b.block_id IS NULL) AS bookings,
        coalesce(sum(b.seats) FILTER (WHERE b.block_id IS NULL), 0) AS seats,
        count(*) FILTER (WHERE b.status = 'no_show') AS no_shows
    FROM booking.bookings AS b
    WHERE b.session_id = {session} AND b.status IN ('confirmed', 'no_show')"""

CHECKIN_FIGURES = """
    SELECT count(*) AS checkins, coalesce(sum(c.minutes), 0) AS minutes
    FROM booking.checkins AS c
    WHERE c.session_id = {session}"""
