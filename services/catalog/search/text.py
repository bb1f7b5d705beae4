"""Text search words, in Chinese and English, for pg_trgm: how titles, names and queries are written down.

Measured on this stack's PostgreSQL 18 (database LC_CTYPE `C.UTF-8`, libc provider): pg_trgm does take
trigrams from CJK (`show_trgm('西湖读书')` has 5: CJK characters count as word characters), but a Chinese
sentence has no spaces, so a whole clause is one "word". A two-character query (most Chinese words) then
only matches a word that *starts* or *ends* the clause: on the demo city's 93 activities, plain
`word_similarity` found `西湖` in 19 of the 23 activities that contain it, `读书` and `湖畔` in none, `朗读` in
2 of 4; and `LIKE '%读书%'` finds them all but has no trigram to look up in the index (a full index scan).

Two ways to cut the text into words were compared on the same data and queries (西湖, 西湖读书, 读书节,
西湖读书节, 朗读, 湖畔, 苏轼, 读书, 阅读): the jieba segmenter (`cut_for_search`, at write and at query time)
and CJK bigrams (every run of CJK characters also written as its overlapping two-character pairs, as
Lucene's CJK analyzer does). Both found exactly what `LIKE` finds for every query of two or more
characters. Bigrams were chosen: jieba costs 0.7 s and about 90 MB per worker process to load its
dictionary, adds a dependency, and makes what is indexed depend on a dictionary's version; bigrams are a
few lines of SQL, identical at write and query time, need no reindex when vocabulary changes, and cost
microseconds per query. Their one gap, a single-character query (`书`), is covered by the substring test.
Like any trigram search, it needs a database whose LC_CTYPE classifies CJK as letters (`C.UTF-8`,
`en_US.UTF-8`, `zh_CN.UTF-8`; not `C`).

The functions live in the database (migration `b7c1e5a9d3f0`), so stored text and queries are made by one
definition, and generated columns (`sites.search_name`, `series.search_name`, `activities.search_title`)
keep themselves in step:
* `catalog.search_words(text)`: the text lowercased, then its CJK bigrams (`西湖读书节 west lake 西湖 湖读 读书 书节`);
* `catalog.localized_search_words(jsonb)`: the same over every language of a localized object;
* `catalog.search_query_words(text)`: a query lowercased with each CJK run replaced by its bigrams.

`activities.search_names` (the site's and the series' names) and `activities.search_text` (titles,
descriptions and those names: what `q` matches, GIN-indexed) read other tables, so the service rewrites
them with `search_text_upkeep` whenever an activity's text, site or series changes (sites and series are
never renamed: they have no update endpoint).
"""

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Double,
    Text,
    Update,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import LateralFromClause

from services.catalog.models import Activity, Series, Site

# The relevance weights (documented on the search endpoint): a title match counts twice, the site's or the
# series' name once, anywhere in the text (titles and descriptions) once; the sum is scaled to 0..1.
TITLE_WEIGHT = 2.0
NAMES_WEIGHT = 1.0
TEXT_WEIGHT = 1.0


def like_pattern(text: str) -> str:
    """`%text%` with LIKE's own wildcards escaped (backslash is PostgreSQL's default escape)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# The query as the parameters `q` and `q_pattern`: given at execution (`query_values`) when `q` is None here.


def query_words(q: str | None = None) -> ColumnElement[str]:
    """The query's search words, computed once per statement (an InitPlan), not once per row."""
    return select(func.catalog.search_query_words(bindparam("q", q, type_=Text))).scalar_subquery()


def contains(column: Any, q: str | None = None) -> ColumnElement[bool]:
    """`q` (lowercased) is a substring of `column`."""
    pattern = bindparam("q_pattern", None if q is None else like_pattern(q.lower()), type_=Text)
    condition: ColumnElement[bool] = column.like(pattern)
    return condition


def similar(column: Any, q: str | None = None) -> ColumnElement[bool]:
    """`q` is similar to a word run of `column`: pg_trgm word similarity >= `pg_trgm.word_similarity_threshold`
    (0.6 by default), that is `word_distance` <= 0.4."""
    return query_words(q).op("<%")(column)


def word_distance(column: Any, q: str | None = None) -> ColumnElement[float]:
    """1 - the word similarity of `q` with `column` (pg_trgm `<<->`): what a GiST trigram index on `column`
    returns its rows in, nearest first (`ORDER BY word_distance LIMIT n` reads about n rows, not every match)."""
    return query_words(q).op("<<->", return_type=Double)(column)


def matches(column: Any, q: str | None = None) -> ColumnElement[bool]:
    """`q` is similar to a word run of `column` (pg_trgm word similarity >= 0.6, its default threshold:
    `poetri` finds "poetry") or a substring of it (`100%`, a single Chinese character). Both test the GIN
    trigram index on `column`."""
    return or_(contains(column, q), similar(column, q))


def similarity(column: Any, q: str | None = None) -> ColumnElement[float]:
    return cast(func.word_similarity(query_words(q), column), Double)


def text_similarity(column: Any, q: str | None = None) -> ColumnElement[float]:
    """The query's word similarity with a long text (titles and descriptions), 1 outright when the query is a
    substring of it. A word similarity reads the whole text (about 24 us for a search text, against well
    under 1 us for the substring test), and a common word is found as such in most matches; the one
    difference is a query inside a longer word (`poet` in "poetry": 0.8 as a word similarity), which counts
    as found here as in `matches`."""
    return case((contains(column, q), literal_column("1.0", Double)), else_=similarity(column, q))


def similarity_threshold() -> ColumnElement[float]:
    """`pg_trgm.word_similarity_threshold`: `q <% column` is `word_similarity(q, column) >= this`."""
    return cast(func.current_setting(literal_column("'pg_trgm.word_similarity_threshold'")), Double)


def relevance_of(title: Any, names: Any, text: Any) -> ColumnElement[float]:
    """0..1: (2 x title + names + text) / 4, from the three word similarities (double precision)."""
    total: ColumnElement[float] = TITLE_WEIGHT * title + NAMES_WEIGHT * names + TEXT_WEIGHT * text
    return total / (TITLE_WEIGHT + NAMES_WEIGHT + TEXT_WEIGHT)


def activity_relevance() -> ColumnElement[float]:
    """0..1: (2 x title + names + text) / 4, each the word similarity of the query with that text (the text's
    1 when it contains the query: `text_similarity`)."""
    return relevance_of(
        similarity(Activity.search_title), similarity(Activity.search_names), text_similarity(Activity.search_text)
    )


def activity_similarities() -> LateralFromClause:
    """The query's three word similarities with the activity's title, names and text, as a LATERAL subquery
    (title, names, text) that PostgreSQL computes once per joined row and cannot pull up (OFFSET 0): a
    ranked search reuses `text` for the match (`similar_by`) and all three for the score, where the
    expressions written out twice would be evaluated twice (about 24 us each for the text)."""
    return (
        select(
            similarity(Activity.search_title).label("title"),
            similarity(Activity.search_names).label("names"),
            text_similarity(Activity.search_text).label("text"),
        )
        .correlate(Activity)
        .offset(literal_column("0"))
        .lateral("similarities")
    )


def matches_by(column: Any, text_similarity: Any) -> ColumnElement[bool]:
    """`matches(column)` given the word similarity of the query with `column` already computed: the same
    rule (`<%` is word similarity >= the threshold), without computing it again."""
    return or_(contains(column), text_similarity >= similarity_threshold())


def query_values(q: str) -> dict[str, str]:
    return {"q": q, "q_pattern": like_pattern(q.lower())}


def search_text_upkeep() -> Update:
    """Rewrite activities' `search_names` and `search_text` from their titles, descriptions, site and series
    (add a WHERE for the rows to rewrite)."""
    site_name = select(Site.search_name).where(Site.id == Activity.site_id).scalar_subquery()
    series_name = select(Series.search_name).where(Series.id == Activity.series_id).scalar_subquery()
    names = func.concat_ws(" ", site_name, series_name)
    text = func.concat_ws(
        " ",
        func.catalog.localized_search_words(Activity.title),
        func.catalog.localized_search_words(Activity.description),
        names,
    )
    # `updated_at` as it is: this is upkeep, not an edit.
    return update(Activity).values(search_names=names, search_text=text, updated_at=Activity.updated_at)


async def refresh_search_text(db: AsyncSession, activity: Activity) -> None:
    """After the activity's row is flushed: its search columns as the database computes them."""
    statement = search_text_upkeep().where(Activity.id == activity.id)
    await db.execute(statement, execution_options={"synchronize_session": False})
