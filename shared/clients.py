"""Calls to other services: timeouts, bounded retries with backoff and jitter, a 503 problem when down."""

import hmac
import time
from typing import Annotated, Any

import httpx
from fastapi import Depends, Header, Request
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from shared.errors import NotFound, ServiceUnavailable, Unauthorized
from shared.middleware import REQUEST_ID_HEADER, request_id_var
from shared.settings import ServiceSettings

INTERNAL_SECRET_HEADER = "X-Learncity-Internal"
_RETRYABLE_STATUSES = {502, 503, 504}
# Peers found down lately (base URL -> until when, monotonic seconds). While a peer is, a call makes one
# attempt instead of retrying with backoff: callers get their 503 at once rather than after the backoff,
# and since every call still tries, the peer's return is noticed at once too.
_DOWN_FOR_S = 10.0
_down_until: dict[str, float] = {}


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"status {response.status_code}")
        self.response = response


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError | _RetryableStatus)


def new_http_client(settings: ServiceSettings, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.http_timeout_s, connect=min(1.0, settings.http_timeout_s)),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        transport=transport,
    )


class ServiceClient:
    """A client for one peer service's internal API."""

    def __init__(self, service: str, base_url: str, settings: ServiceSettings, http: httpx.AsyncClient) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self._http = http
        self._attempts = settings.http_retries + 1
        self._secret = settings.internal_secret.get_secret_value()

    def _headers(self) -> dict[str, str]:
        headers = {INTERNAL_SECRET_HEADER: self._secret}
        request_id = request_id_var.get()
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        return headers

    async def request(self, method: str, path: str, *, json: Any = None, params: Any = None) -> httpx.Response:
        """Send with retries on transport errors and 502/503/504; raise ServiceUnavailable when exhausted.
        A peer that was down within `_DOWN_FOR_S` gets one attempt, no retries."""
        recently_down = _down_until.get(self.base_url, 0.0) > time.monotonic()
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(1 if recently_down else self._attempts),
                # 50 ms, 100 ms, ... (+ up to 50 ms jitter): tenacity's default jitter of up to 1 s would
                # turn a peer that is plainly down into a one-second wait instead of a fast 503.
                wait=wait_exponential_jitter(multiplier=0.05, max=0.5, jitter=0.05),
                retry=retry_if_exception(_is_retryable),
                reraise=True,
            ):
                with attempt:
                    response = await self._http.request(
                        method, self.base_url + path, json=json, params=params, headers=self._headers()
                    )
                    if response.status_code in _RETRYABLE_STATUSES:
                        raise _RetryableStatus(response)
                    if recently_down:
                        _down_until.pop(self.base_url, None)
                    return response
        except (httpx.TransportError, _RetryableStatus) as exc:
            _down_until[self.base_url] = time.monotonic() + _DOWN_FOR_S
            raise ServiceUnavailable(f"The {self.service} service is unavailable; try again shortly") from exc
        raise AssertionError("unreachable")  # pragma: no cover - AsyncRetrying either returns or raises

    async def get_json(self, path: str, *, params: Any = None) -> Any:
        """GET a JSON resource; NotFound on 404, ServiceUnavailable on any other failure."""
        response = await self.request("GET", path, params=params)
        if response.status_code == 404:
            raise NotFound(f"Not found at {self.service}")
        if response.status_code != 200:
            raise ServiceUnavailable(f"The {self.service} service answered {response.status_code}")
        return response.json()


def _require_internal(
    request: Request,
    secret: Annotated[str | None, Header(alias=INTERNAL_SECRET_HEADER, include_in_schema=False)] = None,
) -> None:
    settings: ServiceSettings = request.app.state.settings
    expected = settings.internal_secret.get_secret_value()
    if secret is None or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise Unauthorized("Internal endpoint: service credentials required")


InternalCaller = Depends(_require_internal)
