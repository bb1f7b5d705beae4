"""Booking's copy of sessions: fetched from the catalog's internal API on a miss; a fast 503 when the
catalog is down; a 404 when the catalog does not know the session."""

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from services.booking.app import create_app
from services.booking.settings import BookingSettings
from shared.clients import INTERNAL_SECRET_HEADER
from shared.events.schemas import SessionSnapshot
from shared.ids import new_id
from tests.booking.conftest import Mint, availability, book, minutes_from_now
from tests.support import InProcessTransport, assert_problem, internal_url


class StubCatalog:
    """The catalog's `GET /internal/v1/sessions/{id}`, or a catalog that is down."""

    def __init__(self) -> None:
        self.sessions: dict[UUID, SessionSnapshot] = {}
        self.calls = 0
        self.down = False
        self.refused = 0
        self.app = FastAPI()

        @self.app.get("/internal/v1/sessions/{session_id}")
        async def snapshot(session_id: UUID) -> JSONResponse:
            self.calls += 1
            found = self.sessions.get(session_id)
            if found is None:
                return JSONResponse({"detail": "not found"}, status_code=404)
            return JSONResponse(found.model_dump(mode="json"))

    def add(self, **changes: Any) -> SessionSnapshot:
        starts_at = minutes_from_now(24 * 60)
        snapshot = SessionSnapshot(
            session_id=new_id(),
            activity_id=new_id(),
            host_org_id=new_id(),
            site_id=new_id(),
            title={"en": "Night at the museum"},
            kind="exhibition",
            starts_at=starts_at,
            ends_at=minutes_from_now(25 * 60),
            capacity=2,
            status="scheduled",
            booking_opens_at=None,
            booking_closes_at=None,
        ).model_copy(update=changes)
        self.sessions[snapshot.session_id] = snapshot
        return snapshot


class Routes(httpx.AsyncBaseTransport):
    def __init__(self, apps: dict[str, FastAPI], catalog: StubCatalog) -> None:
        self._apps = InProcessTransport(apps)
        self._catalog = catalog

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != "catalog.internal":
            return await self._apps.handle_async_request(request)
        if self._catalog.down:
            self._catalog.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        assert request.headers[INTERNAL_SECRET_HEADER]
        return await httpx.ASGITransport(app=self._catalog.app).handle_async_request(request)


@pytest.fixture
def stub_catalog() -> StubCatalog:
    return StubCatalog()


@pytest.fixture
async def booking_client(
    apps: dict[str, FastAPI], database_url: str, stub_catalog: StubCatalog
) -> AsyncIterator[httpx.AsyncClient]:
    settings = BookingSettings(
        environment="test",
        database_url=database_url,
        orgs_url=internal_url("orgs"),
        catalog_url=internal_url("catalog"),
        relay_enabled=False,
        janitor_interval_s=0,
        log_level="WARNING",
    )
    app = create_app(settings, http_transport=Routes(apps, stub_catalog))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://booking.test") as client:
            yield client


async def test_an_unknown_session_is_fetched_from_the_catalog_once(
    booking_client: httpx.AsyncClient, stub_catalog: StubCatalog, mint: Mint
) -> None:
    session = stub_catalog.add(capacity=1)
    first = await book(booking_client, mint(), session.session_id)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "confirmed"
    second = await book(booking_client, mint(), session.session_id)
    assert second.json()["status"] == "waitlisted"
    assert stub_catalog.calls == 1  # stored as if its event had come
    figures = await availability(booking_client, session.session_id)
    assert (figures["capacity"], figures["confirmed_seats"], figures["waitlist_length"]) == (1, 1, 1)


async def test_a_session_the_catalog_does_not_know_is_404(
    booking_client: httpx.AsyncClient, stub_catalog: StubCatalog, mint: Mint
) -> None:
    assert_problem(await book(booking_client, mint(), new_id()), 404)
    assert stub_catalog.calls == 1


async def test_a_fetched_cancelled_session_is_409(
    booking_client: httpx.AsyncClient, stub_catalog: StubCatalog, mint: Mint
) -> None:
    session = stub_catalog.add(status="cancelled")
    assert_problem(await book(booking_client, mint(), session.session_id), 409)


async def test_catalog_down_and_session_unknown_is_a_fast_503(
    booking_client: httpx.AsyncClient, stub_catalog: StubCatalog, mint: Mint
) -> None:
    session = stub_catalog.add()
    stub_catalog.down = True
    person = mint()
    response = await book(booking_client, person, session.session_id, key="during-outage")
    assert_problem(response, 503)
    assert int(response.headers["retry-after"]) >= 1
    assert stub_catalog.refused == BookingSettings().http_retries + 1  # bounded retries, never a hang
    # The key was released: the same request succeeds once the catalog is back.
    stub_catalog.down = False
    retried = await book(booking_client, person, session.session_id, key="during-outage")
    assert retried.status_code == 201, retried.text


async def test_a_known_session_needs_no_catalog(
    booking_client: httpx.AsyncClient, stub_catalog: StubCatalog, mint: Mint
) -> None:
    session = stub_catalog.add(capacity=5)
    await book(booking_client, mint(), session.session_id)
    stub_catalog.down = True
    assert (await book(booking_client, mint(), session.session_id)).status_code == 201
