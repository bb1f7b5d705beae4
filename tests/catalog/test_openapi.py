"""The catalog's OpenAPI document: every public route named, summarized, tagged, with its problems declared."""

import re

import httpx


async def test_every_route_is_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi/catalog.json")).json()
    operations = {
        (method.upper(), path): operation
        for path, methods in spec["paths"].items()
        if path.startswith("/v1/")
        for method, operation in methods.items()
    }
    assert {
        ("POST", "/v1/sites"),
        ("GET", "/v1/sites"),
        ("GET", "/v1/sites/{site_id}"),
        ("POST", "/v1/activities"),
        ("GET", "/v1/activities/{activity_id}"),
        ("PATCH", "/v1/activities/{activity_id}"),
        ("POST", "/v1/activities/{activity_id}/sessions"),
        ("GET", "/v1/sessions/{session_id}"),
        ("PATCH", "/v1/sessions/{session_id}"),
        ("POST", "/v1/sessions/{session_id}/cancel"),
        ("POST", "/v1/series"),
        ("GET", "/v1/series/{series_id}"),
        ("GET", "/v1/search/sessions"),
        ("GET", "/v1/coverage"),
    } <= set(operations)
    ids = [operation["operationId"] for operation in operations.values()]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids)
    for (method, path), operation in operations.items():
        assert operation["summary"] and operation["tags"], (method, path)
        assert "422" in operation["responses"], (method, path)
        if method != "GET":
            assert {"401", "403"} <= set(operation["responses"]), (method, path)
    assert not any(path.startswith("/internal") for path in spec["paths"])
    search = operations[("GET", "/v1/search/sessions")]
    assert search["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("Page_SearchItem_")


async def test_fields_a_patch_cannot_remove_are_not_nullable(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/openapi/catalog.json")).json()["components"]["schemas"]
    for model, fields in (
        ("ActivityUpdate", ("title", "kind", "topics", "audience", "price_cents")),
        ("SessionUpdate", ("capacity", "starts_at", "ends_at")),
    ):
        for name in fields:
            assert "null" not in str(schemas[model]["properties"][name].get("anyOf", "")), (model, name)
            assert schemas[model]["properties"][name].get("type") != "null", (model, name)
    assert {"type": "null"} in schemas["SessionUpdate"]["properties"]["booking_closes_at"]["anyOf"]  # this one clears
