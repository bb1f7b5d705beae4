"""Regression tests of the defects the hardening suite found (each also caught by the fuzzing, which needs
schemathesis installed; these do not)."""

import asyncio
import json
from typing import Any

import httpx
from fastapi import FastAPI

from shared.auth import RemoteJwks
from shared.ids import new_id
from shared.settings import ServiceSettings
from tests.support import assert_problem


def _operations(apps: dict[str, FastAPI]) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    found = []
    for app in apps.values():
        spec = app.openapi()
        for path, item in spec["paths"].items():
            for method, operation in item.items():
                found.append((method, path, operation, spec["components"]["schemas"]))
    return found


async def test_405_names_every_method_of_the_path_in_allow(client: httpx.AsyncClient) -> None:
    response = await client.request("OPTIONS", "/v1/organizations/01936f4e-8a2b-7c3d-9e4f-5a6b7c8d9e0f")
    assert_problem(response, 405)
    assert set(response.headers["allow"].split(", ")) >= {"GET", "PATCH"}
    response = await client.put("/v1/sessions/01936f4e-8a2b-7c3d-9e4f-5a6b7c8d9e0f")
    assert set(response.headers["allow"].split(", ")) >= {"GET", "PATCH"}


async def test_every_operation_with_a_body_documents_400_for_an_unparseable_one(
    apps: dict[str, FastAPI], client: httpx.AsyncClient
) -> None:
    for method, path, operation, _ in _operations(apps):
        if "requestBody" in operation:
            assert "400" in operation["responses"], (method, path)
    raw = await client.post("/v1/organizations", content=b"\xff{", headers={"content-type": "application/json"})
    assert raw.status_code in (400, 422)


def test_multilingual_inputs_are_documented_as_validated(apps: dict[str, FastAPI]) -> None:
    """A string or 1..12 translations whose keys are language tags: what pydantic accepts, no more, no less."""
    schema = apps["orgs"].openapi()["components"]["schemas"]
    name = json.dumps(schema["OrganizationCreate"]["properties"]["name"])
    assert '"type": "string"' in name and '"minProperties": 1' in name and '"propertyNames"' in name


def test_fields_that_cannot_be_removed_are_not_documented_as_nullable(apps: dict[str, FastAPI]) -> None:
    schemas = apps["catalog"].openapi()["components"]["schemas"]
    for model, fields in (
        ("ActivityUpdate", ("title", "kind", "topics", "audience", "price_cents")),
        ("SessionUpdate", ("capacity", "starts_at", "ends_at")),
    ):
        for name in fields:
            assert '"null"' not in json.dumps(schemas[model]["properties"][name]), (model, name)


def test_the_idempotency_key_is_documented_as_required(apps: dict[str, FastAPI]) -> None:
    operation = apps["booking"].openapi()["paths"]["/v1/bookings"]["post"]
    (header,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["required"] is True and header["in"] == "header"


async def test_numbers_are_not_times(client: httpx.AsyncClient, apps: dict[str, FastAPI]) -> None:
    token, _ = apps["orgs"].state.signing_keys.issue_access_token(new_id(), [])
    headers = {"Authorization": f"Bearer {token}"}
    for value in ("0.5", "1800000000"):
        assert_problem(await client.get("/v1/learning-records/me", params={"to": value}, headers=headers), 422)
        assert_problem(await client.get("/v1/search/sessions", params={"from": value}), 422)


async def test_a_burst_of_first_requests_waits_for_the_key_set_instead_of_failing() -> None:
    """Right after a start the key cache is empty: requests arriving during the first fetch used to get 503."""
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "k1"}]}

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.2)
        return httpx.Response(200, json=jwks)

    settings = ServiceSettings(orgs_url="http://orgs.test")
    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as http:
        keys = RemoteJwks(settings, http)
        found = await asyncio.gather(*(keys.key_for("k1") for _ in range(8)))
    assert all(key is not None for key in found)
