"""Bearer-token verification shared by every service.

Tokens are EdDSA JWTs issued by orgs. Services verify them locally against the orgs JWKS
(cached; refreshed when a token names an unknown `kid`, so key rotation needs no restart), and refuse those
of people erased since they were issued (shared/revocation.py).
"""

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol
from uuid import UUID

import httpx
import jwt
import structlog
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from jwt.utils import base64url_decode

from shared.errors import ServiceUnavailable, Unauthorized
from shared.revocation import RevokedSubjects, subject_hash
from shared.settings import ServiceSettings

JWT_ALGORITHM = "EdDSA"  # pinned: a token's own `alg` header is never trusted
OPERATOR_ROLE = "operator"
# Refetch the JWKS at most this often, so forged kids or an orgs outage cannot cause a refetch storm.
_REFETCH_INTERVAL_S = 10.0
_INVALID_TOKEN = {"WWW-Authenticate": 'Bearer error="invalid_token"'}

logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as the verified token says."""

    person_id: UUID
    roles: frozenset[str] = field(default_factory=frozenset)
    token_id: str | None = None

    @property
    def is_operator(self) -> bool:
        return OPERATOR_ROLE in self.roles


class KeySource(Protocol):
    async def key_for(self, kid: str) -> jwt.PyJWK | None: ...


class StaticKeys:
    """Keys known in-process (orgs verifies its own tokens without a round trip)."""

    def __init__(self, keys: dict[str, jwt.PyJWK]) -> None:
        self._keys = keys

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        return self._keys.get(kid)


class RemoteJwks:
    """The orgs JWKS over HTTP, cached for `jwks_cache_s`, refreshed on an unknown kid."""

    def __init__(self, settings: ServiceSettings, client: httpx.AsyncClient) -> None:
        self._url = settings.orgs_url.rstrip("/") + "/.well-known/jwks.json"
        self._ttl = settings.jwks_cache_s
        self._client = client
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()

    def _needs_refresh(self, kid: str) -> bool:
        now = time.monotonic()
        wanted = now - self._fetched_at > self._ttl or kid not in self._keys
        return wanted and now - self._attempted_at > _REFETCH_INTERVAL_S

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        # Without keys yet, wait for a fetch in flight (the first requests after a start come in a burst).
        if self._needs_refresh(kid) or not self._keys:
            async with self._lock:
                if self._needs_refresh(kid):
                    await self._refresh()
        if not self._keys:
            raise ServiceUnavailable("Cannot verify tokens: the orgs key set is unreachable")
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        self._attempted_at = time.monotonic()
        try:
            response = await self._client.get(self._url, timeout=2.0)
            response.raise_for_status()
            jwk_set = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, jwt.PyJWKSetError, ValueError) as exc:
            # Keep serving with the keys we have.
            logger.warning("jwks_refresh_failed", url=self._url, error=str(exc))
            return
        self._keys = {key.key_id: key for key in jwk_set.keys if key.key_id}
        self._fetched_at = self._attempted_at


class TokenVerifier:
    # Verified tokens are remembered until they expire: a signature check per request costs more than
    # the booking transaction it guards. Bounded, oldest evicted first.
    CACHE_SIZE = 10_000

    # Every token signed with one key has the same header segment: its parse is remembered (bounded).
    HEADER_CACHE_SIZE = 64

    def __init__(self, settings: ServiceSettings, keys: KeySource, revoked: RevokedSubjects | None = None) -> None:
        self._settings = settings
        self._keys = keys
        # People erased since their tokens were issued (kept current by the app's `RevocationFeed`).
        self.revoked = revoked if revoked is not None else RevokedSubjects()
        # token -> (principal, valid until, digest of its subject once somebody is revoked)
        self._verified: OrderedDict[str, tuple[Principal, float, str | None]] = OrderedDict()
        self._kid_of_header: dict[str, str] = {}

    def _kid(self, token: str) -> str:
        """The key id of a token whose header is well formed and names our algorithm."""
        header_segment = token.partition(".")[0]
        kid = self._kid_of_header.get(header_segment)
        if kid is not None:
            return kid
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("Malformed bearer token") from exc
        kid = header.get("kid")
        if header.get("alg") != JWT_ALGORITHM or not isinstance(kid, str):
            raise Unauthorized("Unsupported token algorithm or key id")
        if len(self._kid_of_header) >= self.HEADER_CACHE_SIZE:
            self._kid_of_header.clear()
        self._kid_of_header[header_segment] = kid
        return kid

    async def verify(self, token: str) -> dict[str, Any]:
        kid = self._kid(token)
        key = await self._keys.key_for(kid)
        if key is None:
            raise Unauthorized("Token signed by an unknown key")
        invalid = _INVALID_TOKEN
        signing_input, _, signature_segment = token.rpartition(".")
        try:
            signature = base64url_decode(signature_segment)
        except ValueError as exc:
            raise Unauthorized("Malformed bearer token") from exc
        # The signature first, by PyJWT's own EdDSA algorithm, in a worker thread: the Ed25519 check (~0.1 ms,
        # the largest CPU cost of a booking) releases the GIL, so it runs beside the event loop instead of
        # stalling every request in flight. Only the check moves: PyJWT's parsing would hold the GIL there.
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, key.Algorithm.verify, signing_input.encode(), key.key, signature):
            raise Unauthorized("Invalid token", headers=invalid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                algorithms=[JWT_ALGORITHM],
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                leeway=self._settings.jwt_leeway_s,
                # The signature was checked above; every claim check stays on.
                options={
                    "verify_signature": False,
                    "verify_exp": True,
                    "verify_nbf": True,
                    "verify_iat": True,
                    "verify_aud": True,
                    "verify_iss": True,
                    "require": ["exp", "iat", "iss", "aud", "sub"],
                },
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("Token expired", headers=invalid) from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("Invalid token", headers=invalid) from exc
        if claims.get("typ") != "access":
            raise Unauthorized("Not an access token")
        return claims

    async def principal(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is None or time.time() >= cached[1]:
            principal, valid_until = await self._principal(token)
            cached = (principal, valid_until, None)
            self._verified[token] = cached
            if len(self._verified) > self.CACHE_SIZE:
                self._verified.popitem(last=False)
        # Cached or not, the token of someone erased since it was issued is refused. Nobody erased lately (the
        # usual case): one truth test, no digest. Otherwise a token's subject is digested once, then remembered.
        revoked = self.revoked.hashes
        if not revoked:
            return cached[0]
        principal, valid_until, digest = cached
        if digest is None:
            digest = subject_hash(principal.person_id)
            self._verified[token] = (principal, valid_until, digest)
        if digest in revoked:
            self._verified.pop(token, None)
            raise Unauthorized("Token revoked", headers=_INVALID_TOKEN)
        return principal

    async def _principal(self, token: str) -> tuple[Principal, float]:
        claims = await self.verify(token)
        try:
            person_id = UUID(claims["sub"])
        except ValueError as exc:
            raise Unauthorized("Invalid token subject") from exc
        roles = claims.get("roles", [])
        principal = Principal(
            person_id=person_id,
            roles=frozenset(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else frozenset(),
            token_id=claims.get("jti"),
        )
        return principal, float(claims["exp"]) + self._settings.jwt_leeway_s


# The OAuth2 password flow makes "Authorize" in /docs work; the URL is relative to the gateway.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)


async def optional_principal(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal | None:
    if token is None:
        return None
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.principal(token)


async def current_principal(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    # Not built on `optional_principal`: each dependency level costs every request its resolution.
    if token is None:
        raise Unauthorized()
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.principal(token)


CurrentPerson = Annotated[Principal, Depends(current_principal)]
OptionalPerson = Annotated[Principal | None, Depends(optional_principal)]
