"""districts and audit log

Revision ID: 83f48618a98c
Revises: b02bd3e95e24
Create Date: 2026-12-02 16:41:23.497234
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '83f48618a98c'
down_revision: str | None = 'b02bd3e95e24'
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
    schema='catalog'
    )
    op.create_index('ix_audit_log_actor', 'audit_log', ['actor_id'], unique=False, schema='catalog', postgresql_where=sa.text('actor_id IS NOT NULL'))
    op.create_index('ix_audit_log_entity', 'audit_log', ['entity_type', 'entity_id', 'occurred_at'], unique=False, schema='catalog')
    op.create_index('ix_audit_log_occurred', 'audit_log', ['occurred_at', 'id'], unique=False, schema='catalog')
    op.create_index('ix_audit_log_organization_occurred', 'audit_log', ['organization_id', 'occurred_at', 'id'], unique=False, schema='catalog')
    op.create_table('districts',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('urban', sa.Boolean(), nullable=False),
    sa.Column('population', sa.Integer(), nullable=True),
    sa.Column('boundary', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('min_lon', sa.Double(), nullable=False),
    sa.Column('min_lat', sa.Double(), nullable=False),
    sa.Column('max_lon', sa.Double(), nullable=False),
    sa.Column('max_lat', sa.Double(), nullable=False),
    sa.Column('area_m2', sa.Double(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('area_m2 > 0', name=op.f('ck_districts_area_positive')),
    sa.CheckConstraint('char_length(code) BETWEEN 1 AND 32', name=op.f('ck_districts_code_length')),
    sa.CheckConstraint('min_lat >= -90 AND max_lat <= 90 AND min_lon >= -180 AND max_lon <= 180', name=op.f('ck_districts_bbox_range')),
    sa.CheckConstraint('min_lon <= max_lon AND min_lat <= max_lat', name=op.f('ck_districts_bbox_ordered')),
    sa.CheckConstraint('population IS NULL OR population >= 0', name=op.f('ck_districts_population_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_districts')),
    schema='catalog'
    )
    op.create_index('uq_districts_code', 'districts', ['code'], unique=True, schema='catalog')
    op.add_column('sites', sa.Column('district_id', sa.Uuid(), nullable=True), schema='catalog')
    op.create_index('ix_sites_district_id', 'sites', ['district_id'], unique=False, schema='catalog')
    op.create_foreign_key(op.f('fk_sites_district_id_districts'), 'sites', 'districts', ['district_id'], ['id'], source_schema='catalog', referent_schema='catalog', ondelete='SET NULL')


def downgrade() -> None:
    op.drop_constraint(op.f('fk_sites_district_id_districts'), 'sites', schema='catalog', type_='foreignkey')
    op.drop_index('ix_sites_district_id', table_name='sites', schema='catalog')
    op.drop_column('sites', 'district_id', schema='catalog')
    op.drop_index('uq_districts_code', table_name='districts', schema='catalog')
    op.drop_table('districts', schema='catalog')
    op.drop_index('ix_audit_log_organization_occurred', table_name='audit_log', schema='catalog')
    op.drop_index('ix_audit_log_occurred', table_name='audit_log', schema='catalog')
    op.drop_index('ix_audit_log_entity', table_name='audit_log', schema='catalog')
    op.drop_index('ix_audit_log_actor', table_name='audit_log', schema='catalog', postgresql_where=sa.text('actor_id IS NOT NULL'))
    op.drop_table('audit_log', schema='catalog')
