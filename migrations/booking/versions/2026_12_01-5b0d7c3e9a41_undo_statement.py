"""booking.undo_statement(reason): raise SQLSTATE LC001 to undo a single statement

Revision ID: 5b0d7c3e9a41
Revises: 28266483bded
Create Date: 2026-12-01 15:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '5b0d7c3e9a41'
down_revision: str | None = '28266483bded'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A statement run outside a transaction block calls this to undo all it did (its CTEs included):
    # the booking hot path, when it did not book cleanly. The code is the service's own (class LC).
    op.execute(
        """
        CREATE FUNCTION booking.undo_statement(reason text) RETURNS integer
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION USING ERRCODE = 'LC001', MESSAGE = reason;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION booking.undo_statement(text)")
