"""orgs event tables: the outbox of person.erased (and the inbox tables every service has)

Revision ID: 5f3c5fbe4fac
Revises: 8f5e6195bb18
Create Date: 2026-12-02 06:01:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '5f3c5fbe4fac'
down_revision: str | None = '8f5e6195bb18'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('inbox',
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('producer', sa.String(length=50), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_inbox')),
    schema='orgs'
    )
    op.create_table('inbox_positions',
    sa.Column('producer', sa.String(length=50), nullable=False),
    sa.Column('aggregate_id', sa.Uuid(), nullable=False),
    sa.Column('last_sequence', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('producer', 'aggregate_id', name=op.f('pk_inbox_positions')),
    schema='orgs'
    )
    op.create_table('outbox',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('subscriber', sa.String(length=50), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('aggregate_id', sa.Uuid(), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name=op.f('ck_outbox_status_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    schema='orgs'
    )
    op.create_index('ix_outbox_due', 'outbox', ['subscriber', 'next_attempt_at', 'id'], unique=False, schema='orgs', postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_outbox_pending_aggregate', 'outbox', ['aggregate_id'], unique=False, schema='orgs', postgresql_where=sa.text("status = 'pending'"))
    op.create_index('uq_outbox_event_id_subscriber', 'outbox', ['event_id', 'subscriber'], unique=True, schema='orgs')
    op.create_table('outbox_sequences',
    sa.Column('aggregate_id', sa.Uuid(), nullable=False),
    sa.Column('last_sequence', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('aggregate_id', name=op.f('pk_outbox_sequences')),
    schema='orgs'
    )


def downgrade() -> None:
    op.drop_table('outbox_sequences', schema='orgs')
    op.drop_index('uq_outbox_event_id_subscriber', table_name='outbox', schema='orgs')
    op.drop_index('ix_outbox_pending_aggregate', table_name='outbox', schema='orgs', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index('ix_outbox_due', table_name='outbox', schema='orgs', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('outbox', schema='orgs')
    op.drop_table('inbox_positions', schema='orgs')
    op.drop_table('inbox', schema='orgs')
