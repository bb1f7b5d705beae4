"""the relay claims each subscriber's due outbox rows on its own (a lane per subscriber)

Revision ID: c71e5a2b9d44
Revises: 607bfe9d9086
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c71e5a2b9d44'
down_revision: str | None = '607bfe9d9086'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.drop_index('ix_outbox_due', table_name='outbox', schema='booking', postgresql_where=PENDING)
    op.create_index(
        'ix_outbox_due', 'outbox', ['subscriber', 'next_attempt_at', 'id'], schema='booking', postgresql_where=PENDING
    )


def downgrade() -> None:
    op.drop_index('ix_outbox_due', table_name='outbox', schema='booking', postgresql_where=PENDING)
    op.create_index('ix_outbox_due', 'outbox', ['next_attempt_at', 'id'], schema='booking', postgresql_where=PENDING)
