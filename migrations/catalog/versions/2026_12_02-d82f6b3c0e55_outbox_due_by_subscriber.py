"""the relay claims each subscriber's due outbox rows on its own (a lane per subscriber)

Revision ID: d82f6b3c0e55
Revises: a4d2e8c61f35
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd82f6b3c0e55'
down_revision: str | None = 'a4d2e8c61f35'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.drop_index('ix_outbox_due', table_name='outbox', schema='catalog', postgresql_where=PENDING)
    op.create_index(
        'ix_outbox_due', 'outbox', ['subscriber', 'next_attempt_at', 'id'], schema='catalog', postgresql_where=PENDING
    )


def downgrade() -> None:
    op.drop_index('ix_outbox_due', table_name='outbox', schema='catalog', postgresql_where=PENDING)
    op.create_index('ix_outbox_due', 'outbox', ['next_attempt_at', 'id'], schema='catalog', postgresql_where=PENDING)
