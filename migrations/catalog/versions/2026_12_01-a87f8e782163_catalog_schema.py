"""catalog schema

Revision ID: a87f8e782163
Revises: 
Create Date: 2026-12-01 12:16:41.445818
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'a87f8e782163'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
