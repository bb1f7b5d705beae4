"""invitation revocation: revoked_at (revoked by an admin or superseded), one open invitation per address

Revision ID: 8105dc7b305c
Revises: 2e8fb5b7b249
Create Date: 2026-12-02 16:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '8105dc7b305c'
down_revision: str | None = '2e8fb5b7b249'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('invitations', sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True), schema='orgs')
    op.create_check_constraint(
        op.f('ck_invitations_accepted_or_revoked'),
        'invitations',
        'accepted_at IS NULL OR revoked_at IS NULL',
        schema='orgs',
    )
    op.create_index(
        'uq_invitations_open',
        'invitations',
        ['organization_id', sa.literal_column('lower(email)')],
        unique=True,
        schema='orgs',
        postgresql_where=sa.text('accepted_at IS NULL AND revoked_at IS NULL'),
    )


def downgrade() -> None:
    op.drop_index(
        'uq_invitations_open',
        table_name='invitations',
        schema='orgs',
        postgresql_where=sa.text('accepted_at IS NULL AND revoked_at IS NULL'),
    )
    op.drop_constraint(op.f('ck_invitations_accepted_or_revoked'), 'invitations', schema='orgs', type_='check')
    op.drop_column('invitations', 'revoked_at', schema='orgs')
