"""learning modes (in person, online, hybrid) with a join link; accessible seats and online seats per session

Revision ID: 6e7ede2fb478
Revises: d82f6b3c0e55
Create Date: 2026-12-02 14:34:03.987662
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '6e7ede2fb478'
down_revision: str | None = 'd82f6b3c0e55'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('activities', sa.Column('mode', sa.String(length=16), server_default='in_person', nullable=False), schema='catalog')
    op.add_column('activities', sa.Column('join_url', sa.String(length=500), nullable=True), schema='catalog')
    op.add_column('session_availability', sa.Column('accessible_capacity', sa.Integer(), server_default='0', nullable=False), schema='catalog')
    op.add_column('session_availability', sa.Column('accessible_available', sa.Integer(), server_default='0', nullable=False), schema='catalog')
    op.add_column('session_availability', sa.Column('online_capacity', sa.Integer(), server_default='0', nullable=False), schema='catalog')
    op.add_column('session_availability', sa.Column('online_available', sa.Integer(), server_default='0', nullable=False), schema='catalog')
    op.add_column('sessions', sa.Column('accessible_seats', sa.Integer(), server_default='0', nullable=False), schema='catalog')
    op.add_column('sessions', sa.Column('online_capacity', sa.Integer(), server_default='0', nullable=False), schema='catalog')
    op.create_check_constraint(
        op.f('ck_activities_mode_known'), 'activities', "mode IN ('in_person', 'online', 'hybrid')", schema='catalog'
    )
    op.create_check_constraint(
        op.f('ck_activities_join_url_only_online'),
        'activities',
        "mode <> 'in_person' OR join_url IS NULL",
        schema='catalog',
    )
    op.create_check_constraint(
        op.f('ck_sessions_accessible_seats_within_capacity'),
        'sessions',
        'accessible_seats BETWEEN 0 AND capacity',
        schema='catalog',
    )
    op.create_check_constraint(
        op.f('ck_sessions_online_capacity_range'), 'sessions', 'online_capacity BETWEEN 0 AND 100000', schema='catalog'
    )


def downgrade() -> None:
    for table, name in (
        ('sessions', 'online_capacity_range'),
        ('sessions', 'accessible_seats_within_capacity'),
        ('activities', 'join_url_only_online'),
        ('activities', 'mode_known'),
    ):
        op.drop_constraint(op.f(f'ck_{table}_{name}'), table, schema='catalog', type_='check')
    op.drop_column('sessions', 'online_capacity', schema='catalog')
    op.drop_column('sessions', 'accessible_seats', schema='catalog')
    op.drop_column('session_availability', 'online_available', schema='catalog')
    op.drop_column('session_availability', 'online_capacity', schema='catalog')
    op.drop_column('session_availability', 'accessible_available', schema='catalog')
    op.drop_column('session_availability', 'accessible_capacity', schema='catalog')
    op.drop_column('activities', 'join_url', schema='catalog')
    op.drop_column('activities', 'mode', schema='catalog')
