"""audit log

Revision ID: e63f716a92dc
Revises: 8105dc7b305c
Create Date: 2026-12-02 16:41:26.908810
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'e63f716a92dc'
down_revision: str | None = '8105dc7b305c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('actor_is_operator', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity_type', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=True),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.CheckConstraint('before IS NOT NULL OR after IS NOT NULL', name=op.f('ck_audit_log_records_a_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    schema='orgs'
    )
    op.create_index('ix_audit_log_actor', 'audit_log', ['actor_id'], unique=False, schema='orgs', postgresql_where=sa.text('actor_id IS NOT NULL'))
    op.create_index('ix_audit_log_entity', 'audit_log', ['entity_type', 'entity_id', 'occurred_at'], unique=False, schema='orgs')
    op.create_index('ix_audit_log_occurred', 'audit_log', ['occurred_at', 'id'], unique=False, schema='orgs')
    op.create_index('ix_audit_log_organization_occurred', 'audit_log', ['organization_id', 'occurred_at', 'id'], unique=False, schema='orgs')


def downgrade() -> None:
    op.drop_index('ix_audit_log_organization_occurred', table_name='audit_log', schema='orgs')
    op.drop_index('ix_audit_log_occurred', table_name='audit_log', schema='orgs')
    op.drop_index('ix_audit_log_entity', table_name='audit_log', schema='orgs')
    op.drop_index('ix_audit_log_actor', table_name='audit_log', schema='orgs', postgresql_where=sa.text('actor_id IS NOT NULL'))
    op.drop_table('audit_log', schema='orgs')
