"""index of pending outbox rows by aggregate (the relay coalesces snapshot events)

Revision ID: a4d2e8c61f35
Revises: f76c79a36b67
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a4d2e8c61f35'
down_revision: str | None = 'f76c79a36b67'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_outbox_pending_aggregate',
        'outbox',
        ['aggregate_id'],
        unique=False,
        schema='catalog',
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(
        'ix_outbox_pending_aggregate',
        table_name='outbox',
        schema='catalog',
        postgresql_where=sa.text("status = 'pending'"),
    )
