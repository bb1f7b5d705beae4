"""Refusing erased people's tokens before they expire (shared/revocation.py): the verifier's check, cached
tokens included and free while nobody is revoked; the feed from orgs, which keeps its last list through any
failure; and the background task every service verifying against the orgs JWKS runs."""

import asyncio
import hashlib
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from services.catalog.app import create_app as create_catalog_app
from services.catalog.settings import CatalogSettings
from shared.auth import RemoteJwks, TokenVerifier
from shared.clients import INTERNAL_SECRET_HEADER
from shared.errors import Unauthorized
from shared.ids import new_id
from shared.revocation import MAX_REFRESH_WAIT_S, REVOKED_SUBJECTS_PATH, RevocationFeed, RevokedSubjects, subject_hash
from shared.settings import DEV_INTERNAL_SECRET, ServiceSettings
from tests.test_jwks import PERSON, KeyServer

REVOKED = subject_hash(UUID(PERSON))


@pytest.fixture
def server() -> KeyServer:
    server = KeyServer()
    server.rotate("k1")
    return server


def _verifier(server: KeyServer) -> TokenVerifier:
    settings = ServiceSettings(orgs_url="http://orgs.internal")
    client = httpx.AsyncClient(transport=httpx.MockTransport(server.handler))
    return TokenVerifier(settings, RemoteJwks(settings, client))


def test_the_digest_is_the_sha256_of_the_id_as_tokens_carry_it() -> None:
    assert REVOKED == hashlib.sha256(PERSON.encode()).hexdigest() == subject_hash(UUID(PERSON.upper()))
    assert UUID(PERSON) in RevokedSubjects([REVOKED])
    assert UUID(PERSON) not in RevokedSubjects() and PERSON not in RevokedSubjects([REVOKED])


async def test_nobody_revoked_costs_no_digest(server: KeyServer, monkeypatch: pytest.MonkeyPatch) -> None:
    digested: list[UUID] = []

    def counting(person_id: UUID) -> str:
        digested.append(person_id)
        return subject_hash(person_id)

    monkeypatch.setattr("shared.auth.subject_hash", counting)
    verifier = _verifier(server)
    token = server.token("k1")
    for _ in range(3):  # verified once, then from the cache
        assert (await verifier.principal(token)).person_id == UUID(PERSON)
    assert digested == []
    # Somebody else revoked: a token's subject is digested once, and the token passes.
    verifier.revoked.replace([subject_hash(new_id())])
    for _ in range(3):
        assert (await verifier.principal(token)).person_id == UUID(PERSON)
    assert digested == [UUID(PERSON)]


async def test_a_revoked_persons_tokens_are_refused_cached_or_not(server: KeyServer) -> None:
    verifier = _verifier(server)
    cached = server.token("k1")
    await verifier.principal(cached)
    verifier.revoked.replace([REVOKED])
    for token in (cached, server.token("k1", jti="issued-later")):
        with pytest.raises(Unauthorized) as refused:
            await verifier.principal(token)
        assert refused.value.detail == "Token revoked"
        assert refused.value.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    other = new_id()
    assert (await verifier.principal(server.token("k1", sub=str(other)))).person_id == other
    # Off the list again (its tokens have expired by then): verified afresh, and accepted.
    verifier.revoked.replace(())
    assert (await verifier.principal(cached)).person_id == UUID(PERSON)
    assert server.fetches == 1


class Orgs:
    """orgs' `GET /internal/v1/revoked-subjects`, failing on demand."""

    def __init__(self) -> None:
        self.listed: dict[str, Any] = {"subject_hashes": [REVOKED], "refresh_after_s": 2.0}
        self.failure: str | None = None
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failure == "down":
            raise httpx.ConnectError("orgs down", request=request)
        if self.failure == "error":
            return httpx.Response(500, json={"detail": "boom"})
        if self.failure == "not json":
            return httpx.Response(200, content=b"<html>a proxy's page</html>")
        if self.failure == "not digests":
            return httpx.Response(200, json={"subject_hashes": [PERSON], "refresh_after_s": 2.0})
        return httpx.Response(200, json=self.listed)


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda event, **_: self.events.append((level, event))


def _feed(orgs: Orgs, subjects: RevokedSubjects, **settings: Any) -> RevocationFeed:
    # A host of its own: a failure marks the peer down for every client of this process (shared/clients.py).
    configured = ServiceSettings(orgs_url="http://orgs.revocation-feed.test", http_retries=0, **settings)
    return RevocationFeed(subjects, configured, httpx.AsyncClient(transport=httpx.MockTransport(orgs.handler)))


async def test_the_feed_takes_the_list_and_keeps_the_last_one_through_failures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = Log()
    monkeypatch.setattr("shared.revocation.logger", log)
    orgs, subjects = Orgs(), RevokedSubjects()
    feed = _feed(orgs, subjects)
    assert await feed.refresh()
    assert subjects.hashes == {REVOKED}
    request = orgs.requests[-1]
    assert request.method == "GET" and request.url.path == REVOKED_SUBJECTS_PATH
    assert request.headers[INTERNAL_SECRET_HEADER] == DEV_INTERNAL_SECRET

    for failure in ("down", "error", "not json", "not digests"):
        orgs.failure = failure
        assert not await feed.refresh(), failure
        assert subjects.hashes == {REVOKED}, failure
    # Logged once while it lasts, and once more when it is over.
    assert log.events == [("warning", "revocation_refresh_failed")]
    orgs.failure, orgs.listed["subject_hashes"] = None, []
    assert await feed.refresh()
    assert subjects.hashes == frozenset()
    assert log.events[1:] == [("info", "revocation_refresh_recovered")]


@pytest.mark.parametrize(("asked", "waits"), [(0.0, 2.0), (5.0, 5.0), (86400.0, MAX_REFRESH_WAIT_S)])
async def test_the_feed_waits_as_long_as_orgs_asks_within_bounds(asked: float, waits: float) -> None:
    orgs = Orgs()
    orgs.listed["refresh_after_s"] = asked
    feed = _feed(orgs, RevokedSubjects(), revocation_refresh_s=2.0)
    assert await feed.refresh()
    assert feed._wait == waits


async def _until(condition: Any) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("still not so after 5 s")


def _app(database_url: str, orgs: Orgs, refresh_s: float) -> FastAPI:
    settings = CatalogSettings(
        environment="test",
        database_url=database_url,
        orgs_url="http://orgs.revocation-task.test",
        relay_enabled=False,
        log_level="WARNING",
        http_retries=0,
        revocation_refresh_s=refresh_s,
    )
    return create_catalog_app(settings, http_transport=httpx.MockTransport(orgs.handler))


def _revocation_tasks() -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "catalog-revocation"]


async def test_a_service_polls_in_the_background_through_failures_and_stops_with_the_app(database_url: str) -> None:
    orgs = Orgs()
    orgs.failure = "down"
    app = _app(database_url, orgs, 0.01)
    async with app.router.lifespan_context(app):
        [task] = _revocation_tasks()
        await _until(lambda: len(orgs.requests) >= 3)
        assert not task.done() and app.state.token_verifier.revoked.hashes == frozenset()
        orgs.failure = None
        await _until(lambda: app.state.token_verifier.revoked.hashes == {REVOKED})
    assert task.cancelled()


async def test_no_background_polling_when_it_is_off(database_url: str) -> None:
    orgs = Orgs()
    app = _app(database_url, orgs, 0)
    async with app.router.lifespan_context(app):
        assert _revocation_tasks() == []
        assert await app.state.revocation.refresh()
        assert app.state.token_verifier.revoked.hashes == {REVOKED}
    assert len(orgs.requests) == 1
