"""organization blocks of up to 1000 seats, member lines (block_id), pending names, the seat audit, no_show and restrictions

Revision ID: c58872afca82
Revises: c71e5a2b9d44
Create Date: 2026-12-02 13:42:24.238481
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'c58872afca82'
down_revision: str | None = 'c71e5a2b9d44'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("status IN ('confirmed', 'waitlisted')")
COUNTED = sa.text("status IN ('confirmed', 'waitlisted') AND block_id IS NULL")
HELD_BY_PERSON = sa.text("status IN ('confirmed', 'waitlisted') AND (organization_id IS NULL OR block_id IS NOT NULL)")
HELD_BY_ORGANIZATION = sa.text(
    "status IN ('confirmed', 'waitlisted') AND organization_id IS NOT NULL AND block_id IS NULL"
)


def upgrade() -> None:
    op.create_table('restrictions',
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('max_active', sa.Integer(), nullable=False),
    sa.Column('no_shows', sa.Integer(), nullable=False),
    sa.Column('restricted_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('max_active >= 0', name=op.f('ck_restrictions_max_active_not_negative')),
    sa.PrimaryKeyConstraint('person_id', name=op.f('pk_restrictions')),
    schema='booking'
    )
    op.create_table('line_assignments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('block_id', sa.Uuid(), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('previous_person_id', sa.Uuid(), nullable=True),
    sa.Column('by_person_id', sa.Uuid(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("action IN ('assigned', 'reassigned', 'unassigned')", name=op.f('ck_line_assignments_action_known')),
    sa.ForeignKeyConstraint(['block_id'], ['booking.bookings.id'], name=op.f('fk_line_assignments_block_id_bookings')),
    sa.ForeignKeyConstraint(['line_id'], ['booking.bookings.id'], name=op.f('fk_line_assignments_line_id_bookings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_line_assignments')),
    schema='booking'
    )
    op.create_index('ix_line_assignments_block_id_at', 'line_assignments', ['block_id', 'at'], unique=False, schema='booking')
    op.add_column('bookings', sa.Column('block_id', sa.Uuid(), nullable=True), schema='booking')
    op.add_column('bookings', sa.Column('pending_members', postgresql.ARRAY(sa.Uuid()), server_default=sa.text("'{}'"), nullable=False), schema='booking')
    op.create_index('ix_bookings_block_id', 'bookings', ['block_id'], unique=False, schema='booking', postgresql_where=sa.text('block_id IS NOT NULL'))
    op.create_index('ix_bookings_confirmed_ends', 'bookings', ['session_ends_at'], unique=False, schema='booking', postgresql_where=sa.text("status = 'confirmed'"))
    op.create_index('ix_bookings_no_show_person', 'bookings', ['person_id', 'session_ends_at'], unique=False, schema='booking', postgresql_where=sa.text("status = 'no_show'"))
    op.create_foreign_key(op.f('fk_bookings_block_id_bookings'), 'bookings', 'bookings', ['block_id'], ['id'], source_schema='booking', referent_schema='booking')
    for name in ('seats_range', 'status_known'):
        op.drop_constraint(op.f(f'ck_bookings_{name}'), 'bookings', schema='booking', type_='check')
    op.create_check_constraint(op.f('ck_bookings_seats_range'), 'bookings', 'seats BETWEEN 1 AND 1000', schema='booking')
    op.create_check_constraint(
        op.f('ck_bookings_status_known'),
        'bookings',
        "status IN ('confirmed', 'waitlisted', 'cancelled', 'no_show')",
        schema='booking',
    )
    op.create_check_constraint(
        op.f('ck_bookings_personal_seats_range'), 'bookings', 'organization_id IS NOT NULL OR seats <= 10', schema='booking'
    )
    op.create_check_constraint(
        op.f('ck_bookings_line_is_one_seat'),
        'bookings',
        'block_id IS NULL OR (seats = 1 AND organization_id IS NOT NULL)',
        schema='booking',
    )
    # A block is the organization's: its coordinator may hold a seat of their own (or a line of it) too; an
    # organization holds one active block per session.
    op.drop_index('uq_bookings_active_session_person', table_name='bookings', schema='booking', postgresql_where=ACTIVE)
    op.create_index(
        'uq_bookings_active_session_person',
        'bookings',
        ['session_id', 'person_id'],
        unique=True,
        schema='booking',
        postgresql_where=HELD_BY_PERSON,
    )
    op.create_index(
        'uq_bookings_active_session_organization',
        'bookings',
        ['session_id', 'organization_id'],
        unique=True,
        schema='booking',
        postgresql_where=HELD_BY_ORGANIZATION,
    )
    # The active-bookings limit counts a person's own bookings, not member lines booked for them.
    op.drop_index('ix_bookings_active_person', table_name='bookings', schema='booking', postgresql_where=ACTIVE)
    op.create_index(
        'ix_bookings_active_person',
        'bookings',
        ['person_id', 'session_ends_at'],
        unique=False,
        schema='booking',
        postgresql_where=COUNTED,
    )


def downgrade() -> None:
    op.drop_index(
        'uq_bookings_active_session_organization',
        table_name='bookings',
        schema='booking',
        postgresql_where=HELD_BY_ORGANIZATION,
    )
    op.drop_index(
        'uq_bookings_active_session_person', table_name='bookings', schema='booking', postgresql_where=HELD_BY_PERSON
    )
    op.create_index(
        'uq_bookings_active_session_person',
        'bookings',
        ['session_id', 'person_id'],
        unique=True,
        schema='booking',
        postgresql_where=ACTIVE,
    )
    op.drop_index('ix_bookings_active_person', table_name='bookings', schema='booking', postgresql_where=COUNTED)
    op.create_index(
        'ix_bookings_active_person',
        'bookings',
        ['person_id', 'session_ends_at'],
        unique=False,
        schema='booking',
        postgresql_where=ACTIVE,
    )
    for name in ('line_is_one_seat', 'personal_seats_range', 'seats_range', 'status_known'):
        op.drop_constraint(op.f(f'ck_bookings_{name}'), 'bookings', schema='booking', type_='check')
    op.create_check_constraint(op.f('ck_bookings_seats_range'), 'bookings', 'seats BETWEEN 1 AND 10', schema='booking')
    op.create_check_constraint(
        op.f('ck_bookings_status_known'), 'bookings', "status IN ('confirmed', 'waitlisted', 'cancelled')", schema='booking'
    )
    op.drop_constraint(op.f('fk_bookings_block_id_bookings'), 'bookings', schema='booking', type_='foreignkey')
    op.drop_index('ix_bookings_no_show_person', table_name='bookings', schema='booking', postgresql_where=sa.text("status = 'no_show'"))
    op.drop_index('ix_bookings_confirmed_ends', table_name='bookings', schema='booking', postgresql_where=sa.text("status = 'confirmed'"))
    op.drop_index('ix_bookings_block_id', table_name='bookings', schema='booking', postgresql_where=sa.text('block_id IS NOT NULL'))
    op.drop_column('bookings', 'pending_members', schema='booking')
    op.drop_column('bookings', 'block_id', schema='booking')
    op.drop_index('ix_line_assignments_block_id_at', table_name='line_assignments', schema='booking')
    op.drop_table('line_assignments', schema='booking')
    op.drop_table('restrictions', schema='booking')
