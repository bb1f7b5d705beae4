from typing import Any

import httpx

from tests.support import Person, assert_problem, new_email, register_and_login


async def _organization(client: httpx.AsyncClient, owner: Person, **overrides: object) -> dict[str, Any]:
    body: dict[str, object] = {
        "name": {"zh-CN": "翠苑社区", "en": "Cuiyuan Community"},
        "kind": "community",
        "district": "西湖区 Xihu",
    }
    body.update(overrides)
    response = await client.post("/v1/organizations", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_create_makes_the_creator_owner(client: httpx.AsyncClient) -> None:
    owner = await register_and_login(client, new_email())
    organization = await _organization(client, owner)
    me = (await client.get("/v1/me", headers=owner.headers)).json()
    assert me["memberships"] == [{"organization_id": organization["id"], "role": "owner"}]
    members = (await client.get(f"/v1/organizations/{organization['id']}/members", headers=owner.headers)).json()
    assert members["items"] == [
        {"organization_id": organization["id"], "person_id": owner.id, "display_name": "Test Person", "role": "owner"}
    ]


async def test_multilingual_name_and_accept_language(client: httpx.AsyncClient) -> None:
    owner = await register_and_login(client, new_email())
    organization = await _organization(client, owner)
    assert organization["name"] == {"zh-CN": "翠苑社区", "en": "Cuiyuan Community"}
    url = f"/v1/organizations/{organization['id']}"
    assert (await client.get(url, headers={"Accept-Language": "zh-CN,zh;q=0.9"})).json()["name_display"] == "翠苑社区"
    assert (await client.get(url, headers={"Accept-Language": "en-GB"})).json()["name_display"] == "Cuiyuan Community"
    assert (await client.get(url, headers={"Accept-Language": "fr"})).json()["name_display"] == "Cuiyuan Community"
    plain = await _organization(client, owner, name="Riverside Readers")
    assert plain["name"] == {"und": "Riverside Readers"} and plain["name_display"] == "Riverside Readers"


async def test_create_requires_a_token_and_a_known_kind(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/v1/organizations", json={"name": "X", "kind": "community"}), 401)
    owner = await register_and_login(client, new_email())
    body = assert_problem(
        await client.post("/v1/organizations", json={"name": "X", "kind": "club"}, headers=owner.headers), 422
    )
    assert body["errors"][0]["pointer"] == "/body/kind"  # type: ignore[index]


async def test_list_filters_by_kind_and_name_and_pages_without_repeats(client: httpx.AsyncClient) -> None:
    owner = await register_and_login(client, new_email())
    for index in range(7):
        await _organization(client, owner, name={"en": f"Workshop Guild {index}"}, kind="workplace")
    await _organization(client, owner, name={"zh-CN": "滨江图书馆"}, kind="library")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"kind": "workplace", "limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/organizations", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7
    found = (await client.get("/v1/organizations", params={"q": "图书"})).json()["items"]
    assert [item["name"]["zh-CN"] for item in found] == ["滨江图书馆"]
    assert (await client.get("/v1/organizations", params={"q": "guild 3"})).json()["items"][0]["kind"] == "workplace"


async def test_paging_bounds(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/organizations", params={"limit": 101}), 422)
    assert_problem(await client.get("/v1/organizations", params={"limit": 0}), 422)
    assert_problem(await client.get("/v1/organizations", params={"cursor": "bm90LWEtY3Vyc29y"}), 422)
    assert_problem(await client.get("/v1/organizations", params={"q": "a\x00b"}), 422)


async def test_get_unknown_or_malformed_id(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/organizations/0190a000-0000-7000-8000-000000000000"), 404)
    assert_problem(await client.get("/v1/organizations/not-a-uuid"), 422)


async def test_patch_by_owner_admin_only(client: httpx.AsyncClient) -> None:
    owner = await register_and_login(client, new_email())
    admin = await register_and_login(client, new_email())
    coordinator = await register_and_login(client, new_email())
    stranger = await register_and_login(client, new_email())
    organization = await _organization(client, owner)
    url = f"/v1/organizations/{organization['id']}"
    for person, role in ((admin, "admin"), (coordinator, "coordinator")):
        added = await client.post(f"{url}/members", json={"email": person.email, "role": role}, headers=owner.headers)
        assert added.status_code == 201
    assert_problem(await client.patch(url, json={"district": "上城区"}, headers=stranger.headers), 403)
    assert_problem(await client.patch(url, json={"district": "上城区"}, headers=coordinator.headers), 403)
    assert_problem(await client.patch(url, json={"district": "上城区"}), 401)
    patched = await client.patch(url, json={"district": "上城区 Shangcheng"}, headers=admin.headers)
    assert patched.status_code == 200 and patched.json()["district"] == "上城区 Shangcheng"
    assert patched.json()["name"]["en"] == "Cuiyuan Community"
    assert_problem(await client.patch(url, json={"id": "x"}, headers=owner.headers), 422)


async def test_members_lifecycle_and_roles(client: httpx.AsyncClient) -> None:
    owner = await register_and_login(client, new_email())
    member = await register_and_login(client, new_email())
    stranger = await register_and_login(client, new_email())
    organization = await _organization(client, owner)
    members_url = f"/v1/organizations/{organization['id']}/members"
    add = {"email": member.email, "role": "member"}
    assert_problem(await client.post(members_url, json=add, headers=stranger.headers), 403)
    assert_problem(
        await client.post(members_url, json={"email": new_email(), "role": "member"}, headers=owner.headers), 404
    )
    assert_problem(
        await client.post(members_url, json={"email": member.email, "role": "owner"}, headers=owner.headers), 422
    )
    created = await client.post(members_url, json=add, headers=owner.headers)
    assert created.status_code == 201
    assert created.json()["person_id"] == member.id and created.json()["role"] == "member"
    assert_problem(await client.post(members_url, json=add, headers=owner.headers), 409)
    # Any member lists; strangers and anonymous callers do not.
    assert (await client.get(members_url, headers=member.headers)).status_code == 200
    assert_problem(await client.get(members_url, headers=stranger.headers), 403)
    assert_problem(await client.get(members_url), 401)
    # A plain member cannot remove others; the owner can neither be removed nor leave (tests/orgs/test_joining.py).
    assert_problem(await client.delete(f"{members_url}/{owner.id}", headers=member.headers), 403)
    assert_problem(await client.delete(f"{members_url}/{owner.id}", headers=owner.headers), 409)
    assert (await client.delete(f"{members_url}/{member.id}", headers=owner.headers)).status_code == 204
    assert_problem(await client.delete(f"{members_url}/{member.id}", headers=owner.headers), 404)
    assert (await client.get("/v1/me", headers=member.headers)).json()["memberships"] == []


async def test_operator_acts_on_every_organization(client: httpx.AsyncClient, database_url: str) -> None:
    from services.orgs.commands import grant_operator

    owner = await register_and_login(client, new_email())
    operator = await register_and_login(client, new_email())
    assert await grant_operator(database_url, operator.email, display_name="-", password="unused") is False
    token = await client.post(
        "/v1/auth/token", data={"username": operator.email, "password": "correct horse battery staple"}
    )
    operator_headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert (await client.get("/v1/me", headers=operator_headers)).json()["roles"] == ["operator"]
    organization = await _organization(client, owner)
    patched = await client.patch(
        f"/v1/organizations/{organization['id']}", json={"kind": "nonprofit"}, headers=operator_headers
    )
    assert patched.status_code == 200 and patched.json()["kind"] == "nonprofit"


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    owner = await register_and_login(client, new_email())
    huge = {"name": "x", "kind": "community", "description": "y" * 2_000_000}
    assert_problem(await client.post("/v1/organizations", json=huge, headers=owner.headers), 413)


async def test_unknown_route_is_a_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/organizations/x/y/z"), 404)
