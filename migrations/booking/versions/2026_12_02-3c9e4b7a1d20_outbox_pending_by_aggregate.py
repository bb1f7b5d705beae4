"""index of pending outbox rows by aggregate (the relay coalesces snapshot events)

Revision ID: 3c9e4b7a1d20
Revises: 8f3a1c6d2e57
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '3c9e4b7a1d20'
down_revision: str | None = '8f3a1c6d2e57'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_outbox_pending_aggregate',
        'outbox',
        ['aggregate_id'],
        unique=False,
        schema='booking',
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(
        'ix_outbox_pending_aggregate',
        table_name='outbox',
        schema='booking',
        postgresql_where=sa.text("status = 'pending'"),
    )
