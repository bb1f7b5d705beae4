"""The Ed25519 key orgs signs access tokens with, and the JWKS it publishes."""

import base64
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from services.orgs.settings import OrgsSettings
from shared.auth import JWT_ALGORITHM, StaticKeys
from shared.ids import new_id


def _load_or_create(settings: OrgsSettings) -> Ed25519PrivateKey:
    if settings.jwt_private_key is not None:
        pem = settings.jwt_private_key.get_secret_value().encode()
    elif settings.jwt_key_file.exists():
        pem = settings.jwt_key_file.read_bytes()
    else:
        # Development only (settings refuse a missing key elsewhere): make one and keep it.
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        settings.jwt_key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(settings.jwt_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the orgs signing key must be an Ed25519 private key")
    return key


class SigningKeys:
    def __init__(self, settings: OrgsSettings) -> None:
        self._settings = settings
        self._private = _load_or_create(settings)
        public_jwk: dict[str, Any] = json.loads(OKPAlgorithm.to_jwk(self._private.public_key()))
        # RFC 7638 thumbprint as the key id: stable for the same key, new for a rotated one.
        self.kid = _thumbprint(public_jwk)
        self.public_jwk = {**public_jwk, "kid": self.kid, "alg": JWT_ALGORITHM, "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def verification_keys(self) -> StaticKeys:
        return StaticKeys({self.kid: jwt.PyJWK(self.public_jwk, algorithm=JWT_ALGORITHM)})

    def issue_access_token(self, person_id: UUID, roles: list[str]) -> tuple[str, int]:
        now = datetime.now(UTC)
        ttl = self._settings.access_token_ttl_s
        claims = {
            "iss": self._settings.jwt_issuer,
            "aud": self._settings.jwt_audience,
            "sub": str(person_id),
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(seconds=ttl),
            "jti": str(new_id()),
            "typ": "access",
            "roles": sorted(roles),
        }
        token = jwt.encode(claims, self._private, algorithm=JWT_ALGORITHM, headers={"kid": self.kid})
        return token, ttl


def _thumbprint(jwk: dict[str, Any]) -> str:
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
