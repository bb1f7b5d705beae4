"""invitations and join requests

Revision ID: 2e8fb5b7b249
Revises: 86e1fa757acb
Create Date: 2026-12-02 13:42:25.806794
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '2e8fb5b7b249'
down_revision: str | None = '86e1fa757acb'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('invitations',
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('invited_by', sa.Uuid(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_by', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("role IN ('admin', 'coordinator', 'member')", name=op.f('ck_invitations_role_known')),
    sa.CheckConstraint('(accepted_at IS NULL) = (accepted_by IS NULL)', name=op.f('ck_invitations_accepted_together')),
    sa.ForeignKeyConstraint(['accepted_by'], ['orgs.people.id'], name=op.f('fk_invitations_accepted_by_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['invited_by'], ['orgs.people.id'], name=op.f('fk_invitations_invited_by_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['orgs.organizations.id'], name=op.f('fk_invitations_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_invitations_token_hash')),
    schema='orgs'
    )
    op.create_index('ix_invitations_email_lower', 'invitations', [sa.literal_column('lower(email)')], unique=False, schema='orgs')
    op.create_index('ix_invitations_organization_id_created_at', 'invitations', ['organization_id', 'created_at'], unique=False, schema='orgs')
    op.create_table('join_requests',
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'accepted', 'refused', 'withdrawn')", name=op.f('ck_join_requests_status_known')),
    sa.CheckConstraint('message IS NULL OR char_length(message) <= 500', name=op.f('ck_join_requests_message_length')),
    sa.ForeignKeyConstraint(['decided_by'], ['orgs.people.id'], name=op.f('fk_join_requests_decided_by_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['orgs.organizations.id'], name=op.f('fk_join_requests_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['orgs.people.id'], name=op.f('fk_join_requests_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_join_requests')),
    schema='orgs'
    )
    op.create_index('ix_join_requests_organization_id_status', 'join_requests', ['organization_id', 'status', 'created_at'], unique=False, schema='orgs')
    op.create_index('ix_join_requests_person_id', 'join_requests', ['person_id'], unique=False, schema='orgs')
    op.create_index('uq_join_requests_pending', 'join_requests', ['organization_id', 'person_id'], unique=True, schema='orgs', postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_index('uq_join_requests_pending', table_name='join_requests', schema='orgs', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index('ix_join_requests_person_id', table_name='join_requests', schema='orgs')
    op.drop_index('ix_join_requests_organization_id_status', table_name='join_requests', schema='orgs')
    op.drop_table('join_requests', schema='orgs')
    op.drop_index('ix_invitations_organization_id_created_at', table_name='invitations', schema='orgs')
    op.drop_index('ix_invitations_email_lower', table_name='invitations', schema='orgs')
    op.drop_table('invitations', schema='orgs')
