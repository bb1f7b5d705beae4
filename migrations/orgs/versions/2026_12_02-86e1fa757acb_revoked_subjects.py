"""revoked subjects: erased people whose unexpired access tokens the other services refuse (SHA-256 of the id)

Revision ID: 86e1fa757acb
Revises: 5f3c5fbe4fac
Create Date: 2026-12-02 05:53:07.817406
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '86e1fa757acb'
down_revision: str | None = '5f3c5fbe4fac'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('revoked_subjects',
    sa.Column('subject_hash', sa.String(length=64), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('subject_hash', name=op.f('pk_revoked_subjects')),
    schema='orgs'
    )


def downgrade() -> None:
    op.drop_table('revoked_subjects', schema='orgs')
