"""An erased person's access token stops working everywhere, not only at orgs (which checks its own rows):
catalog, booking and notify verify tokens themselves, so they poll orgs' revoked subjects and refuse the
tokens of anyone on it. Orgs keeps a digest of the person id there, never the id, for one token lifetime."""

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.orgs.models import RevokedSubject
from shared.clients import INTERNAL_SECRET_HEADER
from shared.ids import new_id
from shared.settings import DEV_INTERNAL_SECRET
from tests.support import PASSWORD, Person, assert_problem, internal_url, new_email, register_and_login

INTERNAL = {INTERNAL_SECRET_HEADER: DEV_INTERNAL_SECRET}
REVOKED_SUBJECTS = internal_url("orgs") + "/internal/v1/revoked-subjects"
VERIFYING_THEMSELVES = ("catalog", "booking", "notify")


def _digest(person_id: str) -> str:
    return hashlib.sha256(person_id.encode()).hexdigest()


@pytest.fixture(autouse=True)
def _forget_revocations(apps: dict[str, FastAPI]) -> Iterator[None]:
    """The apps live for the whole run: later tests start again with nobody revoked."""
    yield
    for app in apps.values():
        app.state.token_verifier.revoked.replace(())


async def _refresh(apps: dict[str, FastAPI]) -> None:
    for name in VERIFYING_THEMSELVES:
        assert await apps[name].state.revocation.refresh()


async def _acting_as(client: httpx.AsyncClient, person: Person) -> dict[str, httpx.Response]:
    """One call acting as the person in each service verifying tokens itself."""
    booking = {"session_id": str(new_id())}
    return {
        # An empty body: the token is checked first (401), then the body (422).
        "catalog": await client.post("/v1/activities", json={}, headers=person.headers),
        "booking": await client.get("/v1/bookings", headers=person.headers),
        # A session nobody scheduled: 404 once the token passes.
        "booking create": await client.post(
            "/v1/bookings", json=booking, headers={**person.headers, "Idempotency-Key": str(new_id())}
        ),
        "notify": await client.get("/v1/notifications", headers=person.headers),
    }


def _statuses(responses: dict[str, httpx.Response]) -> dict[str, int]:
    return {call: response.status_code for call, response in responses.items()}


ACCEPTED = {"catalog": 422, "booking": 200, "booking create": 404, "notify": 200}


async def _revoked_rows(apps: dict[str, FastAPI]) -> list[tuple[str, datetime, datetime]]:
    async with apps["orgs"].state.database.sessionmaker() as session:
        rows = await session.execute(
            text("SELECT subject_hash, revoked_at, expires_at FROM orgs.revoked_subjects ORDER BY subject_hash")
        )
        return [(row.subject_hash, row.revoked_at, row.expires_at) for row in rows]


async def test_an_erased_persons_token_is_refused_by_every_service(
    client: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    person = await register_and_login(client, new_email("revoked"))
    other = await register_and_login(client, new_email("kept"))
    # Both tokens work everywhere (and each service now has them in its cache of verified tokens).
    assert _statuses(await _acting_as(client, person)) == ACCEPTED
    assert _statuses(await _acting_as(client, other)) == ACCEPTED
    assert await _revoked_rows(apps) == []

    erased = await client.request("DELETE", "/v1/me", json={"password": PASSWORD}, headers=person.headers)
    assert erased.status_code == 204, erased.text

    # Orgs holds the digest of the id, never the id, until the last token issued before could expire.
    [(digest, revoked_at, expires_at)] = await _revoked_rows(apps)
    assert digest == _digest(person.id)
    settings = apps["orgs"].state.settings
    assert expires_at - revoked_at == timedelta(seconds=settings.access_token_ttl_s + settings.jwt_leeway_s)
    assert revoked_at <= datetime.now(UTC) < expires_at

    # The list is for services only.
    assert_problem(await client.get(REVOKED_SUBJECTS), 401)
    assert_problem(await client.get(REVOKED_SUBJECTS, headers={INTERNAL_SECRET_HEADER: "a guess"}), 401)
    listed = await client.get(REVOKED_SUBJECTS, headers=INTERNAL)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"subject_hashes": [_digest(person.id)], "refresh_after_s": 0.0}
    assert "revoked-subjects" not in str((await client.get("/openapi/orgs.json")).json()["paths"])

    # Until a service has polled, it still takes the token; once it has, the token is refused, cached or not.
    assert (await client.get("/v1/bookings", headers=person.headers)).status_code == 200
    await _refresh(apps)
    for call, response in (await _acting_as(client, person)).items():
        body = assert_problem(response, 401)
        assert body["detail"] == "Token revoked", call
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"', call
    # And at orgs, which needs no list.
    assert_problem(await client.get("/v1/me", headers=person.headers), 401)

    # Everyone else's tokens keep working.
    assert _statuses(await _acting_as(client, other)) == ACCEPTED
    assert (await client.get("/v1/me", headers=other.headers)).status_code == 200


async def test_expired_revocations_are_not_listed_and_go_at_the_next_erasure(
    client: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    now = datetime.now(UTC)
    expired = RevokedSubject(subject_hash="a" * 64, revoked_at=now - timedelta(hours=1), expires_at=now)
    current = RevokedSubject(subject_hash="b" * 64, revoked_at=now, expires_at=now + timedelta(minutes=5))
    async with apps["orgs"].state.database.sessionmaker.begin() as session:
        session.add_all([expired, current])
    listed = await client.get(REVOKED_SUBJECTS, headers=INTERNAL)
    assert listed.json()["subject_hashes"] == ["b" * 64]

    person = await register_and_login(client, new_email("later"))
    erased = await client.request("DELETE", "/v1/me", json={"password": PASSWORD}, headers=person.headers)
    assert erased.status_code == 204, erased.text
    assert sorted(row[0] for row in await _revoked_rows(apps)) == sorted(["b" * 64, _digest(person.id)])

    # Services take the list as it is now: a subject no longer listed is accepted again.
    await _refresh(apps)
    assert apps["booking"].state.token_verifier.revoked.hashes == {"b" * 64, _digest(person.id)}
    async with apps["orgs"].state.database.sessionmaker.begin() as session:
        await session.execute(text("DELETE FROM orgs.revoked_subjects"))
    await _refresh(apps)
    assert apps["booking"].state.token_verifier.revoked.hashes == frozenset()


async def test_orgs_verifies_against_its_own_rows_and_polls_nothing(apps: dict[str, FastAPI]) -> None:
    assert apps["orgs"].state.revocation is None
    for name in VERIFYING_THEMSELVES:
        assert apps[name].state.revocation.subjects is apps[name].state.token_verifier.revoked
