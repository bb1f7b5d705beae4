"""pool waitlists: how many of a session's waitlisted bookings wait for an accessible or an online seat

Revision ID: 5b8d0e3a7c61
Revises: e2f34b6fe5f5
Create Date: 2026-12-02 15:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '5b8d0e3a7c61'
down_revision: str | None = 'e2f34b6fe5f5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('inventory', sa.Column('accessible_waitlist', sa.Integer(), server_default='0', nullable=False), schema='booking')
    op.add_column('inventory', sa.Column('online_waitlist', sa.Integer(), server_default='0', nullable=False), schema='booking')
    op.create_check_constraint(
        op.f('ck_inventory_pool_waitlists_within_waitlist'),
        'inventory',
        'accessible_waitlist >= 0 AND online_waitlist >= 0 AND accessible_waitlist + online_waitlist <= waitlist_length',
        schema='booking',
    )


def downgrade() -> None:
    op.drop_constraint(op.f('ck_inventory_pool_waitlists_within_waitlist'), 'inventory', schema='booking', type_='check')
    op.drop_column('inventory', 'online_waitlist', schema='booking')
    op.drop_column('inventory', 'accessible_waitlist', schema='booking')
