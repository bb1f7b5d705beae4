"""people.language (their notices' language); login throttle keyed by the email's SHA-256, not the email

Revision ID: 8f5e6195bb18
Revises: b28de0969d9e
Create Date: 2026-12-02 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '8f5e6195bb18'
down_revision: str | None = 'b28de0969d9e'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('people', sa.Column('language', sa.String(length=8), nullable=True), schema='orgs')
    op.create_check_constraint(
        op.f('ck_people_language_known'), 'people', "language IN ('zh-CN', 'en')", schema='orgs'
    )
    # The keys the service now computes (services/orgs/auth/service.py `throttle_key`): running counts and
    # locks carry over, and no row keeps an email.
    op.execute("UPDATE orgs.login_throttle SET email_key = encode(sha256(convert_to(email_key, 'UTF8')), 'hex')")


def downgrade() -> None:
    # A digest cannot be turned back into its email: the counts start afresh.
    op.execute('DELETE FROM orgs.login_throttle')
    op.drop_constraint(op.f('ck_people_language_known'), 'people', schema='orgs', type_='check')
    op.drop_column('people', 'language', schema='orgs')
