"""The language of a person's notices (from `Accept-Language` at registration) and the contact notify asks for."""

import httpx
import pytest

from services.orgs.auth.language import Language, preferred_language
from shared.clients import INTERNAL_SECRET_HEADER
from shared.settings import DEV_INTERNAL_SECRET
from tests.support import PASSWORD, assert_problem, new_email

INTERNAL = {INTERNAL_SECRET_HEADER: DEV_INTERNAL_SECRET}
UNKNOWN_ID = "0190a000-0000-7000-8000-000000000000"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("ZH-hk;q=0.3", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("en-GB,en;q=0.9,zh-CN;q=0.8", "en"),
        ("en", "en"),
        ("fr-FR, zh;q=0.5, en;q=0.7", "en"),
        ("fr-FR, en;q=0.5, zh;q=0.7", "zh-CN"),
        ("zh;q=0.6, en;q=0.6", "zh-CN"),  # a tie: the first named
        ("en;q=0, zh-CN;q=0.1", "zh-CN"),  # q=0: not acceptable
        ("en;level=1;q=0.4, zh ; q=0.2", "en"),
        ("zh;q=oops, en;q=0.1", "en"),  # a malformed q counts as 0
        ("zh;q=2, en;q=0.1", "en"),  # so does one out of range
        ("engl, zhx", None),  # other languages that merely start alike
        ("fr, de;q=0.8", None),
        ("*", None),
        ("", None),
        (None, None),
    ],
)
def test_the_preferred_supported_language(header: str | None, language: Language | None) -> None:
    assert preferred_language(header) == language


async def _register(client: httpx.AsyncClient, accept_language: str | None) -> str:
    headers = {"Accept-Language": accept_language} if accept_language is not None else {}
    body = {"email": new_email("lang"), "password": PASSWORD, "display_name": "语言 Language"}
    response = await client.post("/v1/auth/register", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert set(response.json()) == {"id", "email", "display_name"}
    person_id: str = response.json()["id"]
    return person_id


async def test_registration_keeps_the_language_accept_language_prefers(client: httpx.AsyncClient) -> None:
    registered = {
        await _register(client, "zh-CN,zh;q=0.9,en;q=0.8"): "zh-CN",
        await _register(client, "en-US,en;q=0.9"): "en",
        await _register(client, "fr-FR,fr;q=0.9"): None,
        await _register(client, None): None,
    }
    for person_id, language in registered.items():
        contact = await client.get(f"http://orgs.internal/internal/v1/people/{person_id}/contact", headers=INTERNAL)
        assert contact.status_code == 200, contact.text
        assert contact.json()["language"] == language


async def test_the_contact_endpoint_is_internal(client: httpx.AsyncClient) -> None:
    email = new_email("contact")
    response = await client.post(
        "/v1/auth/register",
        json={"email": email, "password": PASSWORD, "display_name": "王小明 Wang Xiaoming"},
        headers={"Accept-Language": "zh-CN"},
    )
    person_id = response.json()["id"]
    url = f"http://orgs.internal/internal/v1/people/{person_id}/contact"
    assert (await client.get(url, headers=INTERNAL)).json() == {
        "person_id": person_id,
        "email": email,
        "display_name": "王小明 Wang Xiaoming",
        "language": "zh-CN",
    }
    assert_problem(await client.get(url), 401)
    assert_problem(await client.get(url, headers={INTERNAL_SECRET_HEADER: "wrong"}), 401)
    unknown = f"http://orgs.internal/internal/v1/people/{UNKNOWN_ID}/contact"
    assert_problem(await client.get(unknown, headers=INTERNAL), 404)
    assert_problem(await client.get(url.replace(person_id, "not-an-id"), headers=INTERNAL), 422)
    # Not routed publicly: the gateway knows only /v1/ paths.
    assert (await client.get(f"/internal/v1/people/{person_id}/contact", headers=INTERNAL)).status_code == 404
