"""participation figures: sessions by start, check-ins by session, finished sessions' tallies

Revision ID: a7d41c9e2b58
Revises: c23b983826a3
Create Date: 2026-12-02 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a7d41c9e2b58'
down_revision: str | None = 'c23b983826a3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_inventory_starts_at', 'inventory', ['starts_at'], unique=False, schema='booking')
    op.create_index('ix_checkins_session_id', 'checkins', ['session_id'], unique=False, schema='booking')
    op.create_table('session_tallies',
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('session_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('bookings', sa.Integer(), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('no_shows', sa.Integer(), nullable=False),
    sa.Column('checkins', sa.Integer(), nullable=False),
    sa.Column('minutes', sa.BigInteger(), nullable=False),
    sa.Column('tallied_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_session_tallies')),
    schema='booking'
    )


def downgrade() -> None:
    op.drop_table('session_tallies', schema='booking')
    op.drop_index('ix_checkins_session_id', table_name='checkins', schema='booking')
    op.drop_index('ix_inventory_starts_at', table_name='inventory', schema='booking')
