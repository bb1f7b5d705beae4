"""ranked text search: search words (lowercased, CJK bigrams) for titles, site and series names; online sessions

Revision ID: b7c1e5a9d3f0
Revises: 6e7ede2fb478
Create Date: 2026-12-02 15:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c1e5a9d3f0"
down_revision: str | None = "6e7ede2fb478"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same functions as services/catalog/search/text.py documents (SQL-standard bodies: parsed now, so their
# dependencies are tracked and a dump restores them in order).
CJK_RUN = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
FUNCTIONS = [
    f"""
    CREATE FUNCTION catalog.cjk_bigrams(input text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN (
        SELECT coalesce(string_agg(substr(run.chars[1], position, 2), ' ' ORDER BY run.n, position), '')
        FROM regexp_matches(input, '{CJK_RUN}', 'g') WITH ORDINALITY AS run(chars, n),
             generate_series(1, greatest(char_length(run.chars[1]) - 1, 1)) AS position
    )
    """,
    """
    CREATE FUNCTION catalog.search_words(input text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN lower(coalesce(input, '')) || ' ' || coalesce(catalog.cjk_bigrams(input), '')
    """,
    """
    CREATE FUNCTION catalog.localized_search_words(localized jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN catalog.search_words(CASE WHEN jsonb_typeof(localized) = 'object' THEN
        (SELECT string_agg(value, ' ' ORDER BY key) FROM jsonb_each_text(localized)) END)
    """,
    f"""
    CREATE FUNCTION catalog.search_query_words(input text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN lower(regexp_replace(coalesce(input, ''), '{CJK_RUN}', ' ', 'g')) || ' '
           || coalesce(catalog.cjk_bigrams(input), '')
    """,
]
NAMES = """concat_ws(' ', (SELECT s.search_name FROM catalog.sites AS s WHERE s.id = a.site_id),
                     (SELECT r.search_name FROM catalog.series AS r WHERE r.id = a.series_id))"""
ONLINE = sa.text("status = 'scheduled' AND site_id IS NULL")


def upgrade() -> None:
    for statement in FUNCTIONS:
        op.execute(statement)
    for table, source in (("sites", "name"), ("series", "name"), ("activities", "title")):
        column = "search_name" if table != "activities" else "search_title"
        op.add_column(
            table,
            sa.Column(
                column,
                sa.Text(),
                sa.Computed(f"catalog.localized_search_words({source})", persisted=True),
                nullable=False,
            ),
            schema="catalog",
        )
    op.add_column(
        "activities", sa.Column("search_names", sa.Text(), server_default="", nullable=False), schema="catalog"
    )
    op.execute(
        f"""UPDATE catalog.activities AS a SET search_names = {NAMES},
            search_text = concat_ws(' ', catalog.localized_search_words(a.title),
                                    catalog.localized_search_words(a.description), {NAMES})"""
    )
    op.create_index(
        "ix_sites_search_name_trgm",
        "sites",
        ["search_name"],
        schema="catalog",
        postgresql_using="gin",
        postgresql_ops={"search_name": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_sessions_online_starts_at_id", "sessions", ["starts_at", "id"], schema="catalog", postgresql_where=ONLINE
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_online_starts_at_id", table_name="sessions", schema="catalog", postgresql_where=ONLINE)
    op.drop_index("ix_sites_search_name_trgm", table_name="sites", schema="catalog", postgresql_using="gin")
    op.drop_column("activities", "search_names", schema="catalog")
    op.drop_column("activities", "search_title", schema="catalog")
    op.drop_column("series", "search_name", schema="catalog")
    op.drop_column("sites", "search_name", schema="catalog")
    op.execute(
        """UPDATE catalog.activities SET search_text = lower(concat_ws(' ',
               (SELECT string_agg(value, ' ') FROM jsonb_each_text(title)),
               (SELECT string_agg(value, ' ') FROM jsonb_each_text(description))))"""
    )
    for name in (
        "search_query_words(text)",
        "localized_search_words(jsonb)",
        "search_words(text)",
        "cjk_bigrams(text)",
    ):
        op.execute(f"DROP FUNCTION catalog.{name}")
