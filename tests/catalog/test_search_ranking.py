"""Ranked text search (issue 15): relevance, Chinese without spaces, typos, site and series names, and the
accessibility, mode and price filters of `GET /v1/search/sessions` and `GET /v1/sites`."""

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from learncity.demo import seed_demo
from services.catalog.geo import EARTH_RADIUS_M
from services.catalog.search import repository
from tests.catalog.conftest import HUBIN, Catalog, later
from tests.catalog.test_search import NEAR, _all_pages, _search
from tests.catalog.test_sites import north_of


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["session"]["id"] for item in items]


async def test_a_title_match_ranks_above_a_description_match(client: httpx.AsyncClient, catalog: Catalog) -> None:
    site = await catalog.site()
    in_description = await catalog.activity(
        site["id"],
        title={"zh-CN": "湖边散步", "en": "Lakeside Walk"},
        description={"en": "We stop to read some poetry on the way."},
    )
    in_title = await catalog.activity(
        site["id"],
        title={"zh-CN": "诗歌之夜", "en": "Poetry Evening"},
        description={"en": "An evening of readings."},
    )
    unrelated = await catalog.activity(site["id"], title={"en": "Tai Chi"}, description={"en": "Slow movement."})
    # The description match starts first: relevance, not time, puts the title match ahead.
    walk = await catalog.session(in_description["id"], starts_at=later(days=1))
    evening = await catalog.session(in_title["id"], starts_at=later(days=3))
    await catalog.session(unrelated["id"], starts_at=later(days=2))
    for params in ({"q": "poetry"}, {"q": "poetry", "near": NEAR}, {"q": "Poetry", "sort": "relevance"}):
        assert _ids((await _search(client, **params))["items"]) == [evening["id"], walk["id"]], params
    # Same relevance: the earlier session first (start time breaks ties).
    second_evening = await catalog.session(in_title["id"], starts_at=later(days=2))
    items = (await _search(client, q="poetry evening"))["items"]
    assert _ids(items)[:2] == [second_evening["id"], evening["id"]]
    # Other sorts still apply when asked for.
    by_time = (await _search(client, q="poetry", sort="starts_at"))["items"]
    assert _ids(by_time) == [walk["id"], second_evening["id"], evening["id"]]


async def test_relevance_with_near_is_discounted_by_distance(client: httpx.AsyncClient, catalog: Catalog) -> None:
    near_site = await catalog.site()
    far_site = await catalog.site(lat=north_of(HUBIN, 1000, EARTH_RADIUS_M)[0], lon=HUBIN[1])
    title = {"en": "Poetry Reading"}
    far = await catalog.session((await catalog.activity(far_site["id"], title=title))["id"], starts_at=later(days=1))
    close = await catalog.session((await catalog.activity(near_site["id"], title=title))["id"], starts_at=later(days=2))
    described = await catalog.activity(
        near_site["id"], title={"en": "Walk"}, description={"en": "Some poetry reading on the way."}
    )
    described_session = await catalog.session(described["id"])
    items = (await _search(client, q="poetry reading", near=NEAR))["items"]
    # Same title: the nearer first; a title match 1 km away still beats a description match next door.
    assert _ids(items) == [close["id"], far["id"], described_session["id"]]
    assert items[1]["distance_m"] > 900


async def test_chinese_queries_find_the_west_lake_reading_festival(client: httpx.AsyncClient, catalog: Catalog) -> None:
    site = await catalog.site()
    festival = await catalog.series()  # 西湖读书节, West Lake Reading Festival
    lu_xun = await catalog.activity(
        site["id"],
        series_id=festival["id"],
        title={"zh-CN": "鲁迅在杭州：《朝花夕拾》朗读会", "en": "Lu Xun in Hangzhou"},
        description={"zh-CN": "师生与市民共读《朝花夕拾》。"},
    )
    opening = await catalog.activity(
        site["id"],
        series_id=festival["id"],
        title={"zh-CN": "开幕式暨湖畔阅读嘉年华", "en": "Opening Carnival"},
        description={"zh-CN": "在柳浪闻莺草坪开启为期三周的读书节。"},
    )
    opera = await catalog.activity(
        site["id"], title={"zh-CN": "越剧唱腔入门工作坊", "en": "Yue Opera Singing"}, description=None
    )
    lake_walk = await catalog.activity(
        site["id"],
        title={"zh-CN": "亲子自然观察", "en": "Nature Watch"},
        description={"zh-CN": "在杭州西湖边观察鸟类。"},
    )
    sessions = {
        name: (await catalog.session(a["id"]))["id"]
        for name, a in {"lu_xun": lu_xun, "opening": opening, "opera": opera, "lake_walk": lake_walk}.items()
    }

    async def found(q: str) -> list[str]:
        names = {session_id: name for name, session_id in sessions.items()}
        return [names[session_id] for session_id in _ids(await _all_pages(client, q=q))]

    # The festival's sessions through its series name; the lake walk through 西湖 in the middle of a sentence.
    assert sorted(await found("西湖读书")) == ["lu_xun", "opening"]
    assert sorted(await found("西湖读书节")) == ["lu_xun", "opening"]
    assert sorted(await found("西湖")) == ["lake_walk", "lu_xun", "opening"]
    assert sorted(await found("读书节")) == ["lu_xun", "opening"]
    assert await found("朗读") == ["lu_xun"]  # two characters inside a title
    assert await found("湖畔") == ["opening"]
    assert await found("越剧") == ["opera"]
    assert await found("拾") == ["lu_xun"]  # a single character: a substring
    assert await found("京剧") == []
    assert sorted(await found("west lake reading")) == ["lu_xun", "opening"]  # the series' English name


async def test_typos_and_partial_words_still_match(client: httpx.AsyncClient, catalog: Catalog) -> None:
    site = await catalog.site()
    poetry = await catalog.activity(site["id"], title={"en": "Song Poetry Night Reading"}, description=None)
    film = await catalog.activity(site["id"], title={"en": "Documentary Screening"}, description=None)
    poetry_session = await catalog.session(poetry["id"])
    film_session = await catalog.session(film["id"])
    for q in ("poetri", "poetr", "POETRY", "night readng", "documentry"):
        expected = film_session["id"] if q == "documentry" else poetry_session["id"]
        assert _ids((await _search(client, q=q))["items"]) == [expected], q
    assert (await _search(client, q="opera"))["items"] == []


async def test_site_names_are_searched(client: httpx.AsyncClient, catalog: Catalog) -> None:
    museum = await catalog.site(name={"zh-CN": "浙江省博物馆", "en": "Zhejiang Provincial Museum"}, kind="museum")
    library = await catalog.site()  # 湖滨图书室 Hubin Reading Room
    at_museum = await catalog.session((await catalog.activity(museum["id"], title={"en": "Talk"}))["id"])
    at_library = await catalog.session((await catalog.activity(library["id"], title={"en": "Talk"}))["id"])
    assert _ids((await _search(client, q="博物馆"))["items"]) == [at_museum["id"]]
    assert _ids((await _search(client, q="hubin reading room"))["items"]) == [at_library["id"]]


async def test_sites_are_found_by_name(client: httpx.AsyncClient, catalog: Catalog) -> None:
    museum = await catalog.site(name={"zh-CN": "浙江省博物馆", "en": "Zhejiang Provincial Museum"}, kind="museum")
    library = await catalog.site()  # 湖滨图书室 Hubin Reading Room
    far_library = await catalog.site(
        name={"zh-CN": "湖滨图书馆", "en": "Hubin Library"}, lat=north_of(HUBIN, 500, EARTH_RADIUS_M)[0], lon=HUBIN[1]
    )

    async def names(**params: Any) -> list[str]:
        response = await client.get("/v1/sites", params=params)
        assert response.status_code == 200, response.text
        return [site["id"] for site in response.json()["items"]]

    assert await names(q="博物") == [museum["id"]]
    assert await names(q="museum") == [museum["id"]]
    assert await names(q="musem") == [museum["id"]]  # a typo
    assert await names(q="hubin reading room") == [library["id"]]
    assert await names(q="hubin") == [library["id"], far_library["id"]]  # equally similar: by id
    assert await names(q="hubin librari") == [far_library["id"]]
    assert await names(q="hubin library") == [far_library["id"]]
    assert set(await names(q="湖滨")) == {library["id"], far_library["id"]}
    assert await names(q="湖滨", near=NEAR, walk_minutes=15) == [library["id"], far_library["id"]]  # nearest first
    assert await names(q="hubin", near=NEAR, walk_minutes=3) == [library["id"]]
    assert await names(q="opera house") == []
    # Paging through a ranked list neither repeats nor skips.
    first = await client.get("/v1/sites", params={"q": "湖滨", "limit": 1})
    cursor = first.json()["next_cursor"]
    second = await client.get("/v1/sites", params={"q": "湖滨", "limit": 1, "cursor": cursor})
    assert {first.json()["items"][0]["id"], second.json()["items"][0]["id"]} == {library["id"], far_library["id"]}
    assert second.json()["next_cursor"] is None


async def test_accessibility_keeps_only_sites_with_every_tag(client: httpx.AsyncClient, catalog: Catalog) -> None:
    both = await catalog.site(accessibility=["step_free", "hearing_loop"])
    step_free = await catalog.site(accessibility=["step_free"])
    neither = await catalog.site()
    sessions = {}
    for site in (both, step_free, neither):
        sessions[site["id"]] = (await catalog.session((await catalog.activity(site["id"]))["id"]))["id"]
    online = await catalog.activity(None, mode="online", title={"en": "Online Talk"})
    await catalog.session(online["id"])

    async def sites(**params: Any) -> set[str]:
        response = await client.get("/v1/sites", params=params)
        assert response.status_code == 200, response.text
        return {site["id"] for site in response.json()["items"]}

    async def found(**params: Any) -> set[str]:
        return set(_ids(await _all_pages(client, **params)))

    assert await sites(accessibility="hearing_loop,step_free") == {both["id"]}
    assert await sites(accessibility="step_free") == {both["id"], step_free["id"]}
    assert await sites(accessibility="step_free", near=NEAR) == {both["id"], step_free["id"]}
    assert await found(accessibility="step_free,hearing_loop") == {sessions[both["id"]]}
    assert await found(accessibility="step_free", near=NEAR) == {sessions[both["id"]], sessions[step_free["id"]]}
    assert await found(accessibility="step_free,step_free") == {sessions[both["id"]], sessions[step_free["id"]]}


async def test_online_sessions_without_a_place(client: httpx.AsyncClient, catalog: Catalog) -> None:
    site = await catalog.site()
    in_person = await catalog.session((await catalog.activity(site["id"]))["id"], starts_at=later(days=3))
    hybrid = await catalog.activity(site["id"], mode="hybrid", title={"en": "Hybrid Talk"})
    hybrid_session = await catalog.session(hybrid["id"], starts_at=later(days=2), online_capacity=5)
    online = await catalog.activity(None, mode="online", title={"zh-CN": "线上读书会", "en": "Online Book Club"})
    online_session = await catalog.session(online["id"], starts_at=later(days=1))
    assert online_session["site_id"] is None

    async def found(**params: Any) -> list[str]:
        return _ids(await _all_pages(client, **params))

    everything = await _all_pages(client)
    assert _ids(everything) == [online_session["id"], hybrid_session["id"], in_person["id"]]
    assert everything[0]["site"] is None and everything[0]["distance_m"] is None
    assert await found(mode="in_person") == [hybrid_session["id"], in_person["id"]]
    assert await found(mode="online") == [online_session["id"], hybrid_session["id"]]
    assert await found(q="book club") == [online_session["id"]]
    # With `near`: the walkable sessions first (nearest), then the online ones (no distance).
    near = await _all_pages(client, near=NEAR, limit=1)
    assert _ids(near) == [hybrid_session["id"], in_person["id"], online_session["id"]]
    assert near[-1]["distance_m"] is None and near[-1]["walk_minutes"] is None
    assert await found(near=NEAR, sort="starts_at", limit=2) == [
        hybrid_session["id"],
        in_person["id"],
        online_session["id"],
    ]
    assert await found(near=NEAR, mode="in_person") == [hybrid_session["id"], in_person["id"]]
    assert await found(near=NEAR, mode="online") == [hybrid_session["id"], online_session["id"]]
    assert await found(near=NEAR, q="online book club") == [online_session["id"]]


async def test_free_only(client: httpx.AsyncClient, catalog: Catalog) -> None:
    site = await catalog.site()
    free = await catalog.session((await catalog.activity(site["id"]))["id"])
    paid = await catalog.session((await catalog.activity(site["id"], price_cents=3000))["id"])
    assert set(_ids(await _all_pages(client, free="true"))) == {free["id"]}
    assert set(_ids(await _all_pages(client, free="false"))) == {free["id"], paid["id"]}
    assert set(_ids(await _all_pages(client, free="true", near=NEAR, q="宋词"))) == {free["id"]}


async def test_relevance_pages_never_repeat_or_skip(client: httpx.AsyncClient, catalog: Catalog) -> None:
    site = await catalog.site()
    titles = ["Poetry", "Poetry Night", "Song Poetry Night Reading", "Reading Circle"]
    expected = set()
    for index, title in enumerate(titles):
        activity = await catalog.activity(site["id"], title={"en": title}, description={"en": "poetry"})
        for day in (1, 2):
            expected.add((await catalog.session(activity["id"], starts_at=later(days=day, hours=index)))["id"])
    for params in ({"q": "poetry"}, {"q": "poetry", "near": NEAR}):
        items = await _all_pages(client, **params, limit=3)
        assert len(_ids(items)) == len(expected) and set(_ids(items)) == expected, params


async def test_without_near_only_the_activities_nearest_the_query_are_ranked(
    client: httpx.AsyncClient, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = await catalog.site()
    # Word distance of "poetry" to each search text: 0 (title), 0 (description), 0.29 (a typo in the title).
    in_title = await catalog.activity(
        site["id"], title={"en": "Poetry"}, description={"en": "An evening."}, kind="lecture"
    )
    in_description = await catalog.activity(site["id"], title={"en": "Walk"}, description={"en": "We read poetry."})
    typo = await catalog.activity(site["id"], title={"en": "Poetri Club"}, description=None)
    await catalog.activity(site["id"], title={"en": "Tai Chi"}, description={"en": "Slow movement."})
    title_sessions = [(await catalog.session(in_title["id"], starts_at=later(days=d)))["id"] for d in (3, 1)]
    description_session = (await catalog.session(in_description["id"], starts_at=later(days=2)))["id"]
    typo_session = (await catalog.session(typo["id"], starts_at=later(days=1, hours=1)))["id"]
    by_relevance = [title_sessions[1], title_sessions[0], typo_session, description_session]

    async def found(**params: Any) -> list[str]:
        return _ids(await _all_pages(client, q="poetry", **params))

    # No more matches than the bound: all of them, by relevance (the typo in a title outranks a description).
    monkeypatch.setattr(repository, "CANDIDATE_ACTIVITIES", 3)
    assert await found() == by_relevance
    assert await found(limit=1) == by_relevance
    # More: the sessions of the two activities nearest "poetry" (not the typo, though its relevance is
    # higher than the description match's), still by relevance; page by page the same, ending there.
    monkeypatch.setattr(repository, "CANDIDATE_ACTIVITIES", 2)
    assert await found() == [title_sessions[1], title_sessions[0], description_session]
    assert await found(limit=1) == [title_sessions[1], title_sessions[0], description_session]
    # The activity filters apply before the bound: a filtered-out activity takes no candidate's place.
    monkeypatch.setattr(repository, "CANDIDATE_ACTIVITIES", 1)
    assert await found(kind="reading") == [description_session]
    # With `near`, and by start time, every match as before.
    assert set(await found(near=NEAR)) == set(by_relevance)
    assert await found(sort="starts_at") == [title_sessions[1], typo_session, description_session, title_sessions[0]]


async def test_search_words_are_made_by_the_database(apps: dict[str, FastAPI]) -> None:
    async with apps["catalog"].state.database.sessionmaker() as session:
        words = await session.scalar(text("SELECT catalog.search_words('西湖读书节 West Lake')"))
        query = await session.scalar(text("SELECT catalog.search_query_words('西湖读书 Poetri')"))
    assert words == "西湖读书节 west lake 西湖 湖读 读书 书节"
    assert query.split() == ["poetri", "西湖", "湖读", "读书"]


async def test_the_demo_citys_west_lake_reading_festival(client: httpx.AsyncClient, database_url: str) -> None:
    today = date(2027, 3, 1)
    await seed_demo(database_url, today=today)
    window = {"from": f"{today}T00:00:00+08:00", "to": f"{today + timedelta(weeks=8)}T00:00:00+08:00"}
    everything = await _all_pages(client, **window, limit=100)
    festival_id = next(
        item["activity"]["series_id"]
        for item in everything
        if item["activity"]["title"].get("zh-CN", "").startswith("西湖读书节开幕式")
    )
    festival = {
        _id
        for _id, item in zip(_ids(everything), everything, strict=True)
        if item["activity"]["series_id"] == festival_id
    }
    assert len(festival) >= 15
    for q in ("西湖读书", "西湖读书节"):  # only the festival's sessions: through their series' name
        assert set(_ids(await _all_pages(client, q=q, **window, limit=100))) == festival, q
    # West Lake is in other activities' titles too (ranked above a series-name match), but every festival
    # session is found; in English, the festival's sessions rank first.
    assert festival <= set(_ids(await _all_pages(client, q="西湖", **window, limit=100)))
    found = _ids(await _all_pages(client, q="west lake reading festival", **window, limit=100))
    assert set(found[: len(festival)]) == festival


async def test_ranked_near_order_with_several_sessions_of_one_activity(
    client: httpx.AsyncClient, catalog: Catalog
) -> None:
    """With `near` the similarities are computed once per row and reused for match and score: sessions of one
    activity share its relevance, so distance, then start time order them; a typo still matches."""
    near_site = await catalog.site()
    far_site = await catalog.site(lat=north_of(HUBIN, 600, EARTH_RADIUS_M)[0], lon=HUBIN[1])
    title = await catalog.activity(near_site["id"], title={"en": "Poetry Evening"}, description=None)
    described = await catalog.activity(
        near_site["id"], title={"en": "Lake Walk"}, description={"en": "We read poetry on the way."}
    )
    late = await catalog.session(title["id"], starts_at=later(days=3))
    early = await catalog.session(title["id"], starts_at=later(days=1))
    far_title = await catalog.activity(far_site["id"], title={"en": "Poetry Evening"}, description=None)
    far = await catalog.session(far_title["id"], starts_at=later(days=2))
    walk_late = await catalog.session(described["id"], starts_at=later(days=4))
    walk_early = await catalog.session(described["id"], starts_at=later(days=2))
    expected = [early["id"], late["id"], far["id"], walk_early["id"], walk_late["id"]]
    for q in ("poetry", "poetri"):
        assert _ids(await _all_pages(client, q=q, near=NEAR, limit=2)) == expected, q
