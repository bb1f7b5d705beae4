"""Test plumbing: every service app in-process, reachable as one base URL and from each other."""

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from starlette.types import ASGIApp

from shared.topology import owner_of


class InProcessTransport(httpx.AsyncBaseTransport):
    """Routes `http://<service>.internal/...` (service-to-service) by host and anything else by the
    gateway's route table, straight into the ASGI apps."""

    def __init__(self, apps: Mapping[str, ASGIApp]) -> None:
        self._apps = apps  # looked up per request: apps may be added after the transport is made

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        service = host.removesuffix(".internal") if host.endswith(".internal") else owner_of(request.url.path)
        if service is None or service not in self._apps:
            return httpx.Response(404, json={"detail": f"no service for {request.url}"})
        transport = httpx.ASGITransport(app=self._apps[service], client=("203.0.113.7", 50000))
        return await transport.handle_async_request(request)


def internal_url(service: str) -> str:
    return f"http://{service}.internal"


@dataclass
class Person:
    id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


PASSWORD = "correct horse battery staple"
_emails = itertools.count()


def new_email(label: str = "person") -> str:
    return f"{label}{next(_emails)}@example.org"


async def register_and_login(client: httpx.AsyncClient, email: str, display_name: str = "Test Person") -> Person:
    response = await client.post(
        "/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": display_name}
    )
    assert response.status_code == 201, response.text
    token = await client.post("/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return Person(id=response.json()["id"], email=email, token=token.json()["access_token"])


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["title"] and isinstance(body["detail"], str)
    assert "Traceback" not in response.text
    return body
