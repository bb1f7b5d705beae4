"""Remote JWKS verification as catalog and booking do it: cached, refetched for an unknown key id."""

import json
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from shared.auth import RemoteJwks, TokenVerifier
from shared.errors import ServiceUnavailable, Unauthorized
from shared.settings import ServiceSettings

PERSON = "01900000-0000-7000-8000-000000000001"


class KeyServer:
    """A JWKS endpoint whose key set can rotate; counts fetches."""

    def __init__(self) -> None:
        self.keys: dict[str, Ed25519PrivateKey] = {}
        self.fetches = 0
        self.down = False

    def rotate(self, kid: str) -> None:
        self.keys[kid] = Ed25519PrivateKey.generate()

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        if self.down:
            raise httpx.ConnectError("down", request=request)
        jwks = [
            json.loads(OKPAlgorithm.to_jwk(key.public_key())) | {"kid": kid, "alg": "EdDSA", "use": "sig"}
            for kid, key in self.keys.items()
        ]
        return httpx.Response(200, json={"keys": jwks})

    def token(self, kid: str, **claims: object) -> str:
        now = datetime.now(UTC)
        body = {
            "iss": "learncity-orgs",
            "aud": "learncity",
            "sub": PERSON,
            "iat": now,
            "exp": now + timedelta(minutes=5),
            "typ": "access",
            "roles": ["operator"],
        } | claims
        return jwt.encode(body, self.keys[kid], algorithm="EdDSA", headers={"kid": kid})


@pytest.fixture
def server() -> KeyServer:
    server = KeyServer()
    server.rotate("k1")
    return server


def _verifier(server: KeyServer) -> TokenVerifier:
    settings = ServiceSettings(orgs_url="http://orgs.internal")
    client = httpx.AsyncClient(transport=httpx.MockTransport(server.handler))
    return TokenVerifier(settings, RemoteJwks(settings, client))


async def test_verifies_and_caches_the_key_set(server: KeyServer) -> None:
    verifier = _verifier(server)
    for _ in range(3):
        principal = await verifier.principal(server.token("k1"))
        assert principal.person_id == UUID(PERSON)
        assert principal.is_operator
    assert server.fetches == 1


async def test_a_rotated_key_is_fetched_once_its_kid_appears(
    server: KeyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = _verifier(server)
    await verifier.principal(server.token("k1"))
    server.rotate("k2")
    # Unknown kids refetch at most every 10 s; pretend that long has passed.
    monkeypatch.setattr("shared.auth._REFETCH_INTERVAL_S", 0.0)
    assert (await verifier.principal(server.token("k2"))).person_id == UUID(PERSON)
    assert server.fetches == 2


async def test_forged_kids_do_not_cause_a_refetch_storm(server: KeyServer) -> None:
    verifier = _verifier(server)
    await verifier.principal(server.token("k1"))
    forger = KeyServer()
    forger.rotate("forged")
    for _ in range(5):
        with pytest.raises(Unauthorized):
            await verifier.principal(forger.token("forged"))
    assert server.fetches == 1


async def test_no_key_set_at_all_is_503_not_401(server: KeyServer) -> None:
    server.down = True
    with pytest.raises(ServiceUnavailable):
        await _verifier(server).principal(server.token("k1"))
