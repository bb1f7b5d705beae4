"""index of a person's active bookings (the active-bookings limit)

Revision ID: 8f3a1c6d2e57
Revises: 5b0d7c3e9a41
Create Date: 2026-12-01 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '8f3a1c6d2e57'
down_revision: str | None = '5b0d7c3e9a41'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_bookings_active_person',
        'bookings',
        ['person_id', 'session_id'],
        unique=False,
        schema='booking',
        postgresql_where=sa.text("status IN ('confirmed', 'waitlisted')"),
    )


def downgrade() -> None:
    op.drop_index(
        'ix_bookings_active_person',
        table_name='bookings',
        schema='booking',
        postgresql_where=sa.text("status IN ('confirmed', 'waitlisted')"),
    )
