"""invitation mails (one per invitation, forgotten once done) and no_show holdings

Revision ID: dcc193eca638
Revises: 823c248b8242
Create Date: 2026-12-02 13:48:29.567260
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "dcc193eca638"
down_revision: str | None = "823c248b8242"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Columns a notice's mail always has and an invitation's mail drops once sent or given up.
WORDS = {
    "to_address": sa.VARCHAR(length=320),
    "subject": sa.TEXT(),
    "text_body": sa.TEXT(),
    "html_body": sa.TEXT(),
}
NOTICE_ONLY = {"notification_id": sa.UUID(), "person_id": sa.UUID(), "facts": postgresql.JSONB(astext_type=sa.Text())}


def upgrade() -> None:
    op.add_column("mails", sa.Column("invitation_id", sa.Uuid(), nullable=True), schema="notify")
    for column, type_ in (NOTICE_ONLY | WORDS).items():
        op.alter_column("mails", column, existing_type=type_, nullable=True, schema="notify")
    op.create_unique_constraint(op.f("uq_mails_invitation_id"), "mails", ["invitation_id"], schema="notify")
    op.create_check_constraint(
        op.f("ck_mails_notice_or_invitation"),
        "mails",
        "(invitation_id IS NULL AND notification_id IS NOT NULL AND person_id IS NOT NULL AND facts IS NOT NULL)"
        " OR (invitation_id IS NOT NULL AND notification_id IS NULL AND person_id IS NULL AND facts IS NULL)",
        schema="notify",
    )
    op.create_check_constraint(
        op.f("ck_mails_invitation_forgotten_when_done"),
        "mails",
        "num_nulls(to_address, subject, text_body, html_body)"
        " = CASE WHEN invitation_id IS NOT NULL AND status <> 'pending' THEN 4 ELSE 0 END",
        schema="notify",
    )
    op.drop_constraint(op.f("ck_holdings_status_known"), "holdings", schema="notify", type_="check")
    op.create_check_constraint(
        op.f("ck_holdings_status_known"),
        "holdings",
        "status IN ('confirmed', 'waitlisted', 'cancelled', 'no_show')",
        schema="notify",
    )


def downgrade() -> None:
    op.execute("UPDATE notify.holdings SET status = 'cancelled' WHERE status = 'no_show'")
    op.drop_constraint(op.f("ck_holdings_status_known"), "holdings", schema="notify", type_="check")
    op.create_check_constraint(
        op.f("ck_holdings_status_known"),
        "holdings",
        "status IN ('confirmed', 'waitlisted', 'cancelled')",
        schema="notify",
    )
    op.execute("DELETE FROM notify.mails WHERE invitation_id IS NOT NULL")
    op.drop_constraint(op.f("ck_mails_invitation_forgotten_when_done"), "mails", schema="notify", type_="check")
    op.drop_constraint(op.f("ck_mails_notice_or_invitation"), "mails", schema="notify", type_="check")
    op.drop_constraint(op.f("uq_mails_invitation_id"), "mails", schema="notify", type_="unique")
    for column, type_ in (NOTICE_ONLY | WORDS).items():
        op.alter_column("mails", column, existing_type=type_, nullable=False, schema="notify")
    op.drop_column("mails", "invitation_id", schema="notify")
