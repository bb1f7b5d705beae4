"""search text gist index: activities nearest a query first (ranked search without `near`)

Revision ID: b02bd3e95e24
Revises: b7c1e5a9d3f0
Create Date: 2026-12-02 14:57:01.663925
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b02bd3e95e24"
down_revision: str | None = "b7c1e5a9d3f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A GiST trigram index orders by word distance (`<<->`, KNN); the GIN one beside it cannot.
    op.create_index(
        "ix_activities_search_text_trgm_gist",
        "activities",
        ["search_text"],
        schema="catalog",
        postgresql_using="gist",
        postgresql_ops={"search_text": "gist_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_activities_search_text_trgm_gist", table_name="activities", schema="catalog")
