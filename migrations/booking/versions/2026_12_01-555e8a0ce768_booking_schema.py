"""booking schema

Revision ID: 555e8a0ce768
Revises: 
Create Date: 2026-12-01 12:16:44.176419
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '555e8a0ce768'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
