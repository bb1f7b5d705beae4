"""bookings.session_ends_at: the session's end on each booking; the active-bookings index on it

Revision ID: 607bfe9d9086
Revises: 3c9e4b7a1d20
Create Date: 2026-12-02 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '607bfe9d9086'
down_revision: str | None = '3c9e4b7a1d20'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("status IN ('confirmed', 'waitlisted')")


def upgrade() -> None:
    # A person's active bookings (the active-bookings limit, checked by every booking) become a range scan
    # of one index, without joining every booking to its session to learn whether the session has ended.
    op.add_column('bookings', sa.Column('session_ends_at', sa.DateTime(timezone=True), nullable=True), schema='booking')
    op.execute(
        """
        UPDATE booking.bookings b SET session_ends_at = s.ends_at
        FROM booking.inventory s WHERE s.session_id = b.session_id
        """
    )
    op.alter_column('bookings', 'session_ends_at', nullable=False, schema='booking')
    op.drop_index('ix_bookings_active_person', table_name='bookings', schema='booking', postgresql_where=ACTIVE)
    op.create_index(
        'ix_bookings_active_person',
        'bookings',
        ['person_id', 'session_ends_at'],
        unique=False,
        schema='booking',
        postgresql_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_index('ix_bookings_active_person', table_name='bookings', schema='booking', postgresql_where=ACTIVE)
    op.create_index(
        'ix_bookings_active_person',
        'bookings',
        ['person_id', 'session_id'],
        unique=False,
        schema='booking',
        postgresql_where=ACTIVE,
    )
    op.drop_column('bookings', 'session_ends_at', schema='booking')
