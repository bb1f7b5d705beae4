import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from tests.support import PASSWORD, assert_problem, new_email, register_and_login


async def test_register_returns_the_person_and_never_the_password(client: httpx.AsyncClient) -> None:
    email = new_email()
    response = await client.post(
        "/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "李华 Li Hua"}
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "display_name"}
    assert body["email"] == email and body["display_name"] == "李华 Li Hua"


async def test_register_same_email_in_other_case_is_409(client: httpx.AsyncClient) -> None:
    email = new_email()
    await register_and_login(client, email)
    response = await client.post(
        "/v1/auth/register", json={"email": email.upper(), "password": PASSWORD, "display_name": "Again"}
    )
    assert_problem(response, 409)


async def test_concurrent_registrations_of_one_email_create_one_account(client: httpx.AsyncClient) -> None:
    email = new_email()
    body = {"email": email, "password": PASSWORD, "display_name": "Racer"}
    responses = await asyncio.gather(*(client.post("/v1/auth/register", json=body) for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]


async def test_register_rejects_bad_input_with_pointers(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/auth/register", json={"email": "not-an-email", "password": "short", "display_name": ""}
    )
    body = assert_problem(response, 422)
    errors = body["errors"]
    assert isinstance(errors, list)
    pointers = {error["pointer"] for error in errors}
    assert pointers == {"/body/email", "/body/password", "/body/display_name"}


async def test_register_rejects_unknown_fields_and_nul_bytes(client: httpx.AsyncClient) -> None:
    base = {"email": new_email(), "password": PASSWORD, "display_name": "Nul"}
    assert_problem(await client.post("/v1/auth/register", json={**base, "roles": ["operator"]}), 422)
    body = assert_problem(await client.post("/v1/auth/register", json={**base, "display_name": "a\x00b"}), 422)
    assert "/display_name" in str(body["errors"])
    # Nothing was stored by the rejected attempts.
    assert (await client.post("/v1/auth/register", json=base)).status_code == 201


async def test_token_round_trip_and_me(client: httpx.AsyncClient) -> None:
    email = new_email()
    person = await register_and_login(client, email, "Wang")
    me = await client.get("/v1/me", headers=person.headers)
    assert me.status_code == 200
    assert me.json() == {"id": person.id, "email": email, "display_name": "Wang", "memberships": [], "roles": []}


async def test_token_response_shape(client: httpx.AsyncClient) -> None:
    email = new_email()
    await register_and_login(client, email)
    response = await client.post("/v1/auth/token", data={"username": email, "password": PASSWORD})
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    assert body["access_token"] and body["refresh_token"]


async def test_wrong_password_and_unknown_email_are_both_401(client: httpx.AsyncClient) -> None:
    email = new_email()
    await register_and_login(client, email)
    wrong = await client.post("/v1/auth/token", data={"username": email, "password": "wrong password!"})
    assert_problem(wrong, 401)
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    assert_problem(await client.post("/v1/auth/token", data={"username": new_email(), "password": PASSWORD}), 401)


async def test_repeated_failures_lock_the_account_with_retry_after(client: httpx.AsyncClient) -> None:
    email = new_email()
    await register_and_login(client, email)
    for _ in range(5):
        assert (
            await client.post("/v1/auth/token", data={"username": email, "password": "bad password"})
        ).status_code == 401
    locked = await client.post("/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert_problem(locked, 429)
    assert 0 < int(locked.headers["retry-after"]) <= 300
    # Another account is not affected.
    other = new_email()
    await register_and_login(client, other)


async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient) -> None:
    email = new_email()
    await register_and_login(client, email)
    first = (await client.post("/v1/auth/token", data={"username": email, "password": PASSWORD})).json()
    second = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert (
        await client.get("/v1/me", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    ).status_code == 200
    # The old one no longer works, and presenting it revokes the newer one too.
    assert_problem(await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401)
    assert_problem(await client.post("/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}), 401)


async def test_refresh_with_garbage_is_401(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/v1/auth/refresh", json={"refresh_token": "nope"}), 401)
    assert_problem(await client.post("/v1/auth/refresh", json={}), 422)


async def test_jwks_publishes_the_ed25519_key(client: httpx.AsyncClient) -> None:
    keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "OKP" and keys[0]["crv"] == "Ed25519" and keys[0]["alg"] == "EdDSA" and keys[0]["kid"]
    assert "d" not in keys[0]


# --- JWT negative cases -------------------------------------------------------------------------------------


def _claims(apps: dict[str, FastAPI], person_id: str, **overrides: Any) -> dict[str, Any]:
    settings = apps["orgs"].state.settings
    now = datetime.now(UTC)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": person_id,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "typ": "access",
        "roles": [],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(apps: dict[str, FastAPI], claims: dict[str, Any], key: Any = None, kid: str | None = None) -> str:
    keys = apps["orgs"].state.signing_keys
    return jwt.encode(claims, key or keys._private, algorithm="EdDSA", headers={"kid": kid or keys.kid})


async def _me_status(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})


async def test_a_correctly_signed_token_is_accepted(client: httpx.AsyncClient, apps: dict[str, FastAPI]) -> None:
    person = await register_and_login(client, new_email())
    assert (await _me_status(client, _sign(apps, _claims(apps, person.id)))).status_code == 200


async def test_jwt_negative_cases_are_401(client: httpx.AsyncClient, apps: dict[str, FastAPI]) -> None:
    person = await register_and_login(client, new_email())
    past = datetime.now(UTC) - timedelta(hours=1)
    cases = {
        "expired": _sign(apps, _claims(apps, person.id, exp=past, iat=past - timedelta(minutes=5))),
        "wrong audience": _sign(apps, _claims(apps, person.id, aud="someone-else")),
        "wrong issuer": _sign(apps, _claims(apps, person.id, iss="https://evil.example")),
        "not yet valid": _sign(apps, _claims(apps, person.id, nbf=datetime.now(UTC) + timedelta(hours=1))),
        "no exp": _sign(apps, {k: v for k, v in _claims(apps, person.id).items() if k != "exp"}),
        "refresh-typed": _sign(apps, _claims(apps, person.id, typ="refresh")),
        "foreign key": _sign(apps, _claims(apps, person.id), key=Ed25519PrivateKey.generate()),
        "unknown kid": _sign(apps, _claims(apps, person.id), key=Ed25519PrivateKey.generate(), kid="other"),
        "alg none": jwt.encode(_claims(apps, person.id), "", algorithm="none"),
        "hs256 with public key": jwt.encode(
            _claims(apps, person.id), "x" * 32, algorithm="HS256", headers={"kid": apps["orgs"].state.signing_keys.kid}
        ),
        "garbage": "not.a.jwt",
    }
    valid = _sign(apps, _claims(apps, person.id))
    head, payload, signature = valid.split(".")
    cases["tampered signature"] = f"{head}.{payload}.{signature[::-1]}"
    other_payload = _sign(apps, _claims(apps, "00000000-0000-7000-8000-000000000000")).split(".")[1]
    cases["tampered payload"] = f"{head}.{other_payload}.{signature}"
    cases["extra segment"] = f"{valid}.{signature}"
    for name, token in cases.items():
        response = await _me_status(client, token)
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"].startswith("Bearer"), name
        assert response.headers["content-type"] == "application/problem+json", name


async def test_me_without_token_is_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/me")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
