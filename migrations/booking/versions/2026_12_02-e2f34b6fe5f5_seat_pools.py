"""seat pools: accessible seats kept apart and a hybrid session's online seats; the session's mode and join link

Revision ID: e2f34b6fe5f5
Revises: c58872afca82
Create Date: 2026-12-02 14:34:02.065539
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e2f34b6fe5f5'
down_revision: str | None = 'c58872afca82'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('bookings', sa.Column('seat_pool', sa.String(length=16), server_default='standard', nullable=False), schema='booking')
    op.add_column('inventory', sa.Column('mode', sa.String(length=16), server_default='in_person', nullable=False), schema='booking')
    op.add_column('inventory', sa.Column('join_url', sa.String(length=500), nullable=True), schema='booking')
    op.add_column('inventory', sa.Column('accessible_capacity', sa.Integer(), server_default='0', nullable=False), schema='booking')
    op.add_column('inventory', sa.Column('accessible_confirmed', sa.Integer(), server_default='0', nullable=False), schema='booking')
    op.add_column('inventory', sa.Column('online_capacity', sa.Integer(), server_default='0', nullable=False), schema='booking')
    op.add_column('inventory', sa.Column('online_confirmed', sa.Integer(), server_default='0', nullable=False), schema='booking')
    op.drop_constraint(op.f('ck_inventory_seats_within_capacity'), 'inventory', schema='booking', type_='check')
    op.create_check_constraint(
        op.f('ck_inventory_seats_within_capacity'),
        'inventory',
        'confirmed_seats >= 0 AND confirmed_seats <= capacity - accessible_capacity',
        schema='booking',
    )
    op.create_check_constraint(
        op.f('ck_inventory_accessible_within_capacity'),
        'inventory',
        'accessible_confirmed >= 0 AND accessible_confirmed <= accessible_capacity AND accessible_capacity <= capacity',
        schema='booking',
    )
    op.create_check_constraint(
        op.f('ck_inventory_online_within_capacity'),
        'inventory',
        'online_confirmed >= 0 AND online_confirmed <= online_capacity',
        schema='booking',
    )
    op.create_check_constraint(
        op.f('ck_inventory_mode_known'), 'inventory', "mode IN ('in_person', 'online', 'hybrid')", schema='booking'
    )
    op.create_check_constraint(
        op.f('ck_bookings_seat_pool_known'),
        'bookings',
        "seat_pool IN ('standard', 'accessible', 'online')",
        schema='booking',
    )
    op.create_check_constraint(
        op.f('ck_bookings_blocks_take_standard_seats'),
        'bookings',
        "organization_id IS NULL OR seat_pool = 'standard'",
        schema='booking',
    )


def downgrade() -> None:
    for table, name in (
        ('bookings', 'blocks_take_standard_seats'),
        ('bookings', 'seat_pool_known'),
        ('inventory', 'mode_known'),
        ('inventory', 'online_within_capacity'),
        ('inventory', 'accessible_within_capacity'),
        ('inventory', 'seats_within_capacity'),
    ):
        op.drop_constraint(op.f(f'ck_{table}_{name}'), table, schema='booking', type_='check')
    op.create_check_constraint(
        op.f('ck_inventory_seats_within_capacity'),
        'inventory',
        'confirmed_seats >= 0 AND confirmed_seats <= capacity',
        schema='booking',
    )
    op.drop_column('inventory', 'online_confirmed', schema='booking')
    op.drop_column('inventory', 'online_capacity', schema='booking')
    op.drop_column('inventory', 'accessible_confirmed', schema='booking')
    op.drop_column('inventory', 'accessible_capacity', schema='booking')
    op.drop_column('inventory', 'join_url', schema='booking')
    op.drop_column('inventory', 'mode', schema='booking')
    op.drop_column('bookings', 'seat_pool', schema='booking')
