"""site places and audit log

Revision ID: c23b983826a3
Revises: 5b8d0e3a7c61
Create Date: 2026-12-02 16:41:25.186908
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'c23b983826a3'
down_revision: str | None = '5b8d0e3a7c61'
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
    schema='booking'
    )
    op.create_index('ix_audit_log_actor', 'audit_log', ['actor_id'], unique=False, schema='booking', postgresql_where=sa.text('actor_id IS NOT NULL'))
    op.create_index('ix_audit_log_entity', 'audit_log', ['entity_type', 'entity_id', 'occurred_at'], unique=False, schema='booking')
    op.create_index('ix_audit_log_occurred', 'audit_log', ['occurred_at', 'id'], unique=False, schema='booking')
    op.create_index('ix_audit_log_organization_occurred', 'audit_log', ['organization_id', 'occurred_at', 'id'], unique=False, schema='booking')
    op.create_table('site_places',
    sa.Column('site_id', sa.Uuid(), nullable=False),
    sa.Column('owner_org_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('name', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=True),
    sa.Column('district_name', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('urban', sa.Boolean(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('site_id', name=op.f('pk_site_places')),
    schema='booking'
    )
    op.create_index('ix_site_places_district_id', 'site_places', ['district_id'], unique=False, schema='booking')


def downgrade() -> None:
    op.drop_index('ix_site_places_district_id', table_name='site_places', schema='booking')
    op.drop_table('site_places', schema='booking')
    op.drop_index('ix_audit_log_organization_occurred', table_name='audit_log', schema='booking')
    op.drop_index('ix_audit_log_occurred', table_name='audit_log', schema='booking')
    op.drop_index('ix_audit_log_entity', table_name='audit_log', schema='booking')
    op.drop_index('ix_audit_log_actor', table_name='audit_log', schema='booking', postgresql_where=sa.text('actor_id IS NOT NULL'))
    op.drop_table('audit_log', schema='booking')
